"""zap_pte_range(): unmap [addr, end) of one PTE table (munmap, MADV_DONTNEED, exit).

Executed from the tree with the helpers the tree defines for it
(zap_present_ptes(), zap_present_folio_ptes(), zap_install_uffd_wp_if_needed(),
folio_pte_batch(), swap_pte_batch(), and, when the tree has them,
zap_nonpresent_ptes() and friends: 6.12 keeps that branch inline, and
tests/sim/test_zap_pte_range.py runs a tree where it is split out), plus
pte_install_uffd_wp_if_needed()
and the uffd-wp helpers of include/linux/.  The call is the one
zap_pmd_range() makes: ``zap_pte_range(tlb, vma, pmd, addr, end, details)``.

A case lays out one PTE per page from a code string (``sim.entries.zap_spec``):

    P present page of a folio    S swap entry        M migration entry
    H hwpoison entry             W uffd-wp marker    Z the zero page
    - none

Afterwards, for every page of [addr, end): a zapped PTE is none, or a
uffd-wp marker exactly where the PTE had uffd-wp (file VMA registered for
uffd-wp, markers not dropped); every swap entry was freed once; each rss
counter moved by what was zapped; each page zapped lost one mapping and,
once the TLB is flushed, one reference; nothing outside [addr, returned
address) changed; the table lock and map were released.
"""

from __future__ import annotations

from typing import Any

from sim.entries.common import PTE_WALK_BACKS, Violation, run_call, unreleased
from sim.entries.zap_spec import ZapBuilt, ZapSpec, build
from sim.faults import Kind, SimFault
from sim.interp.machine import Machine, Program
from sim.kernel.constants import VM_UFFD_WP
from sim.kernel.zap import tlb_flush_mmu
from sim.model.mm import MM_ANONPAGES, MM_SWAPENTS, PAGE_SHIFT, PAGE_SIZE, PTRS_PER_PTE
from sim.model.pte import PTE_NONE, SWP_PTE_MARKER, Pte
from sim.runner import Execution
from sim.scenarios import Scenario

NAME = "zap_pte_range"
FILES = (
    "mm/memory.c",
    "mm/internal.h",
    "mm/swap.h",
    "include/linux/mm_inline.h",
    "include/linux/userfaultfd_k.h",
)
BACKS = {
    **PTE_WALK_BACKS,
    Kind.SMEARED_BIT.value: "batch-bit-uniformity",
    Kind.WRONG_COUNT.value: "incomplete-batch-conversion",
}


def scenarios() -> dict[str, Scenario]:
    from sim.entries.zap_scenarios import SCENARIOS

    return SCENARIOS


def check(spec: Any) -> None:
    build(spec)


def execute(
    program: Program, spec: Any, function: str = NAME, max_steps: int = 100_000
) -> Execution:
    assert isinstance(spec, ZapSpec)
    built = build(spec)
    before = Before.take(built)
    args = [built.tlb, built.vma, built.pmd, built.addr, built.end, built.details]
    return run_call(
        program,
        built.world,
        spec,
        function,
        args,
        max_steps,
        lambda ret, m: check_zap(built, before, ret, m),
    )


# --- invariants ---------------------------------------------------------------
class Before:
    """What the invariants compare against: PTEs, swap counts, rss, pages."""

    def __init__(self, ptes: list[Pte], swap_map: dict[int, int], counters: dict[int, int]) -> None:
        self.ptes = ptes
        self.swap_map = swap_map
        self.counters = counters
        self.mapcounts: dict[int, list[int]] = {}
        self.refcounts: dict[int, int] = {}

    @staticmethod
    def take(built: ZapBuilt) -> Before:
        world = built.world
        table = world.table(built.pmd.index)
        b = Before(list(table.entries), dict(world.swap.swap_map), dict(world.mm.counters))
        for folio in world.folios:
            b.mapcounts[id(folio)] = list(folio.page_mapcount)
            b.refcounts[id(folio)] = folio.refcount
        return b


def _uffd_wp_any(pte: Pte) -> bool:
    """pte_uffd_wp() of a present PTE, pte_swp_uffd_wp_any() of a swap PTE."""
    if pte.kind == "swap" and pte.swp_type == SWP_PTE_MARKER:
        return bool(pte.swp_offset & 1)
    return pte.uffd_wp


def expected_after(built: ZapBuilt, i: int, old: Pte) -> tuple[Pte, bool]:
    """(the PTE page ``i`` of the layout must hold once zapped, zapped at all)."""
    known = built.expected.get(i)
    if known is None:
        known = built.expected[i] = _expected_after(built, i, old)
    return known


def _expected_after(built: ZapBuilt, i: int, old: Pte) -> tuple[Pte, bool]:
    spec = built.spec
    code = spec.code(i)
    file_vma = spec.vma != "anon"
    keep_cows = spec.details == "keep-cows"
    drop = spec.details == "drop-markers"
    marker = Pte.swap(built.marker_entry)
    if code == "-":
        return old, False
    if code == "W" and file_vma and not drop:
        return old, False  # a file VMA keeps its markers unless asked to drop them
    if keep_cows and (code in {"S", "H"} or (code in "PM" and built.folio_at(i).f.anon)):
        return old, False  # should_zap_cows()/should_zap_folio(): not ours to drop
    uffd = bool(built.vma.vm_flags & VM_UFFD_WP)
    if file_vma and uffd and not drop and code != "W" and _uffd_wp_any(old):
        return marker, True
    return PTE_NONE, True


def check_zap(built: ZapBuilt, before: Before, ret: int, m: Machine) -> list[Violation]:
    found: list[Violation] = []
    for fn in (_locks, _range, _counts):
        found.extend(fn(built, before, ret, m))
        if found:
            break
    if not found:
        found.extend(_pages(built, before, ret, m))
    return found[:3]


def _locks(built: ZapBuilt, before: Before, ret: int, m: Machine) -> list[Violation]:
    world = built.world
    held = unreleased(world)
    if held:
        return held
    if world.swap.refs:
        return [Violation(Kind.LOCK, "returned without put_swap_device()")]
    if built.tlb.delayed_rmap:
        return [
            Violation(
                Kind.WRONG_COUNT,
                "returned with rmap removals still delayed in the mmu_gather "
                "(tlb_flush_rmaps() must run before the PTL is dropped)",
            )
        ]
    return []


def _range(built: ZapBuilt, before: Before, ret: int, m: Machine) -> list[Violation]:
    """Each PTE of the table against what zapping [addr, ret) must leave."""
    spec = built.spec
    addr, end = built.addr, built.end
    early = spec.tlb_room or spec.resched_at or spec.race
    if not (addr <= ret <= end) or ret % PAGE_SIZE or (ret != end and not early):
        return [
            Violation(
                Kind.OUTSIDE,
                f"returned {ret:#x}, not the end {end:#x} of the range zapped from {addr:#x}",
            )
        ]
    table = built.world.table(built.pmd.index)
    base = table.address(0)
    olds, news = before.ptes, table.entries
    # Every entry of [addr, ret), and any other the walk rewrote: an entry
    # nothing stored to is the very object it was.
    lo, hi = _index(addr), _index(addr) + ((ret - addr) >> PAGE_SHIFT)
    changed = [i for i in range(PTRS_PER_PTE) if olds[i] is not news[i] and not lo <= i < hi]
    for idx in [*changed, *range(lo, hi)]:
        old, new = olds[idx], news[idx]
        a = base + (idx << PAGE_SHIFT)
        if not addr <= a < ret:
            if old != new:
                return [
                    Violation(
                        Kind.OUTSIDE,
                        f"the PTE at {a:#x}, outside the range zapped [{addr:#x}, {ret:#x}), "
                        f"went from {old.describe()} to {new.describe()}",
                        a,
                    )
                ]
            continue
        i = (a - built.first) >> PAGE_SHIFT
        want, _ = expected_after(built, i, old) if 0 <= i < len(spec.pages) else (PTE_NONE, True)
        if new == want:
            continue
        is_marker = new.kind == "swap" and new.swp_type == SWP_PTE_MARKER
        if want != old and (is_marker or want.kind == "swap"):
            had = "had uffd-wp" if _uffd_wp_any(old) else "had no uffd-wp"
            got = "a uffd-wp marker" if is_marker else new.describe()
            wanted = "a uffd-wp marker" if want.kind == "swap" else "none"
            return [
                Violation(
                    Kind.SMEARED_BIT,
                    f"the PTE at {a:#x} ({old.describe()}) {had} but was left {got}, "
                    f"not {wanted} (a batch's uffd-wp bit applied to all its entries)",
                    a,
                )
            ]
        return [
            Violation(
                Kind.WRONG_PAGE,
                f"the PTE at {a:#x} in the range zapped went from {old.describe()} "
                f"to {new.describe()}, not {want.describe()}",
                a,
            )
        ]
    return []


def _zapped(built: ZapBuilt, before: Before, ret: int) -> list[int]:
    """Layout indexes of the pages zap was to drop within [addr, ret)."""
    first = built.first
    out = []
    for i in range(len(built.spec.pages)):
        a = first + i * PAGE_SIZE
        if built.addr <= a < ret and expected_after(built, i, before.ptes[_index(a)])[1]:
            out.append(i)
    return out


def _index(a: int) -> int:
    return (a >> PAGE_SHIFT) % PTRS_PER_PTE


def _counts(built: ZapBuilt, before: Before, ret: int, m: Machine) -> list[Violation]:
    """Swap entries freed once each, and the rss counters."""
    world = built.world
    si = world.swap
    freed: dict[int, int] = {}
    rss = dict.fromkeys(before.counters, 0)
    for i in _zapped(built, before, ret):
        code = built.spec.code(i)
        old = before.ptes[_index(built.first + i * PAGE_SIZE)]
        if code == "S":
            freed[old.swp_offset] = freed.get(old.swp_offset, 0) + 1
            rss[MM_SWAPENTS] -= 1
        elif code in "PM":
            rss[built.counter_of(i)] -= 1
    for off in sorted(set(before.swap_map) | set(si.swap_map)):
        was, now = before.swap_map.get(off, 0), si.swap_map.get(off, 0)
        want = was - freed.get(off, 0)
        if now != want:
            how = "freed twice" if now < want else "not freed"
            if now < want and freed.get(off, 0) == 0:
                how = "freed although its PTE was not zapped"
            return [
                Violation(
                    Kind.WRONG_COUNT,
                    f"swap entry {off:#x} {how}: swap_map {was} -> {now}, expected {want}",
                    built.first + (off - built.swap_base) * PAGE_SIZE,
                    "swap_free",
                )
            ]
    names = {0: "MM_FILEPAGES", MM_ANONPAGES: "MM_ANONPAGES", MM_SWAPENTS: "MM_SWAPENTS"}
    for member, delta in rss.items():
        moved = world.mm.counters[member] - before.counters[member]
        if moved != delta:
            name = names.get(member, "MM_SHMEMPAGES")
            return [
                Violation(
                    Kind.WRONG_COUNT,
                    f"{name} moved by {moved:+d}, but the PTEs zapped account for {delta:+d}",
                )
            ]
    return []


def _pages(built: ZapBuilt, before: Before, ret: int, m: Machine) -> list[Violation]:
    """Mapcounts, then references once the mmu_gather is flushed (tlb_finish_mmu())."""
    world = built.world
    drop: dict[int, int] = {}  # pfn -> its PTEs zapped
    for i in _zapped(built, before, ret):
        if built.spec.code(i) == "P":
            pfn = built.pfn_at(i)
            drop[pfn] = drop.get(pfn, 0) + 1
    lost: dict[int, int] = {}
    for folio in world.folios:
        for page, count in zip(folio.pages, before.mapcounts[id(folio)], strict=True):
            want = count - drop.get(page.pfn, 0)
            if page.mapcount != want:
                return [
                    Violation(
                        Kind.WRONG_COUNT,
                        f"mapcount of page {page.idx} of the folio at pfn {folio.pfn:#x} is "
                        f"{page.mapcount}, expected {want} (one removed per PTE zapped)",
                        built.address_of_pfn(page.pfn),
                        "rmap_remove",
                    )
                ]
            lost[id(folio)] = lost.get(id(folio), 0) + drop.get(page.pfn, 0)
    try:
        tlb_flush_mmu(m, built.tlb)  # what tlb_finish_mmu() does after the walk
    except SimFault as exc:
        return [Violation(exc.kind, exc.message)]
    for folio in world.folios:
        want = before.refcounts[id(folio)] - lost.get(id(folio), 0)
        if folio.refcount != want:
            return [
                Violation(
                    Kind.WRONG_COUNT,
                    f"the folio at pfn {folio.pfn:#x} holds {folio.refcount} references "
                    f"after the TLB flush, expected {want} (one dropped per PTE zapped)",
                    -1,
                    "tlb_gather",
                )
            ]
    return []
