"""change_pte_range(): mprotect() and uffd-wp protect/resolve over one PTE table.

Executed from the tree's mm/mprotect.c with can_change_pte_writable() and
the helpers it calls in mm/memory.c (vm_normal_page()) and
include/linux/userfaultfd_k.h (userfaultfd_pte_wp(),
userfaultfd_wp_use_markers()).  The call is the one change_pmd_range()
makes: ``change_pte_range(tlb, vma, pmd, addr, end, newprot, cp_flags)``.
Cases: ``sim/entries/change_spec.py``.  Afterwards: every present PTE of
[addr, end) maps the same page with its accessed, dirty and soft-dirty
bits; uffd-wp is set (protect) or cleared (resolve) on every PTE and swap
entry, markers installed on none PTEs of a file VMA (protect) or dropped
(resolve); a PTE is writable only where the new protection or
can_change_pte_writable()'s rules allow (never with uffd-wp, never a shared
anonymous page, never a clean shared-mapping page, never one that soft-dirty
tracking must fault on); writable migration entries became readable; the
count returned is what changed; nothing outside [addr, end); PTL released.
"""

from __future__ import annotations

from typing import Any

from sim.entries.change_spec import ChangeSpec, build, check_change
from sim.entries.common import PTE_WALK_BACKS, run_call
from sim.interp.machine import Program
from sim.runner import Execution
from sim.scenarios import Scenario

NAME = "change_pte_range"
FILES = ("mm/mprotect.c", "mm/internal.h", "mm/memory.c", "include/linux/userfaultfd_k.h")
BACKS = dict(PTE_WALK_BACKS)


def scenarios() -> dict[str, Scenario]:
    from sim.entries.change_scenarios import SCENARIOS

    return SCENARIOS


def check(spec: Any) -> None:
    build(spec)


def execute(
    program: Program, spec: Any, function: str = NAME, max_steps: int = 100_000
) -> Execution:
    assert isinstance(spec, ChangeSpec)
    built = build(spec)
    before = list(built.world.table(built.pmd.index).entries)
    args = [built.tlb, built.vma, built.pmd, built.addr, built.end, built.newprot, built.cp_flags]
    return run_call(
        program,
        built.world,
        spec,
        function,
        args,
        max_steps,
        lambda ret, m: check_change(built, before, ret, m),
    )
