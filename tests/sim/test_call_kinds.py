"""What a call site runs (sim.interp.calls.CallKind), and what each kind
does when executed."""

from __future__ import annotations

import re

import pytest

from sim.faults import NotModelled
from sim.interp.calls import CallKind, call_kind
from sim.interp.machine import Program
from sim.kernel import PRIMITIVES

from .conftest import MemTree, run_c

SOURCE = """
static int twice(int x)
{
	return x * 2;
}

static int pair(int a, int b)
{
	return a - b;
}
"""


def test_each_callee_has_its_kind() -> None:
    program = Program(MemTree({"mm/memory.c": SOURCE}))
    twice = program.function("twice")
    assert twice is not None
    assert call_kind(twice, 1) is CallKind.SOURCE
    assert call_kind(twice, 2) is CallKind.REFUSED
    assert call_kind(PRIMITIVES["swp_offset"], 1) is CallKind.PRIMITIVE
    assert call_kind(PRIMITIVES["swp_offset"], 3) is CallKind.REFUSED
    assert call_kind(PRIMITIVES["max_t"], 3) is CallKind.LAZY
    assert call_kind(PRIMITIVES["max_t"], 2) is CallKind.REFUSED


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("return twice(21);", 42),  # SOURCE, one argument
        ("return pair(50, 8);", 42),  # SOURCE, two arguments
        ("return max_t(int, 40, 42);", 42),  # LAZY
        ("return swp_offset(swp_entry(1, 42));", 42),  # PRIMITIVE, two arguments
        ("return non_swap_entry(swp_entry(30, 1));", 1),  # a C truth value as 1
    ],
)
def test_each_kind_runs(body: str, expected: int) -> None:
    source = SOURCE + "\nint entry(void)\n{\n\t" + body + "\n}\n"
    assert run_c(source, "entry") == expected


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("return twice(1, 2);", "call of twice with 2 arguments"),
        ("return max_t(1, 2);", "signature differs: max_t() called with 2 arguments"),
        ("return frobnicate(1);", "frobnicate() is unknown"),
    ],
)
def test_refused_and_unknown_calls_are_not_modelled(body: str, reason: str) -> None:
    source = SOURCE + "\nint entry(void)\n{\n\t" + body + "\n}\n"
    with pytest.raises(NotModelled, match=re.escape(reason)):
        run_c(source, "entry")
