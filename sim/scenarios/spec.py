"""A scenario case as plain data (Spec), and the world it builds.

Every scenario module and the hypothesis generator produce Specs; one
builder turns a Spec into a World and the ``struct vm_fault`` that
handle_pte_fault() would pass to do_swap_page().  Geometry (all 4 KiB pages):

    BASE            BASE+2M (PMD 1)                          BASE+6M
    |---- PMD 0 ----|---- PMD 1 ----|---- PMD 2 ----|             VMA by default
                    [folio PTEs ...]                             inside PMD 1
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.kernel.constants import (
    FAULT_FLAG_ALLOW_RETRY,
    FAULT_FLAG_USER,
    FAULT_FLAG_WRITE,
    SWP_STABLE_WRITES,
    SWP_SYNCHRONOUS_IO,
    SWP_USED,
    SWP_WRITEOK,
    VM_MAYWRITE,
    VM_READ,
    VM_SOFTDIRTY,
    VM_WRITE,
)
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
    PtePtr,
    Races,
    SwapDevice,
    Vma,
    VmFault,
    World,
)
from sim.model.pte import SWP_HWPOISON, SWP_MIGRATION, Pte, SwapEntry, pte_run

BASE = 0x7F0000000000
SWAP_TYPE = 1
SWAP_BASE = 0x1000  # offset of the folio's first entry: aligned for order <= 9
FOLIO_PFN = 0x40000
OTHER_PFN = 0x90000  # a page mapped next to the folio, never to be touched


@dataclass(frozen=True)
class Bits:
    soft_dirty: bool = False
    uffd_wp: bool = False
    exclusive: bool = True

    def swap_bits(self) -> tuple[bool, bool, bool]:
        """The last three fields of a swap Pte (soft-dirty, uffd-wp, exclusive)."""
        return self.soft_dirty, self.uffd_wp, self.exclusive


_NO_BITS = Bits()  # frozen: one shared default for every page of every case
_NO_PTE_BITS = (False, False, False)  # write, dirty, young: never set on a swap PTE
_make = tuple.__new__


@dataclass(frozen=True)
class Spec:
    """Everything that varies between cases; defaults are the plain hit."""

    order: int = 0
    index: int = 0  # the faulting page of the folio
    placement: str = "inside"  # inside | vma-start | vma-end | pmd-boundary
    bits: tuple[Bits, ...] = ()  # per folio page; () = all Bits()
    shared: tuple[int, ...] = ()  # per page: swap references held by another mm
    mapped: tuple[int, ...] = ()  # folio pages already mapped by an earlier fault
    extra_refs: int = 0  # folio references held elsewhere (GUP, LRU batch)
    write: bool = False
    race: str = ""  # "" | table-freed | pte-changed
    source: str = "swapcache"  # swapcache | readahead | sync-io
    entry: str = "swap"  # swap | migration | hwpoison
    folio_locked: bool = False  # held by someone else: fault retries
    uptodate: bool = True  # False: the read from swap failed
    hwpoison: bool = False  # the faulting page is poisoned
    alloc_fails: bool = False  # readahead / sync-io: no memory for a folio
    on_lru: bool = True  # False: still in a per-CPU LRU batch (holds a reference)
    stable_writes: bool = False
    writeback: bool = False
    vm_flags: int = VM_READ | VM_WRITE | VM_MAYWRITE | VM_SOFTDIRTY  # new VMAs start soft-dirty
    cgroups: tuple[int, ...] = ()  # per page memcg id of the swap entry

    @property
    def nr(self) -> int:
        return 1 << self.order

    def page_bits(self, i: int) -> Bits:
        return self.bits[i] if self.bits else _NO_BITS


@dataclass
class Built:
    world: World
    vmf: VmFault
    folio: Folio
    folio_vaddr: int  # virtual address of the folio's page 0
    fault_address: int
    notes: list[str] = field(default_factory=list)


def geometry(spec: Spec) -> tuple[int, int, int]:
    """(folio_vaddr, vma_start, vma_end) for a placement."""
    nr = spec.nr
    pmd1 = BASE + PMD_SIZE
    vma_start, vma_end = BASE, BASE + 3 * PMD_SIZE
    if spec.placement == "pmd-boundary":
        return pmd1 - (nr // 2) * PAGE_SIZE, vma_start, vma_end
    folio_vaddr = pmd1 + (0 if spec.order >= 8 else 2 * nr * PAGE_SIZE)
    if spec.placement == "vma-start":
        vma_start = folio_vaddr + PAGE_SIZE
    elif spec.placement == "vma-end":
        vma_end = folio_vaddr + (nr - 1) * PAGE_SIZE
    return folio_vaddr, vma_start, vma_end


MAX_ORDER = 9  # a folio mapped by PTEs fits in one PTE table (512 entries)


def build(spec: Spec) -> Built:
    if not 0 <= spec.order <= MAX_ORDER:
        # Checked first: ``1 << 99`` pages would be built one by one.
        raise ValueError(f"--order {spec.order}: a folio of order 0 to {MAX_ORDER}")
    if not 0 <= spec.index < spec.nr:
        raise ValueError(f"--index {spec.index} outside a folio of {spec.nr} pages")
    folio_vaddr, vma_start, vma_end = geometry(spec)
    fault = folio_vaddr + spec.index * PAGE_SIZE
    if not vma_start <= fault < vma_end:
        raise ValueError(f"page {spec.index} is outside the VMA for placement {spec.placement}")
    mm = Mm()
    vma = Vma(mm, vma_start, vma_end, spec.vm_flags)
    flags = SWP_USED | SWP_WRITEOK
    if spec.source == "sync-io":
        flags |= SWP_SYNCHRONOUS_IO
    if spec.stable_writes:
        flags |= SWP_STABLE_WRITES
    si = SwapDevice(SWAP_TYPE, flags)
    world = World(mm=mm, vma=vma, swap=si)
    folio = Folio(FOLIO_PFN, spec.order)
    folio.swap = SwapEntry(SWAP_TYPE, SWAP_BASE)
    folio.f.locked = spec.folio_locked
    folio.f.uptodate = spec.uptodate
    folio.f.lru = spec.on_lru
    if spec.hwpoison:
        folio.page_at(spec.index).hwpoison = True
    folio.f.writeback = spec.writeback
    folio.refcount = spec.extra_refs

    # A neighbour that must never change: a present page just below the folio.
    world.set_pte(folio_vaddr - PAGE_SIZE, Pte.present(OTHER_PFN, young=True))
    if _plain_swap_ptes(spec, folio_vaddr):
        _lay_out_swap_ptes(world, spec, folio_vaddr)
    else:
        _lay_out(world, folio, spec, folio_vaddr)
    if spec.extra_refs:
        world.external_folio_refs[id(folio)] = spec.extra_refs
    if spec.folio_locked:
        world.locked_elsewhere.add(id(folio))

    if spec.source == "swapcache":
        folio.f.swapcache = True
        folio.refcount += spec.nr
        world.folios.append(folio)
        for i in range(spec.nr):
            si.cache[SWAP_BASE + i] = folio
            si.has_cache.add(SWAP_BASE + i)
    else:
        # Not in the swap cache: the fault allocates it (readahead or sync I/O).
        folio.f.swapcache = False
        if not spec.alloc_fails:
            world.pending_folios.append(folio)

    if spec.entry != "swap":
        kind = SWP_MIGRATION if spec.entry == "migration" else SWP_HWPOISON
        world.set_pte(fault, Pte.swap(SwapEntry(kind, FOLIO_PFN + spec.index)))
        si.swap_map[SWAP_BASE + spec.index] -= 1
        mm.counters[MM_SWAPENTS] -= 1

    vmf = fault_vmf(world, fault, spec.write)

    if spec.race == "table-freed":
        world.races = Races(table_freed_at_map=1)
    elif spec.race == "pte-changed":
        world.races = Races(pte_changed_at_map=1)
    elif spec.race == "swapcache-dropped":
        world.races = Races(swapcache_dropped_at_lock=True)
    elif spec.race == "swapin-busy":
        # Another thread's swapcache_prepare() holds the entries (SWAP_HAS_CACHE).
        si.has_cache.update(range(SWAP_BASE, SWAP_BASE + spec.nr))
    return Built(world, vmf, folio, folio_vaddr, fault)


def _plain_swap_ptes(spec: Spec, folio_vaddr: int) -> bool:
    """Every page a swap PTE of its own entry, nothing shared, mapped or
    charged to a cgroup, all under one PMD: the commonest layout."""
    last = folio_vaddr + (spec.nr - 1) * PAGE_SIZE
    return (
        not spec.mapped
        and not spec.shared
        and not spec.cgroups
        and (not spec.bits or len(spec.bits) >= spec.nr)
        and folio_vaddr >> PMD_SHIFT == last >> PMD_SHIFT
    )


def _lay_out_swap_ptes(world: World, spec: Spec, folio_vaddr: int) -> None:
    """_lay_out() for _plain_swap_ptes(): the same PTEs, counters and swap
    map, stored as one run (up to 512 pages are built for every execution)."""
    nr, bits = spec.nr, spec.bits or (_NO_BITS,) * spec.nr
    first = (folio_vaddr >> PAGE_SHIFT) % PTRS_PER_PTE
    entries = world.table(folio_vaddr >> PMD_SHIFT).entries
    if bits[:nr].count(bits[0]) == nr:  # one run: the PTEs differ only by offset
        swap_pte = ("swap", 0, SWAP_TYPE, SWAP_BASE, *_NO_PTE_BITS, *bits[0].swap_bits())
        entries[first : first + nr] = pte_run(_make(Pte, swap_pte), nr)
    else:
        entries[first : first + nr] = [
            _make(Pte, ("swap", 0, SWAP_TYPE, SWAP_BASE + i, *_NO_PTE_BITS, *b.swap_bits()))
            for i, b in zip(range(nr), bits, strict=False)
        ]
    world.mm.counters[MM_SWAPENTS] += nr
    world.swap.swap_map.update(dict.fromkeys(range(SWAP_BASE, SWAP_BASE + nr), 1))


def _lay_out(world: World, folio: Folio, spec: Spec, folio_vaddr: int) -> None:
    """The folio's PTEs, one page at a time: swap PTEs, or present ones for
    pages already mapped, with the counters, swap map, sharing and cgroups."""
    mm, si = world.mm, world.swap
    mapped, shared, cgroups, bits = set(spec.mapped), spec.shared, spec.cgroups, spec.bits
    table, table_pmd = None, -1
    for i in range(spec.nr):
        addr = folio_vaddr + i * PAGE_SIZE
        offset = SWAP_BASE + i
        b = bits[i] if bits else _NO_BITS
        if i in mapped:
            pte = Pte.present(folio.pfn + i, young=True, soft_dirty=b.soft_dirty, uffd_wp=b.uffd_wp)
            folio.page_mapcount[i] = 1
            folio.refcount += 1
            mm.counters[MM_ANONPAGES] += 1
            si.swap_map[offset] = shared[i] if shared else 0
        else:
            # Pte.swap(SwapEntry(SWAP_TYPE, offset), ...) without the entry object.
            fields = ("swap", 0, SWAP_TYPE, offset, False, False, False)
            pte = _make(Pte, (*fields, b.soft_dirty, b.uffd_wp, b.exclusive))
            mm.counters[MM_SWAPENTS] += 1
            si.swap_map[offset] = 1 + (shared[i] if shared else 0)
        # world.set_pte(addr, pte), the table looked up once per PMD.
        if addr >> PMD_SHIFT != table_pmd:
            table_pmd = addr >> PMD_SHIFT
            table = world.table(table_pmd)
        assert table is not None
        table.entries[(addr >> PAGE_SHIFT) % PTRS_PER_PTE] = pte
        if shared and shared[i]:
            world.external_swap_refs[offset] = shared[i]
        if cgroups:
            world.swap_cgroup[offset] = cgroups[i]


def fault_vmf(world: World, address: int, write: bool) -> VmFault:
    """The ``struct vm_fault`` handle_pte_fault() passes for ``address``."""
    pmd = Pmd(address >> PMD_SHIFT)
    flags = FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_USER | (FAULT_FLAG_WRITE if write else 0)
    vmf = VmFault(world.vma, address, flags, pmd)
    # handle_pte_fault(): pte_offset_map_nolock() and the unlocked read.
    handle = world.map(pmd.index, "handle_pte_fault's pte_offset_map_nolock")
    vmf.pte = PtePtr(handle, (address >> 12) % 512)
    vmf.ptl = handle.table.ptl
    vmf.orig_pte = world.pte_at(address)
    return vmf


def describe(spec: Spec) -> str:
    """The case in words, as the review reply quotes it."""
    if spec.entry != "swap":
        return f"a {spec.entry} entry at the faulting address"
    where = {
        "swapcache": "in the swap cache",
        "readahead": "read from swap (not in the swap cache)",
        "sync-io": "read synchronously, skipping the swap cache",
    }[spec.source]
    size = "a 1-page folio" if spec.order == 0 else f"a {spec.nr}-page folio"
    parts = [f"{size} {where}, fault on page {spec.index}"]
    if spec.placement == "vma-start":
        parts.append("the folio starting below the VMA")
    elif spec.placement == "vma-end":
        parts.append("the folio ending above the VMA")
    elif spec.placement == "pmd-boundary":
        parts.append("the folio crossing a PMD boundary")
    if spec.bits and len(set(spec.bits)) > 1:
        parts.append("mixed soft-dirty/uffd-wp/exclusive bits")
    if spec.shared and any(spec.shared):
        parts.append("some entries shared with another process")
    if spec.mapped:
        parts.append(f"pages {', '.join(map(str, spec.mapped))} already mapped")
    if spec.extra_refs:
        parts.append(f"{spec.extra_refs} extra folio reference held elsewhere")
    if spec.write:
        parts.append("write fault")
    if spec.race == "table-freed":
        parts.append("page table freed concurrently")
    elif spec.race == "pte-changed":
        parts.append("the PTE changed under us")
    elif spec.race == "swapcache-dropped":
        parts.append("the folio dropped from the swap cache while we waited for its lock")
    elif spec.race == "swapin-busy":
        parts.append("another thread swapping the same entry in")
    if not spec.on_lru:
        parts.append("the folio not yet on the LRU")
    if spec.folio_locked:
        parts.append("the folio locked by someone else")
    if not spec.uptodate:
        parts.append("the read from swap failed")
    if spec.hwpoison:
        parts.append("the page hardware-poisoned")
    if spec.alloc_fails:
        parts.append("no memory for a folio")
    if spec.writeback and spec.stable_writes:
        parts.append("under writeback to a stable-writes device")
    return ", ".join(parts)
