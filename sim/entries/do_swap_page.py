"""do_swap_page(): a swap-in fault on a PTE holding a swap entry.

The case builds the world and the ``struct vm_fault`` handle_pte_fault()
passes (``sim.scenarios.spec.build``); the scenarios are the modules of
``sim/scenarios/`` and the invariants those of ``sim/invariants.py``, kept
where they were so that everything written against them still works.
"""

from __future__ import annotations

from typing import Any

from sim.faults import Kind
from sim.interp.machine import SOURCE_FILES, Program
from sim.runner import Execution
from sim.runner import execute as execute_fault
from sim.scenarios import Scenario, all_scenarios
from sim.scenarios.spec import Spec

NAME = "do_swap_page"
FILES = SOURCE_FILES
BACKS = {
    Kind.SMEARED_BIT.value: "batch-bit-uniformity",
    Kind.STALE_POINTER.value: "stale-pointer",
    Kind.NULL.value: "unchecked-null-pte",
    Kind.OUT_OF_BOUNDS.value: "batch-bounds",
    Kind.WRONG_COUNT.value: "incomplete-batch-conversion",
}


def scenarios() -> dict[str, Scenario]:
    return all_scenarios()


def check(spec: Any) -> None:
    """Raise ValueError for a case that cannot be built (--order 99)."""
    from sim.scenarios.spec import build

    build(spec)


def execute(
    program: Program, spec: Any, function: str = NAME, max_steps: int = 100_000
) -> Execution:
    assert isinstance(spec, Spec)
    return execute_fault(program, spec, function, max_steps)
