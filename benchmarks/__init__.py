"""Benchmarks: they print figures and ratios; they are not tests."""

from __future__ import annotations

import os


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages and its cores, to read figures by."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"
