"""Page tables reached through map handles, folios, swap, the VMA and mm.

A pte pointer is a (map handle, index) pair: ``pte_unmap()`` closes the
handle, so every pointer obtained through it goes stale even though the
table itself still exists; a table freed concurrently makes every handle to
it stale.  That is the whole point of modelling handles rather than tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sim.faults import Kind, NotModelled, SimFault
from sim.model.pte import PTE_NONE, Pte, SwapEntry

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PTRS_PER_PTE = 512
PMD_SHIFT = PAGE_SHIFT + 9
PMD_SIZE = 1 << PMD_SHIFT
PMD_MASK = ~(PMD_SIZE - 1) & ((1 << 64) - 1)

MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES = 0, 1, 2, 3


class SpinLock:
    """``spinlock_t``: one per page table (split PTE locks)."""

    C_FIELDS: frozenset[str] = frozenset()

    def __init__(self, name: str) -> None:
        self.name = name
        self.held = False


class PageTable:
    """One PTE table: 512 entries covering one PMD."""

    def __init__(self, pmd_index: int) -> None:
        self.pmd_index = pmd_index
        self.entries: list[Pte] = [PTE_NONE] * PTRS_PER_PTE
        self.ptl = SpinLock(f"ptl of pmd {pmd_index}")
        self.freed = False

    def address(self, index: int) -> int:
        return (self.pmd_index << PMD_SHIFT) + (index << PAGE_SHIFT)


class MapHandle:
    """A kmap of a PTE table (``pte_offset_map*``), live until ``pte_unmap``."""

    __slots__ = ("label", "live", "table")

    def __init__(self, table: PageTable, label: str) -> None:
        self.table = table
        self.live = True
        self.label = label


class PtePtr:
    """``pte_t *``: an index into a table through one map handle."""

    __slots__ = ("handle", "index")

    def __init__(self, handle: MapHandle, index: int) -> None:
        self.handle = handle
        self.index = index

    def moved(self, delta: int) -> PtePtr:
        return PtePtr(self.handle, self.index + delta)

    def _check(self, what: str) -> PageTable:
        handle = self.handle
        if not handle.live or handle.table.freed:
            # Worded so that the " at line N" the runner appends reads as the
            # place of the access, not of the unmapping.
            why = (
                "its page table freed since"
                if handle.table.freed
                else f"mapped by {handle.label}, unmapped since"
            )
            raise SimFault(Kind.STALE_POINTER, f"{what} through a stale pte pointer ({why})")
        if not 0 <= self.index < PTRS_PER_PTE:
            raise SimFault(
                Kind.OUT_OF_BOUNDS,
                f"{what} outside the page table (entry {self.index} of {PTRS_PER_PTE})",
            )
        return handle.table

    def load(self) -> Pte:
        return self._check("load").entries[self.index]

    def store(self, value: Pte) -> None:
        table = self._check("store")
        if not isinstance(value, Pte):  # "*vmf->pte = vmf;": no C compiler takes it
            raise NotModelled(f"store of {type(value).__name__} into a pte_t")
        table.entries[self.index] = value

    @property
    def address(self) -> int:
        return self.handle.table.address(self.index)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PtePtr)
            and other.handle.table is self.handle.table
            and other.index == self.index
        )

    def __hash__(self) -> int:
        return hash((id(self.handle.table), self.index))

    def __repr__(self) -> str:
        return f"<pte_t * {self.handle.label}[{self.index}]>"


class Pmd:
    """``pmd_t *``: names the PTE table below one PMD entry."""

    C_FIELDS: frozenset[str] = frozenset()

    def __init__(self, index: int) -> None:
        self.index = index


class Page:
    """``struct page``: one page of a folio.

    Its mapcount and PG_anon_exclusive live in its folio's per-page lists
    (``Folio.page_mapcount``, ``Folio.page_anon_exclusive``), so that a
    512-page folio is two lists rather than 512 objects; the Page itself is
    made the first time something asks for it (``Folio.page()``).
    """

    __slots__ = ("folio", "hwpoison", "idx", "index", "private")
    C_FIELDS = frozenset({"index", "private"})

    def __init__(self, folio: Folio, idx: int) -> None:
        self.folio = folio
        self.idx = idx
        self.hwpoison = False
        self.index = 0
        self.private = 0

    @property
    def mapcount(self) -> int:
        return self.folio.page_mapcount[self.idx]

    @mapcount.setter
    def mapcount(self, value: int) -> None:
        self.folio.page_mapcount[self.idx] = value

    @property
    def anon_exclusive(self) -> bool:
        return self.folio.page_anon_exclusive[self.idx]

    @anon_exclusive.setter
    def anon_exclusive(self, value: bool) -> None:
        self.folio.page_anon_exclusive[self.idx] = value

    @property
    def pfn(self) -> int:
        return self.folio.pfn + self.idx

    def __repr__(self) -> str:
        return f"<page {self.idx} of folio pfn {self.folio.pfn:#x}>"


@dataclass
class FolioFlags:
    locked: bool = False
    swapcache: bool = False
    anon: bool = True
    uptodate: bool = True
    ksm: bool = False
    lru: bool = True
    writeback: bool = False
    mappedtodisk: bool = False
    swapbacked: bool = True
    mlocked: bool = False
    dirty: bool = False  # folio_test_dirty(): set by the madvise entries' worlds


class Folio:
    """``struct folio``: 2^order pages with one refcount."""

    C_FIELDS = frozenset({"swap", "page", "private", "index", "mapping", "flags"})
    C_EMBEDDED = frozenset({"page"})

    def __init__(self, pfn: int, order: int) -> None:
        self.pfn = pfn
        self.order = order
        self.refcount = 1
        self.f = FolioFlags()
        self.swap = SwapEntry(0, 0)
        # Per page, by index in the folio (see Page).
        self.page_mapcount = [0] * (1 << order)
        self.page_anon_exclusive = [False] * (1 << order)
        self._pages: list[Page | None] = [None] * (1 << order)
        self.private = 0
        self.index = 0
        self.mapping = 0
        self.flags = 0

    @property
    def nr(self) -> int:
        return 1 << self.order

    def page_at(self, idx: int) -> Page:
        """Page ``idx`` of the folio, the same object every time."""
        page = self._pages[idx]
        if page is None:
            page = self._pages[idx] = Page(self, idx)
        return page

    @property
    def pages(self) -> list[Page]:
        return [self.page_at(i) for i in range(len(self._pages))]

    @property
    def page(self) -> Page:
        return self.page_at(0)

    def keep_head(self) -> Page:
        """What a split leaves of this folio: its head page, order 0."""
        head = self.page_at(0)
        self.order = 0
        del self.page_mapcount[1:], self.page_anon_exclusive[1:], self._pages[1:]
        return head

    def __repr__(self) -> str:
        return f"<folio pfn {self.pfn:#x} order {self.order}>"


class Vma:
    """``struct vm_area_struct``."""

    C_FIELDS = frozenset({"vm_start", "vm_end", "vm_flags", "vm_mm", "vm_page_prot"})

    def __init__(self, mm: Mm, start: int, end: int, flags: int) -> None:
        self.vm_mm = mm
        self.vm_start = start
        self.vm_end = end
        self.vm_flags = flags
        self.vm_page_prot = 0


class Mm:
    """``struct mm_struct``: only its rss counters matter here."""

    C_FIELDS: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.counters = {MM_FILEPAGES: 0, MM_ANONPAGES: 0, MM_SWAPENTS: 0, MM_SHMEMPAGES: 0}


class SwapDevice:
    """``struct swap_info_struct`` with its swap_map and the swap cache."""

    C_FIELDS = frozenset({"flags"})

    def __init__(self, type_: int, flags: int) -> None:
        self.type = type_
        self.flags = flags
        self.swap_map: dict[int, int] = {}
        self.has_cache: set[int] = set()
        self.cache: dict[int, Folio] = {}
        self.refs = 0  # get_swap_device() pins


class VmFault:
    """``struct vm_fault`` as handle_pte_fault() passes it to do_swap_page()."""

    C_FIELDS = frozenset(
        {"vma", "address", "real_address", "flags", "pmd", "pte", "orig_pte", "ptl", "page"}
    )

    def __init__(self, vma: Vma, address: int, flags: int, pmd: Pmd) -> None:
        self.vma = vma
        self.address = address
        self.real_address = address
        self.flags = flags
        self.pmd = pmd
        self.pte: object = None
        self.orig_pte = PTE_NONE
        self.ptl: object = None
        self.page: object = None


@dataclass
class Races:
    """Choices injected at the points where another CPU could interfere."""

    table_freed_at_map: int = 0  # the Nth pte_offset_map_lock() returns NULL (1-based)
    pte_changed_at_map: int = 0  # the Nth pte_offset_map_lock() finds the PTE faulted in
    swapcache_dropped_at_lock: bool = False  # reclaim frees the folio's swap cache slot


@dataclass
class World:
    """Everything one simulated fault can see or change."""

    mm: Mm
    vma: Vma
    swap: SwapDevice
    tables: dict[int, PageTable] = field(default_factory=dict)
    folios: list[Folio] = field(default_factory=list)
    races: Races = field(default_factory=Races)
    external_swap_refs: dict[int, int] = field(default_factory=dict)  # offset -> count
    external_folio_refs: dict[int, int] = field(default_factory=dict)  # id(folio) -> count
    swap_cgroup: dict[int, int] = field(default_factory=dict)  # offset -> memcg id
    handles: list[MapHandle] = field(default_factory=list)
    locked_elsewhere: set[int] = field(default_factory=set)  # id(folio) locked by others
    map_lock_calls: int = 0
    # Model events: (name, data, the step that caused it: file, function, line, text).
    events: list[tuple[str, object, tuple[str, str, int, str] | None]] = field(default_factory=list)
    # Folios the fault may allocate (swapin_readahead, alloc_swap_folio).
    pending_folios: list[Folio] = field(default_factory=list)
    on_race: Callable[[], None] | None = None  # lets the runner re-snapshot
    split_fails: set[int] = field(default_factory=set)  # id(folio): split_folio() -EAGAIN

    def table(self, pmd_index: int) -> PageTable:
        if pmd_index not in self.tables:
            self.tables[pmd_index] = PageTable(pmd_index)
        return self.tables[pmd_index]

    def pte_at(self, address: int) -> Pte:
        return self.table(address >> PMD_SHIFT).entries[(address >> PAGE_SHIFT) % PTRS_PER_PTE]

    def set_pte(self, address: int, pte: Pte) -> None:
        self.table(address >> PMD_SHIFT).entries[(address >> PAGE_SHIFT) % PTRS_PER_PTE] = pte

    def map(self, pmd_index: int, label: str) -> MapHandle:
        handle = MapHandle(self.table(pmd_index), label)
        self.handles.append(handle)
        return handle

    def fault_in_elsewhere(self, address: int) -> None:
        """Another thread's fault on ``address`` completed: map its page."""
        old = self.pte_at(address)
        if old.kind != "swap":
            return
        for folio in self.folios:
            idx = old.swp_offset - folio.swap.offset
            if folio.swap.type == old.swp_type and 0 <= idx < folio.nr:
                self.set_pte(
                    address,
                    Pte.present(
                        folio.pfn + idx, young=True, soft_dirty=old.soft_dirty, uffd_wp=old.uffd_wp
                    ),
                )
                folio.page_mapcount[idx] += 1
                folio.refcount += 1
                self.swap.swap_map[old.swp_offset] -= 1
                self.mm.counters[MM_ANONPAGES] += 1
                self.mm.counters[MM_SWAPENTS] -= 1
                return

    def drop_from_swap_cache(self, folio: Folio) -> None:
        """Reclaim (folio_free_swap()) on another CPU removed the folio."""
        if not folio.f.swapcache:
            return
        for off in range(folio.swap.offset, folio.swap.offset + folio.nr):
            self.swap.cache.pop(off, None)
            self.swap.has_cache.discard(off)
        folio.f.swapcache = False
        folio.refcount -= folio.nr

    def page_of_pfn(self, pfn: int) -> Page | None:
        for folio in self.folios:
            if folio.pfn <= pfn < folio.pfn + folio.nr:
                return folio.page_at(pfn - folio.pfn)
        return None
