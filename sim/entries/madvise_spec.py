"""A madvise PTE-walk case (MADV_FREE, MADV_COLD, MADV_PAGEOUT) as plain data,
the world it builds, and the invariants both walkers share.

One PTE per page of ``layout`` from ``first`` inside PMD 1, cut in blocks of
``nr`` pages, each block one anonymous folio (its P pages) or one run of
swap slots (its S pages); a present page of a folio outside the model sits
just below and just above the layout and must never change.

    P present page    S swap entry    H hwpoison entry    - none

The walk is the one walk_page_range() makes for one PMD:
``fn(pmd, addr, end, walk)`` with ``walk->private`` the mmu_gather
(MADV_FREE) or a ``struct madvise_walk_private`` (COLD/PAGEOUT).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sim.entries.common import PTE_WALK_BACKS, Violation, run_call, unreleased
from sim.entries.layout import (
    BASE,
    FOLIO_PFN,
    MAX_PAGES,
    OTHER_PFN,
    SWAP_BASE,
    SWAP_TYPE,
    PageLayout,
    check_layout,
    place,
    runs,
)
from sim.faults import Kind
from sim.interp.machine import Machine, Program
from sim.kernel.constants import VM_MAYWRITE, VM_READ, VM_WRITE
from sim.model.mm import (
    MM_ANONPAGES,
    MM_SWAPENTS,
    PAGE_SHIFT,
    PAGE_SIZE,
    PMD_SHIFT,
    PMD_SIZE,
    PTRS_PER_PTE,
    Folio,
    Mm,
    Pmd,
    SpinLock,
    SwapDevice,
)
from sim.model.pte import PTE_NONE, SWP_HWPOISON, Pte, SwapEntry
from sim.model.tlb import FileVma, MmuGather, ZapWorld
from sim.runner import Execution

CODES = "PSH-"
MAX_ORDER = 9  # 9: a THP, PMD-mapped with pmd_mapped
# What both walkers are executed from, and the checkers their failures back.
FILES = ("mm/madvise.c", "mm/internal.h", "mm/memory.c", "mm/swap.h")
BACKS = {**PTE_WALK_BACKS, Kind.SMEARED_BIT.value: "batch-bit-uniformity"}


@dataclass(frozen=True)
class MadvSpec(PageLayout):
    order: int = 4  # pages per folio / block
    index: int = 0  # the page the scenario singles out
    layout: str = ""  # one code per page; "" = one folio of present pages
    start: int = 0  # first page advised
    stop: int = 0  # one past the last page advised; 0 = the whole layout
    young: bool = True  # present PTEs young
    dirty: bool = True  # present PTEs dirty
    shared: bool = False  # every folio is mapped by another mm as well
    locked: bool = False  # the folios are locked elsewhere: folio_trylock() fails
    split_fails: bool = False  # split_folio() fails (-EAGAIN: an extra pin)
    race: str = ""  # "" | table-freed: gone when the walk maps it again after a split
    pageout: bool = False  # MADV_PAGEOUT rather than MADV_COLD
    folio_dirty: bool = False  # PG_dirty on the folios (MADV_FREE clears it under the lock)
    resched_at: int = 0  # need_resched() true from its Nth call
    pmd_mapped: bool = False  # one order-9 folio mapped by the PMD (a THP)

    def describe(self) -> str:
        return describe(self)


class MmWalk:
    """``struct mm_walk``."""

    C_FIELDS = frozenset({"private", "vma", "mm"})

    def __init__(self, private: object, vma: object, mm: object) -> None:
        self.private = private
        self.vma = vma
        self.mm = mm


class MadviseWalkPrivate:
    """``struct madvise_walk_private`` (mm/madvise.c)."""

    C_FIELDS = frozenset({"tlb", "pageout"})

    def __init__(self, tlb: MmuGather, pageout: bool) -> None:
        self.tlb = tlb
        self.pageout = int(pageout)


class HugePmd(Pmd):
    """``pmd_t *`` that may map a THP: then its folio, bits and lock are here
    and the PTE table below it is empty until a split remaps it by PTEs."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.huge_folio: Folio | None = None
        self.young = False
        self.dirty = False
        self.ptl = SpinLock(f"pmd lock of pmd {index}")


class LruFolio(Folio):
    """A folio whose ``lru`` list head the walk may take (``&folio->lru``)."""

    C_FIELDS = Folio.C_FIELDS | {"lru"}
    lru: int = 0


@dataclass
class MadvBuilt:
    spec: MadvSpec
    world: ZapWorld
    vma: FileVma
    tlb: MmuGather
    pmd: HugePmd
    first: int
    addr: int
    end: int
    folios: dict[int, Folio] = field(default_factory=dict)  # block -> folio
    external: dict[int, int] = field(default_factory=dict)  # pfn -> mappings elsewhere


def build(spec: MadvSpec) -> MadvBuilt:
    if spec.order == 9 and not spec.pmd_mapped:  # in range: check_layout() would pass it
        raise ValueError(f"--order {spec.order}: 0 to 8 (9 is the PMD-mapped THP)")
    n = check_layout(spec, CODES, MAX_ORDER, PTRS_PER_PTE if spec.pmd_mapped else MAX_PAGES)
    pages = spec.pages
    nr = spec.nr
    if spec.pmd_mapped and (spec.order != 9 or spec.pages != "P" * 512):
        raise ValueError("pmd_mapped: one order-9 folio of present pages")
    # A PMD-mapped THP starts PMD 1 (its entry 0) and fills the table.
    first, at = (BASE + PMD_SIZE, 0) if spec.pmd_mapped else place(spec, n)
    mm = Mm()
    vma = FileVma(mm, BASE, BASE + 3 * PMD_SIZE, VM_READ | VM_WRITE | VM_MAYWRITE)
    world = ZapWorld(mm=mm, vma=vma, swap=SwapDevice(SWAP_TYPE, 3), resched_at=spec.resched_at)
    tlb = MmuGather(mm)
    pmd = HugePmd(first >> PMD_SHIFT)
    built = MadvBuilt(
        spec,
        world,
        vma,
        tlb,
        pmd,
        first,
        first + spec.start * PAGE_SIZE,
        first + spec.stop_page() * PAGE_SIZE,
    )
    split_fails: set[int] = set()
    world.split_fails = split_fails
    entries = world.table(pmd.index).entries
    if not spec.pmd_mapped:
        entries[at - 1] = Pte.present(OTHER_PFN, young=True, dirty=True)
        entries[at + n] = Pte.present(OTHER_PFN + 1, young=True, dirty=True)
    for block in range(0, n, nr):
        if "P" not in pages[block : block + nr] and "H" not in pages[block : block + nr]:
            continue
        folio: Folio = LruFolio(FOLIO_PFN + block, spec.order)
        folio.refcount = 0
        folio.f.dirty = spec.folio_dirty
        if spec.locked:
            folio.f.locked = True
            world.locked_elsewhere.add(id(folio))
        if spec.split_fails:
            split_fails.add(id(folio))
        built.folios[block // nr] = folio
        world.folios.append(folio)
    for i, code in enumerate(pages):
        if code == "P":
            page = built.folios[i // nr].page_at(i % nr)
            folio = page.folio
            page.mapcount = 2 if spec.shared else 1
            folio.refcount += page.mapcount
            if spec.shared:
                built.external[page.pfn] = 1
            mm.counters[MM_ANONPAGES] += 1
            pte = Pte.present(page.pfn, young=spec.young, dirty=spec.dirty, write=True)
        elif code == "S":
            off = SWAP_BASE + i
            world.swap.swap_map[off] = 1
            mm.counters[MM_SWAPENTS] += 1
            pte = Pte.swap(SwapEntry(SWAP_TYPE, off), exclusive=True)
        elif code == "H":
            built.folios[i // nr].page_at(i % nr).hwpoison = True
            pte = Pte.swap(SwapEntry(SWP_HWPOISON, FOLIO_PFN + i))
        else:
            continue
        if not spec.pmd_mapped:
            entries[at + i] = pte
    if spec.pmd_mapped:
        pmd.huge_folio = built.folios[0]
        pmd.young, pmd.dirty = spec.young, spec.dirty
        world.huge_pmds = {id(pmd.huge_folio): pmd}  # type: ignore[attr-defined]
    if spec.race == "table-freed":
        world.races.table_freed_at_map = 2  # the walk's map again after the split
    elif spec.race:
        raise ValueError(f"race {spec.race!r}: '' or table-freed")
    return built


def describe(spec: MadvSpec) -> str:
    words = {"P": "present", "S": "swap", "H": "hwpoison", "-": "none"}
    parts = [f"{runs(spec.pages, words)} PTEs ({spec.nr}-page folios)"]
    bits = [b for b, on in (("young", spec.young), ("dirty", spec.dirty)) if on]
    if bits:
        parts.append(" and ".join(bits))
    if spec.start or spec.stop:
        parts.append(f"advising pages {spec.start} to {spec.stop_page() - 1}")
    if spec.shared:
        parts.append("mapped by another process too")
    if spec.locked:
        parts.append("the folio locked by someone else")
    if spec.split_fails:
        parts.append("the split failing")
    if spec.folio_dirty:
        parts.append("the folio dirty")
    if spec.pageout:
        parts.append("MADV_PAGEOUT")
    if spec.resched_at:
        parts.append(f"need_resched() from its call {spec.resched_at}")
    if spec.race == "table-freed":
        parts.append("the page table freed while the lock was dropped for the split")
    return ", ".join(parts)


# --- invariants shared by the walkers -------------------------------------------
def mappings(built: MadvBuilt) -> list[Pte]:
    """The table's entries, a PMD-mapped THP shown as the PTEs it stands for."""
    entries = list(built.world.table(built.pmd.index).entries)
    pmd = built.pmd
    if pmd.huge_folio is not None:
        f = pmd.huge_folio
        entries = [
            Pte.present(f.pfn + i, young=pmd.young, dirty=pmd.dirty, write=True)
            for i in range(PTRS_PER_PTE)
        ]
    return entries


@dataclass(frozen=True)
class Before:
    ptes: list[Pte]
    swap_map: dict[int, int]
    counters: dict[int, int]

    @staticmethod
    def take(built: MadvBuilt) -> Before:
        world = built.world
        return Before(mappings(built), dict(world.swap.swap_map), dict(world.mm.counters))


def _mapped_whole(built: MadvBuilt, before: Before, folio: Folio) -> bool:
    first = built.first + (folio.pfn - FOLIO_PFN) * PAGE_SIZE
    if not (built.addr <= first and first + folio.nr * PAGE_SIZE <= built.end):
        return False
    at = (first >> PAGE_SHIFT) % PTRS_PER_PTE
    ptes = before.ptes[at : at + folio.nr]
    return all(p.kind == "present" and p.pfn == folio.pfn + i for i, p in enumerate(ptes))


def check_walk(  # noqa: PLR0917
    built: MadvBuilt,
    before: Before,
    m: Machine,
    clears: tuple[str, ...],
    frees_swap: bool,
    exclusive_only: bool,
) -> list[Violation]:
    """The PTEs, swap and counts after a walk that may clear ``clears`` bits
    (of "young", "dirty") on the folios it advised whole (or split), only
    exclusive ones when ``exclusive_only``."""
    world = built.world
    held = unreleased(world, [built.pmd.ptl])
    if held:
        return held
    for folio in world.folios:
        if folio.f.locked and id(folio) not in world.locked_elsewhere:
            return [Violation(Kind.LOCK, f"returned with the folio at pfn {folio.pfn:#x} locked")]
    table = world.table(built.pmd.index)
    after = mappings(built)
    base = table.address(0)
    raced = any(e[0] == "table-freed" for e in world.events)
    folio_of = {p.pfn: f for f in world.folios for p in f.pages}
    freed: dict[int, int] = {}
    for idx in range(PTRS_PER_PTE):
        old, new = before.ptes[idx], after[idx]
        a = base + (idx << PAGE_SHIFT)
        inside = built.addr <= a < built.end
        if not inside:
            if old != new:
                return [
                    Violation(
                        Kind.OUTSIDE,
                        f"the PTE at {a:#x}, outside the range advised "
                        f"[{built.addr:#x}, {built.end:#x}), went from {old.describe()} "
                        f"to {new.describe()}",
                        a,
                    )
                ]
            continue
        if old.kind == "swap":
            if not frees_swap or raced:
                if old != new and not (frees_swap and new == PTE_NONE):
                    return [Violation(Kind.WRONG_PAGE, f"the swap PTE at {a:#x} changed", a)]
                if new == PTE_NONE and old.swp_type == SWP_HWPOISON:
                    continue
                if new == PTE_NONE:
                    freed[old.swp_offset] = freed.get(old.swp_offset, 0) + 1
                continue
            if new != PTE_NONE:
                return [
                    Violation(
                        Kind.WRONG_PAGE,
                        f"the PTE at {a:#x} ({old.describe()}) was left {new.describe()}: "
                        "MADV_FREE drops swap entries",
                        a,
                    )
                ]
            if old.swp_type != SWP_HWPOISON:
                freed[old.swp_offset] = freed.get(old.swp_offset, 0) + 1
            continue
        if old.kind != "present":
            if old != new:
                return [Violation(Kind.WRONG_PAGE, f"the PTE at {a:#x} changed", a)]
            continue
        if new.kind != "present" or new.pfn != old.pfn or new.write != old.write:
            return [
                Violation(
                    Kind.WRONG_PAGE,
                    f"the PTE at {a:#x} went from {old.describe()} to {new.describe()}",
                    a,
                )
            ]
        owner = folio_of.get(old.pfn)
        # Advised whole: a small folio (maybe split from a large one), or a
        # large one all of whose pages are mapped in the range (one batch).
        whole = owner is not None and (owner.order == 0 or _mapped_whole(built, before, owner))
        exclusive = owner is not None and not any(
            built.external.get(pfn) for pfn in range(owner.pfn, owner.pfn + owner.nr)
        )
        may = whole and (exclusive or not exclusive_only)
        for bit in ("young", "dirty"):
            was, now = getattr(old, bit), getattr(new, bit)
            if was == now:
                if was and bit in clears and may and not raced and not built.spec.locked:
                    return [
                        Violation(
                            Kind.SMEARED_BIT,
                            f"the PTE at {a:#x} is still {bit}: the advice was not applied "
                            "to an exclusive folio inside the range",
                            a,
                        )
                    ]
                continue
            why = (
                "the advice does not clear it"
                if bit not in clears
                else "its folio is mapped by another process"
                if not exclusive
                else "its folio was neither split nor advised whole"
            )
            if (now and not was) or bit not in clears or not may:
                return [
                    Violation(
                        Kind.SMEARED_BIT,
                        f"the PTE at {a:#x}: {bit} {'set' if now else 'cleared'} although {why}",
                        a,
                    )
                ]
    for off in sorted(set(before.swap_map) | set(world.swap.swap_map)):
        want = before.swap_map.get(off, 0) - freed.get(off, 0)
        if world.swap.swap_map.get(off, 0) != want:
            return [
                Violation(
                    Kind.WRONG_COUNT,
                    f"swap_map of entry {off:#x} is {world.swap.swap_map.get(off, 0)}, "
                    f"expected {want} (freed once with its PTE)",
                    -1,
                    "swap_free",
                )
            ]
    d_swap = world.mm.counters[MM_SWAPENTS] - before.counters[MM_SWAPENTS]
    dropped = sum(freed.values())
    if d_swap != -dropped:
        return [
            Violation(
                Kind.WRONG_COUNT,
                f"MM_SWAPENTS moved by {d_swap:+d}, but {dropped} swap entries were dropped",
            )
        ]
    maps: dict[int, int] = {}
    for pte in after:
        if pte.kind == "present":
            maps[pte.pfn] = maps.get(pte.pfn, 0) + 1
    for folio in world.folios:
        total = 0
        for page in folio.pages:
            want = maps.get(page.pfn, 0) + built.external.get(page.pfn, 0)
            if page.mapcount != want:
                return [
                    Violation(
                        Kind.WRONG_COUNT,
                        f"mapcount of the page at pfn {page.pfn:#x} is {page.mapcount} but "
                        f"{want} PTEs map it",
                        -1,
                        "split",
                    )
                ]
            total += page.mapcount
        if folio.refcount != total:
            return [
                Violation(
                    Kind.WRONG_COUNT,
                    f"the folio at pfn {folio.pfn:#x} holds {folio.refcount} references, "
                    f"expected {total} (one per mapping: every folio_get() put back)",
                )
            ]
    return []


def run_walk(  # noqa: PLR0917
    program: Program,
    spec: MadvSpec,
    function: str,
    max_steps: int,
    private: Callable[[MadvBuilt], object],
    clears: tuple[str, ...],
    frees_swap: bool,
    exclusive_only: bool,
) -> Execution:
    """Build ``spec``, call ``function(pmd, addr, end, walk)`` with
    ``walk->private`` what ``private`` makes of the built case, and check
    the walk (check_walk() with ``clears``, ``frees_swap``, ``exclusive_only``)."""
    built = build(spec)
    before = Before.take(built)
    walk = MmWalk(private(built), built.vma, built.vma.vm_mm)
    return run_call(
        program,
        built.world,
        spec,
        function,
        [built.pmd, built.addr, built.end, walk],
        max_steps,
        lambda ret, m: check_walk(
            built, before, m, clears, frees_swap=frees_swap, exclusive_only=exclusive_only
        ),
    )
