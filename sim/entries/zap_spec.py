"""A zap_pte_range() case as plain data (ZapSpec), and the world it builds.

One PTE per page of ``layout`` (codes in ``sim/entries/zap_pte_range.py``),
from ``first``, inside PMD 1; the layout is cut in blocks of ``nr`` pages,
each block one folio (its P, M and H pages are pages of that folio) and
one run of swap slots (its S pages).  A present page of another mm-less
folio sits just below and just above the layout: it must never change.

    BASE+2M (PMD 1)    first                                 first + len(layout)
    |------------------[o|P P P P|S S S S|M M M M|H - - -|o]------------|
                          ^addr = first + start     end = first + stop ^
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.entries.layout import (
    BASE,
    FOLIO_PFN,
    OTHER_PFN,
    SWAP_BASE,
    SWAP_TYPE,
    PageLayout,
    check_layout,
    place,
    runs,
)
from sim.kernel.constants import VM_MAYWRITE, VM_READ, VM_UFFD_WP, VM_WRITE
from sim.kernel.zap import PTE_MARKER_UFFD_WP, ZAP_FLAG_DROP_MARKER, ZERO_PFN
from sim.model.mm import (
    MM_ANONPAGES,
    MM_FILEPAGES,
    MM_SHMEMPAGES,
    MM_SWAPENTS,
    PAGE_SIZE,
    PMD_SHIFT,
    PMD_SIZE,
    Folio,
    Mm,
    Pmd,
    SwapDevice,
)
from sim.model.pte import SWP_HWPOISON, SWP_MIGRATION, SWP_PTE_MARKER, Pte, SwapEntry
from sim.model.tlb import FileVma, MmuGather, VmOps, ZapDetails, ZapWorld
from sim.values import NULL

CODES = "PSMHWZ-"
MAX_ORDER = 8
UFFD_WP_MARKER = SwapEntry(SWP_PTE_MARKER, PTE_MARKER_UFFD_WP)  # make_pte_marker_entry()


@dataclass(frozen=True)
class ZapSpec(PageLayout):
    order: int = 4  # pages per folio / block: nr = 1 << order
    index: int = 0  # the page the scenario singles out (see its docstring)
    layout: str = ""  # one code per page; "" = one block of present pages
    wp: str = ""  # per page "1" where the PTE has uffd-wp; "" = none
    dirty: bool = False  # present PTEs dirty (file pages: rmap delayed)
    start: int = 0  # first page zapped
    stop: int = 0  # one past the last page zapped; 0 = the whole layout
    vma: str = "anon"  # anon | shmem (a private shmem mapping: vma->vm_ops set)
    uffd: bool = False  # the VMA is registered for uffd-wp (VM_UFFD_WP)
    details: str = ""  # "" (NULL) | keep-cows | drop-markers
    cgroups: tuple[int, ...] = ()  # per page memcg id of a swap entry
    race: str = ""  # "" | table-freed
    tlb_room: int = 0  # pages the mmu_gather takes before asking for a flush
    resched_at: int = 0  # need_resched() true from its Nth call

    def code(self, i: int) -> str:
        return self.pages[i]

    def describe(self) -> str:
        return describe(self)


@dataclass
class ZapBuilt:
    spec: ZapSpec
    world: ZapWorld
    vma: FileVma
    tlb: MmuGather
    pmd: Pmd
    details: object
    first: int
    addr: int
    end: int
    swap_base: int = SWAP_BASE
    folios: dict[int, Folio] = field(default_factory=dict)  # block -> folio
    marker_entry: SwapEntry = UFFD_WP_MARKER
    # Layout page -> (PTE it must hold once zapped, zapped at all): the
    # invariants ask several times per page.
    expected: dict[int, tuple[Pte, bool]] = field(default_factory=dict)

    def folio_at(self, i: int) -> Folio:
        return self.folios[i // self.spec.nr]

    def pfn_at(self, i: int) -> int:
        return FOLIO_PFN + i

    def counter_of(self, i: int) -> int:
        f = self.folio_at(i).f
        return MM_ANONPAGES if f.anon else MM_SHMEMPAGES if f.swapbacked else MM_FILEPAGES

    def address_of_pfn(self, pfn: int) -> int:
        return self.first + (pfn - FOLIO_PFN) * PAGE_SIZE


def build(spec: ZapSpec) -> ZapBuilt:
    n = check_layout(spec, CODES, MAX_ORDER)
    pages = spec.pages
    if spec.wp and len(spec.wp) != n:
        raise ValueError("wp: one flag per page")
    nr = spec.nr
    first, at = place(spec, n)
    mm = Mm()
    flags = VM_READ | VM_WRITE | VM_MAYWRITE | (VM_UFFD_WP if spec.uffd else 0)
    vma = FileVma(mm, BASE, BASE + 3 * PMD_SIZE, flags)
    vma.vm_ops = NULL if spec.vma == "anon" else VmOps()
    world = ZapWorld(mm=mm, vma=vma, swap=SwapDevice(SWAP_TYPE, 3), resched_at=spec.resched_at)
    tlb = MmuGather(mm, spec.tlb_room)
    world.tlb = tlb
    pmd = Pmd(first >> PMD_SHIFT)
    details: object = NULL
    if spec.details == "keep-cows":
        details = ZapDetails(even_cows=False, zap_flags=0)
    elif spec.details == "drop-markers":
        details = ZapDetails(even_cows=True, zap_flags=ZAP_FLAG_DROP_MARKER)
    built = ZapBuilt(
        spec,
        world,
        vma,
        tlb,
        pmd,
        details,
        first,
        first + spec.start * PAGE_SIZE,
        first + spec.stop_page() * PAGE_SIZE,
    )
    si = world.swap
    counters = mm.counters
    table = world.table(pmd.index)
    entries = table.entries
    # The neighbours, never to change.
    entries[at - 1] = Pte.present(OTHER_PFN, young=True)
    entries[at + n] = Pte.present(OTHER_PFN + 1, young=True)
    for block in range(0, n, nr):
        codes = pages[block : block + nr]
        if not set(codes) & set("PMH"):
            continue
        folio = Folio(FOLIO_PFN + block, spec.order)
        folio.refcount = 0
        folio.f.anon = spec.vma == "anon"
        folio.f.swapbacked = True
        if not folio.f.anon:
            folio.refcount += nr  # the page cache's references
        if "M" in codes:
            folio.f.locked = True  # migration holds the folio lock
            world.locked_elsewhere.add(id(folio))
            folio.refcount += 1  # and a reference
        built.folios[block // nr] = folio
        world.folios.append(folio)
    for i, code in enumerate(pages):
        wp = spec.wp[i] == "1" if spec.wp else False
        if code == "P":
            folio = built.folio_at(i)
            folio.page_at(i % nr).mapcount += 1
            folio.refcount += 1
            counters[built.counter_of(i)] += 1
            pte = Pte.present(FOLIO_PFN + i, young=True, dirty=spec.dirty, uffd_wp=wp, write=True)
        elif code == "S":
            off = SWAP_BASE + i
            si.swap_map[off] = 1
            counters[MM_SWAPENTS] += 1
            pte = Pte.swap(SwapEntry(SWAP_TYPE, off), uffd_wp=wp, exclusive=True)
            if spec.cgroups:
                world.swap_cgroup[off] = spec.cgroups[i]
        elif code == "M":
            counters[built.counter_of(i)] += 1  # still accounted while it migrates
            pte = Pte.swap(SwapEntry(SWP_MIGRATION, FOLIO_PFN + i), uffd_wp=wp)
        elif code == "H":
            built.folio_at(i).page_at(i % nr).hwpoison = True
            pte = Pte.swap(SwapEntry(SWP_HWPOISON, FOLIO_PFN + i), uffd_wp=wp)
        elif code == "W":
            pte = Pte.swap(built.marker_entry)
        elif code == "Z":
            pte = Pte.present(ZERO_PFN, young=True, uffd_wp=wp)
        else:
            continue
        entries[at + i] = pte
    if spec.race == "table-freed":
        world.races.table_freed_at_map = 1
    elif spec.race:
        raise ValueError(f"race {spec.race!r}: '' or table-freed")
    return built


_WORDS = {
    "P": "present",
    "S": "swap",
    "M": "migration",
    "H": "hwpoison",
    "W": "uffd-wp marker",
    "Z": "zero-page",
    "-": "none",
}


def describe(spec: ZapSpec) -> str:
    """The case in words, as the review reply quotes it."""
    kind = "an anonymous VMA" if spec.vma == "anon" else "a private shmem VMA"
    parts = [f"{runs(spec.pages, _WORDS)} PTEs ({spec.nr}-page folios) in {kind}"]
    if spec.uffd:
        parts.append("registered for uffd-wp")
    if spec.wp and "1" in spec.wp:
        marked = [str(i) for i, c in enumerate(spec.wp) if c == "1"]
        parts.append(f"uffd-wp on page{'s' if len(marked) > 1 else ''} {', '.join(marked)}")
    if spec.dirty:
        parts.append("dirty")
    if spec.cgroups and len(set(spec.cgroups)) > 1:
        parts.append("swap entries of different memcgs")
    if spec.start or spec.stop:
        parts.append(f"zapping pages {spec.start} to {spec.stop_page() - 1}")
    if spec.details == "keep-cows":
        parts.append("keeping private (COW) pages")
    elif spec.details == "drop-markers":
        parts.append("dropping uffd-wp markers")
    if spec.tlb_room:
        parts.append(f"the mmu_gather full after {spec.tlb_room} pages")
    if spec.resched_at:
        parts.append(f"need_resched() from its call {spec.resched_at}")
    if spec.race == "table-freed":
        parts.append("page table freed concurrently")
    return ", ".join(parts)
