"""Benchmarks of rasa-handoff's hot paths, each against a baseline measured in the same run.

Run one with `python -m benchmarks.<name>` (see README.md beside this file).
Nothing here asserts a timing: the figures are printed for people to read.
"""
