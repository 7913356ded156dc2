"""Lets pytest import `rasa_handoff_example` from this folder when the package is not installed.

pytest puts the folder of a conftest.py that is in no package on sys.path,
so running the tests from a checkout needs no install; installed, the
package is found either way.
"""
