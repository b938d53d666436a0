"""The invariants' fast path (sim.invariants.plainly_mapped) accepts only
changes in which the general, change-by-change check
(sim.invariants.first_bad_change) finds nothing, and it does accept the
plain large-folio swap-in it exists for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import invariants
from sim.generate import specs
from sim.interp.machine import Machine, Program
from sim.kernel.constants import VM_WRITE
from sim.model.mm import PAGE_SIZE, PMD_SIZE, Folio
from sim.model.pte import PTE_NONE, Pte, SwapEntry
from sim.runner import call_guarded
from sim.scenarios.spec import Spec, build
from sim.tree import DirectoryTree

pytestmark = pytest.mark.kernel_tree

SETTINGS = settings(
    max_examples=80,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
EDITS = (
    "pfn",
    "soft_dirty",
    "uffd_wp",
    "write",
    "old_exclusive",
    "old_offset",
    "new_kind",
    "old_kind",
    "address_pmd",
    "address_vma",
)
WORLD_EDITS = ("shared_entry", "shared_folio", "read_only", "second_folio", "no_folio")


@pytest.fixture(scope="module")
def program(kernel_tree: Path) -> Program:
    return Program(DirectoryTree(kernel_tree))


def _fault(program: Program, spec: Spec) -> tuple[Any, invariants.Fault, list[invariants.Change]]:
    built = build(spec)
    world = built.world
    before = invariants.snapshot(world)
    ret, _ = call_guarded(Machine(program, world), spec, "do_swap_page", [built.vmf])
    fault = invariants.Fault(built.vmf.address, ret or 0, spec.write, False)
    return world, fault, invariants.changes(before, invariants.snapshot(world))


def _edit(world: Any, changed: list[invariants.Change], k: int, what: str) -> None:
    addr, old, new = changed[k]
    if what == "pfn":
        new = new.set(pfn=new.pfn + 1)
    elif what in ("soft_dirty", "uffd_wp", "write"):
        new = new.set(**{what: not getattr(new, what)})
    elif what == "old_exclusive":
        old = old.set(exclusive=not old.exclusive)
    elif what == "old_offset":
        old = old.set(swp_offset=old.swp_offset + 700)
    elif what == "new_kind":
        new = old
    elif what == "old_kind":
        old = PTE_NONE
    elif what == "address_pmd":
        addr += PMD_SIZE
    elif what == "address_vma":
        addr = world.vma.vm_end + k * PAGE_SIZE
    changed[k] = (addr, old, new)


def _edit_world(world: Any, changed: list[invariants.Change], what: str) -> None:
    if what == "shared_entry" and changed:
        world.external_swap_refs[changed[0][1].swp_offset] = 1
    elif what == "shared_folio" and world.folios:
        world.external_folio_refs[id(world.folios[0])] = 1
    elif what == "read_only":
        world.vma.vm_flags &= ~VM_WRITE
    elif what == "second_folio":
        other = Folio(0x9000, 0)
        other.swap = SwapEntry(world.swap.type, 0x7000)
        world.folios.append(other)
    elif what == "no_folio":
        world.folios.clear()


def test_the_fast_path_accepts_only_what_the_general_check_accepts(program: Program) -> None:
    verdicts: list[tuple[bool, bool]] = []

    @SETTINGS
    @given(
        specs(),
        st.lists(st.tuples(st.integers(0, 511), st.sampled_from(EDITS)), max_size=3),
        st.lists(st.sampled_from(WORLD_EDITS), max_size=2),
    )
    def one(spec: Spec, edits: list[tuple[int, str]], world_edits: list[str]) -> None:
        world, fault, changed = _fault(program, spec)
        for k, what in edits:
            if changed:
                _edit(world, changed, k % len(changed), what)
        for what in world_edits:
            _edit_world(world, changed, what)
        fast = invariants.plainly_mapped(world, fault, changed)
        general = invariants.first_bad_change(world, fault, changed)
        if fast:
            assert general is None
        verdicts.append((fast, general is None))

    one()
    # Both ways were taken, and some violations were found.
    assert {fast for fast, _ in verdicts} == {True, False}
    assert (False, False) in verdicts


@pytest.mark.parametrize("spec", [Spec(order=9, index=255), Spec(order=4, index=3), Spec()])
def test_a_plain_swap_in_takes_the_fast_path(program: Program, spec: Spec) -> None:
    world, fault, changed = _fault(program, spec)
    assert len(changed) == spec.nr
    assert invariants.plainly_mapped(world, fault, changed)
    assert invariants.first_bad_change(world, fault, changed) is None


@pytest.mark.parametrize(
    ("what", "world_edit"),
    [(edit, "") for edit in EDITS if edit not in ("write", "old_exclusive")]
    + [("write", "read_only"), ("old_exclusive", "shared_folio")],
)
def test_each_violation_in_a_large_swap_in_is_left_to_the_general_check(
    program: Program, what: str, world_edit: str
) -> None:
    world, fault, changed = _fault(program, Spec(order=4, index=3))
    _edit(world, changed, 5, what)
    _edit_world(world, changed, world_edit)
    assert invariants.first_bad_change(world, fault, changed) is not None, what
    assert not invariants.plainly_mapped(world, fault, changed), what


@st.composite
def batches_and_calls(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[Any], bool]:
    """Pages mapped (present or not) and the hook calls made for them."""
    base = 0x100
    pages = draw(st.lists(st.integers(0, 40), max_size=20, unique=True))
    changed = [
        (
            (base + i) << 12,
            PTE_NONE,
            Pte.present(base + i) if draw(st.booleans()) else Pte.swap(SwapEntry(1, i)),
        )
        for i in sorted(pages)
    ]
    calls = draw(
        st.lists(st.tuples(st.integers(base - 5, base + 45), st.integers(1, 50)), max_size=3)
    )
    covered = [(start, start + n) for start, n in calls]
    by_pfn = draw(st.booleans())
    if not by_pfn:
        covered = [(lo << 12, hi << 12) for lo, hi in covered]
    return covered, changed, by_pfn


@SETTINGS
@given(batches_and_calls())
def test_the_hook_fast_path_accepts_only_what_the_general_check_accepts(
    case: tuple[list[tuple[int, int]], list[Any], bool],
) -> None:
    covered, changed, by_pfn = case
    if invariants.one_call_covers(covered, changed, by_pfn):
        assert invariants.first_uncovered(covered, changed, by_pfn) is None


def test_the_hook_fast_path_declines_a_page_outside_the_call() -> None:
    changed: list[Any] = [(0x1000 * i, PTE_NONE, Pte.present(i)) for i in (1, 2, 3)]
    assert invariants.one_call_covers([(1, 4)], changed, True)
    assert not invariants.one_call_covers([(1, 3)], changed, True)
    assert invariants.first_uncovered([(1, 3)], changed, True) == 0x3000
