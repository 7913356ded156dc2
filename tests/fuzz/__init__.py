"""Hostile-input tests: every route of every connector, fed anything, answers below 500."""
