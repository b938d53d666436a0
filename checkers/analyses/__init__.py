"""Analyses shared by the checkers, computed once per function (see context.py)."""
