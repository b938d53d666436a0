"""madvise_cold_or_pageout_pte_range(): MADV_COLD or MADV_PAGEOUT over one PMD's PTEs.

Executed from the tree's mm/madvise.c with the helpers it calls there and in
mm/internal.h and mm/memory.c.  The call is the one walk_page_range()
makes: ``madvise_cold_or_pageout_pte_range(pmd, addr, end, walk)``,
``walk->private`` a ``struct madvise_walk_private`` (tlb, pageout).
Cases: ``sim/entries/madvise_spec.py``.  Afterwards MADV_COLD has cleared
young (never dirty) exactly on the PTEs of exclusive folios advised whole (or
split), MADV_PAGEOUT has cleared neither; nothing outside [addr, end)
changed; isolated folios went back with their references; locks, PTL and
map were released.  reclaim_pages() stands for a reclaim that frees nothing.
"""

from __future__ import annotations

from typing import Any

from sim.entries.madvise_spec import BACKS, FILES, MadviseWalkPrivate, MadvSpec, build, run_walk
from sim.interp.machine import Program
from sim.runner import Execution
from sim.scenarios import Scenario

NAME = "madvise_cold_or_pageout_pte_range"
__all__ = ["BACKS", "FILES", "NAME", "check", "execute", "scenarios"]


def scenarios() -> dict[str, Scenario]:
    from sim.entries.madvise_scenarios import COLD

    return COLD


def check(spec: Any) -> None:
    build(spec)


def execute(
    program: Program, spec: Any, function: str = NAME, max_steps: int = 100_000
) -> Execution:
    assert isinstance(spec, MadvSpec)
    return run_walk(
        program,
        spec,
        function,
        max_steps,
        lambda built: MadviseWalkPrivate(built.tlb, built.spec.pageout),
        () if spec.pageout else ("young",),
        frees_swap=False,
        exclusive_only=True,
    )
