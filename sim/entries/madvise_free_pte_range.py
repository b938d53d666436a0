"""madvise_free_pte_range(): MADV_FREE over the PTEs of one PMD.

Executed from the tree's mm/madvise.c with the helpers it calls there and in
mm/internal.h and mm/memory.c (madvise_folio_pte_batch(), folio_pte_batch(),
swap_pte_batch(), vm_normal_folio()).  The call is the one walk_page_range()
makes: ``madvise_free_pte_range(pmd, addr, end, walk)``, ``walk->private``
the mmu_gather.  Cases: ``sim/entries/madvise_spec.py``; afterwards young
and dirty are cleared exactly on the PTEs of exclusive folios advised whole
(or split), swap entries in the range are dropped and freed once, nothing
outside [addr, end) changed, the folios' locks and references are back, and
the PTL and map were released (a PTE used after its table was unmapped, or
through a NULL re-map, fails as it runs).
"""

from __future__ import annotations

from typing import Any

from sim.entries.madvise_spec import BACKS, FILES, MadvSpec, build, run_walk
from sim.interp.machine import Program
from sim.runner import Execution
from sim.scenarios import Scenario

NAME = "madvise_free_pte_range"
__all__ = ["BACKS", "FILES", "NAME", "check", "execute", "scenarios"]


def scenarios() -> dict[str, Scenario]:
    from sim.entries.madvise_scenarios import FREE

    return FREE


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
        lambda built: built.tlb,
        ("young", "dirty"),
        frees_swap=True,
        exclusive_only=spec.folio_dirty,
    )
