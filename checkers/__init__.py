"""Semantic C checkers for mm patches: one module per checker, shared analyses."""
