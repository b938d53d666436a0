"""Benchmarks: they print figures and ratios; they are not tests."""
