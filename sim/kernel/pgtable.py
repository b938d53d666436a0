"""PTE values, swap PTEs and page-table access (pgtable.h, swapops.h, mm.h)."""

from __future__ import annotations

from typing import Any

from sim.faults import Kind, NotModelled, SimFault
from sim.kernel import OBSERVED, MachineView, noop, primitive, walked
from sim.kernel.constants import VM_SOFTDIRTY, VM_UFFD_WP
from sim.model.mm import (
    PAGE_SHIFT,
    PAGE_SIZE,
    PMD_MASK,
    PMD_SHIFT,
    PMD_SIZE,
    PTRS_PER_PTE,
    Folio,
    Pmd,
    PtePtr,
)
from sim.model.pte import (
    MAX_SWAPFILES,
    SWP_HWPOISON,
    SWP_MIGRATION,
    SWP_PTE_MARKER,
    Pte,
    SwapEntry,
    pte_run,
    swap_entry,
)
from sim.values import NULL, FieldRef, NullPtr, VarRef

_make = tuple.__new__


def _pte(v: Any, fn: str) -> Pte:
    if type(v) is not Pte and not isinstance(v, Pte):
        raise NotModelled(f"{fn} on {type(v).__name__}")
    return v


def _ptr(v: Any, fn: str) -> PtePtr:
    if isinstance(v, NullPtr):
        raise SimFault(Kind.NULL, f"{fn}() on a NULL pte pointer")
    if not isinstance(v, PtePtr):
        raise NotModelled(f"{fn} on {type(v).__name__}")
    return v


@primitive("ptep_get", "include/linux/pgtable.h: ptep_get()")
def ptep_get(m: MachineView, ptep: object) -> Pte:
    # Every entry of a batch walk is read here: a live, in-bounds pointer is
    # loaded directly; anything else takes PtePtr.load() and its checks.
    if type(ptep) is PtePtr:
        handle, index = ptep.handle, ptep.index
        table = handle.table
        if handle.live and not table.freed and 0 <= index < PTRS_PER_PTE:
            return table.entries[index]
    return _ptr(ptep, "ptep_get").load()


@primitive("pte_same", "include/linux/pgtable.h: pte_same()")
def pte_same(m: MachineView, a: object, b: object) -> bool:
    if type(a) is Pte and type(b) is Pte:
        return a == b
    return _pte(a, "pte_same") == _pte(b, "pte_same")


@primitive("pte_none", "arch/x86/include/asm/pgtable.h: pte_none()")
def pte_none(m: MachineView, pte: object) -> bool:
    return _pte(pte, "pte_none").kind == "none"


@primitive("pte_present", "arch/x86/include/asm/pgtable.h: pte_present()")
def pte_present(m: MachineView, pte: object) -> bool:
    return _pte(pte, "pte_present").kind == "present"


@primitive("is_swap_pte", "include/linux/swapops.h: is_swap_pte()")
def is_swap_pte(m: MachineView, pte: object) -> bool:
    return _pte(pte, "is_swap_pte").kind == "swap"


@primitive("pte_to_swp_entry", "include/linux/swapops.h: pte_to_swp_entry()")
def pte_to_swp_entry(m: MachineView, pte: object) -> SwapEntry:
    p = pte if type(pte) is Pte else _pte(pte, "pte_to_swp_entry")
    if p[0] != "swap":
        raise NotModelled("pte_to_swp_entry() of a pte that is not a swap pte")
    return swap_entry(p[2], p[3])  # Pte.entry, without the property call


@primitive("__swp_entry", "arch/x86/include/asm/pgtable_64.h: __swp_entry()")
def swp_entry_raw(m: MachineView, type_: int, offset: int) -> SwapEntry:
    return swap_entry(type_, offset)


@primitive("swp_entry", "include/linux/swapops.h: swp_entry()")
def swp_entry(m: MachineView, type_: int, offset: int) -> SwapEntry:
    return SwapEntry(type_, offset)


@primitive("__swp_entry_to_pte", "arch/x86/include/asm/pgtable_64.h: __swp_entry_to_pte()")
def swp_entry_to_pte_raw(m: MachineView, entry: Any) -> Pte:
    # Pte.swap(entry), inlined: once per entry swap_pte_batch() walks.
    t, off = entry.type, entry.offset
    return _make(Pte, ("swap", 0, t, off, False, False, False, False, False, False))


@primitive("swp_entry_to_pte", "include/linux/swapops.h: swp_entry_to_pte()")
def swp_entry_to_pte(m: MachineView, entry: Any) -> Pte:
    return Pte.swap(entry)


@primitive("swp_type", "include/linux/swapops.h: swp_type()")
def swp_type(m: MachineView, entry: Any) -> int:
    return int(entry.type)


@primitive("swp_offset", "include/linux/swapops.h: swp_offset()")
def swp_offset(m: MachineView, entry: Any) -> int:
    return int(entry.offset)


@primitive("non_swap_entry", "include/linux/swapops.h: non_swap_entry()")
def non_swap_entry(m: MachineView, entry: Any) -> bool:
    return bool(entry.type >= MAX_SWAPFILES)


@primitive("is_migration_entry", "include/linux/swapops.h: is_migration_entry()")
def is_migration_entry(m: MachineView, entry: Any) -> bool:
    # SWP_MIGRATION (read), then read-exclusive and write (sim/kernel/mprotect.py).
    return bool(SWP_MIGRATION <= entry.type <= SWP_MIGRATION + 2)


@primitive("is_hwpoison_entry", "include/linux/swapops.h: is_hwpoison_entry()")
def is_hwpoison_entry(m: MachineView, entry: Any) -> bool:
    return bool(entry.type == SWP_HWPOISON)


@primitive("is_pte_marker_entry", "include/linux/swapops.h: is_pte_marker_entry()")
def is_pte_marker_entry(m: MachineView, entry: Any) -> bool:
    return bool(entry.type == SWP_PTE_MARKER)


noop(
    "is_device_exclusive_entry",
    "is_device_private_entry",
    cites="include/linux/swapops.h: no device memory in the model",
    result=False,
)


def _bit_reader(name: str, attr: str, cites: str, kind: str | None) -> None:
    index = Pte._fields.index(attr)

    def read(m: MachineView, pte: object) -> bool:
        p = pte if type(pte) is Pte else _pte(pte, name)
        return bool(p[index])

    primitive(name, cites)(read)


def _bit_writer(name: str, attr: str, value: bool, cites: str) -> None:
    index = Pte._fields.index(attr)

    def write(m: MachineView, pte: object, *rest: object) -> Pte:
        p = pte if type(pte) is Pte else _pte(pte, name)
        return _make(Pte, (*p[:index], value, *p[index + 1 :]))

    primitive(name, cites)(write)


for _name, _attr in (
    ("pte_swp_soft_dirty", "soft_dirty"),
    ("pte_swp_uffd_wp", "uffd_wp"),
    ("pte_swp_exclusive", "exclusive"),
    ("pte_soft_dirty", "soft_dirty"),
    ("pte_uffd_wp", "uffd_wp"),
    ("pte_write", "write"),
    ("pte_dirty", "dirty"),
    ("pte_young", "young"),
):
    _bit_reader(_name, _attr, f"arch/x86/include/asm/pgtable.h: {_name}()", None)

for _name, _attr, _value in (
    ("pte_swp_mksoft_dirty", "soft_dirty", True),
    ("pte_swp_clear_soft_dirty", "soft_dirty", False),
    ("pte_swp_mkuffd_wp", "uffd_wp", True),
    ("pte_swp_clear_uffd_wp", "uffd_wp", False),
    ("pte_swp_mkexclusive", "exclusive", True),
    ("pte_swp_clear_exclusive", "exclusive", False),
    ("pte_mksoft_dirty", "soft_dirty", True),
    ("pte_clear_soft_dirty", "soft_dirty", False),
    ("pte_mkuffd_wp", "uffd_wp", True),
    ("pte_clear_uffd_wp", "uffd_wp", False),
    ("pte_mkdirty", "dirty", True),
    ("pte_mkclean", "dirty", False),
    ("pte_mkyoung", "young", True),
    ("pte_mkold", "young", False),
    ("pte_mkwrite", "write", True),
    ("pte_mkwrite_novma", "write", True),
    ("pte_wrprotect", "write", False),
):
    _bit_writer(_name, _attr, _value, f"arch/x86/include/asm/pgtable.h: {_name}()")


@primitive("mk_pte", "include/linux/mm.h: mk_pte()")
def mk_pte(m: MachineView, page: Any, prot: Any) -> Pte:
    return Pte.present(page.pfn, young=True)


@primitive(
    "folio_mk_pte",
    "include/linux/mm.h: folio_mk_pte() (6.16)",
    params=("struct folio *", "pgprot_t"),
)
def folio_mk_pte(m: MachineView, folio: object, prot: object) -> Pte:
    """The PTE of a folio's first page (later releases' form of mk_pte())."""
    if isinstance(folio, NullPtr):
        raise SimFault(Kind.NULL, "folio_mk_pte() on a NULL folio")
    if not isinstance(folio, Folio):
        raise NotModelled(f"folio_mk_pte on {type(folio).__name__}")
    return Pte.present(folio.page_at(0).pfn, young=True)


@primitive("pte_advance_pfn", "include/linux/pgtable.h: pte_advance_pfn()")
def pte_advance_pfn(m: MachineView, pte: object, nr: int) -> Pte:
    p = _pte(pte, "pte_advance_pfn")
    return p.set(pfn=p.pfn + nr)


@primitive("pte_next_pfn", "include/linux/pgtable.h: pte_next_pfn()")
def pte_next_pfn(m: MachineView, pte: object) -> Pte:
    p: Pte = pte_advance_pfn(m, pte, 1)
    return p


@primitive("pte_pfn", "arch/x86/include/asm/pgtable.h: pte_pfn()")
def pte_pfn(m: MachineView, pte: object) -> int:
    return _pte(pte, "pte_pfn").pfn


@primitive("pmd_addr_end", "include/linux/pgtable.h: pmd_addr_end()")
def pmd_addr_end(m: MachineView, addr: int, end: int) -> int:
    boundary = (addr + PMD_SIZE) & PMD_MASK
    return boundary if boundary - 1 < end - 1 else end


@primitive("userfaultfd_pte_wp", "include/linux/userfaultfd_k.h: userfaultfd_pte_wp()")
def userfaultfd_pte_wp(m: MachineView, vma: Any, pte: Any) -> bool:
    return bool(vma.vm_flags & VM_UFFD_WP) and _pte(pte, "userfaultfd_pte_wp").uffd_wp


@primitive("pte_needs_soft_dirty_wp", "mm/internal.h: pte_needs_soft_dirty_wp()", prefer=True)
def pte_needs_soft_dirty_wp(m: MachineView, vma: Any, pte: Any) -> bool:
    # vma_soft_dirty_enabled(): tracking is on when VM_SOFTDIRTY is clear.
    return not (vma.vm_flags & VM_SOFTDIRTY) and not _pte(pte, "pte_soft_dirty").soft_dirty


@primitive("lookup_swap_cgroup_id", "mm/swap_cgroup.c: lookup_swap_cgroup_id()")
def lookup_swap_cgroup_id(m: MachineView, entry: Any) -> int:
    return int(m.world.swap_cgroup.get(entry.offset, 0))


# --- page-table access ------------------------------------------------------
def _map(m: MachineView, pmd: object, addr: int, label: str) -> PtePtr | NullPtr:
    world = m.world
    if not isinstance(pmd, Pmd):
        raise NotModelled(f"{label} on {type(pmd).__name__}")
    if addr >> PMD_SHIFT != pmd.index:
        raise SimFault(Kind.OUTSIDE, f"{label}(): address {addr:#x} is not under this pmd")
    world.map_lock_calls += 1
    n = world.map_lock_calls
    races = world.races
    if races.table_freed_at_map == n:
        world.table(pmd.index).freed = True
        m.note("table-freed", n)
        return NULL
    if races.pte_changed_at_map == n:
        world.fault_in_elsewhere(addr)
        m.note("pte-changed", addr)
        if world.on_race is not None:
            world.on_race()
    handle = world.map(pmd.index, f"{label} #{n}")
    return PtePtr(handle, (addr >> PAGE_SHIFT) % PTRS_PER_PTE)


def lock(m: MachineView, ptl: Any, who: str) -> None:
    if ptl is None or isinstance(ptl, NullPtr):
        raise SimFault(Kind.NULL, f"{who}: NULL lock")
    if not hasattr(ptl, "held"):
        raise SimFault(Kind.UNINITIALISED, f"{who}: not a lock ({ptl!r})")
    if ptl.held:
        raise SimFault(Kind.LOCK, f"{who}: {ptl.name} already held (deadlock)")
    ptl.held = True


def unlock(m: MachineView, ptl: Any, who: str) -> None:
    if ptl is None or isinstance(ptl, NullPtr) or not hasattr(ptl, "held"):
        raise SimFault(Kind.LOCK, f"{who}: not a lock ({ptl!r})")
    if not ptl.held:
        raise SimFault(Kind.LOCK, f"{who}: {ptl.name} is not held")
    ptl.held = False


@primitive("pte_offset_map_lock", "include/linux/mm.h: pte_offset_map_lock()")
def pte_offset_map_lock(m: MachineView, mm: object, pmd: object, addr: int, ptlp: object) -> Any:
    ptep = _map(m, pmd, addr, "pte_offset_map_lock")
    if isinstance(ptep, PtePtr):
        ptl = ptep.handle.table.ptl
        lock(m, ptl, "pte_offset_map_lock")
        if not isinstance(ptlp, VarRef | FieldRef):
            raise NotModelled("pte_offset_map_lock() storing the lock elsewhere")
        ptlp.store(ptl)
    return ptep


@primitive("pte_offset_map", "include/linux/pgtable.h: pte_offset_map()")
def pte_offset_map(m: MachineView, pmd: object, addr: int) -> Any:
    return _map(m, pmd, addr, "pte_offset_map")


@primitive("pte_offset_map_nolock", "mm/pgtable-generic.c: pte_offset_map_nolock()")
def pte_offset_map_nolock(m: MachineView, mm: object, pmd: object, addr: int, ptlp: object) -> Any:
    ptep = _map(m, pmd, addr, "pte_offset_map_nolock")
    if isinstance(ptep, PtePtr) and isinstance(ptlp, VarRef | FieldRef):
        ptlp.store(ptep.handle.table.ptl)
    return ptep


@primitive("pte_unmap", "include/linux/pgtable.h: pte_unmap()")
def pte_unmap(m: MachineView, ptep: object) -> None:
    p = _ptr(ptep, "pte_unmap")
    if not p.handle.live:
        raise SimFault(Kind.LOCK, f"pte_unmap() of an already unmapped pointer ({p.handle.label})")
    p.handle.live = False


@primitive("pte_unmap_unlock", "include/linux/mm.h: pte_unmap_unlock()")
def pte_unmap_unlock(m: MachineView, ptep: object, ptl: object) -> None:
    unlock(m, ptl, "pte_unmap_unlock")
    pte_unmap(m, ptep)


@primitive("spin_lock", "include/linux/spinlock.h: spin_lock()")
def spin_lock(m: MachineView, ptl: object) -> None:
    lock(m, ptl, "spin_lock")


@primitive("spin_unlock", "include/linux/spinlock.h: spin_unlock()")
def spin_unlock(m: MachineView, ptl: object) -> None:
    unlock(m, ptl, "spin_unlock")


@primitive("set_ptes", "include/linux/pgtable.h: set_ptes()")
def set_ptes(m: MachineView, mm: object, addr: int, ptep: object, pte: object, nr: int) -> None:
    p = _ptr(ptep, "set_ptes")
    value = _pte(pte, "set_ptes")
    table = p.handle.table
    if p.handle.live and not table.freed and not table.ptl.held:
        raise SimFault(Kind.LOCK, "set_ptes() without the page table lock held")
    if walked(m, nr, "set_ptes") < 1:
        raise SimFault(Kind.WRONG_COUNT, f"set_ptes() of {nr} entries")
    if p.handle.live and 0 <= p.index < PTRS_PER_PTE and table.address(p.index) != addr:
        raise SimFault(
            Kind.WRONG_PAGE,
            f"set_ptes() at {addr:#x} through a pointer to the entry of "
            f"{table.address(p.index):#x}",
        )
    present = value.kind == "present"
    head, pfn, tail = value[:1], value.pfn, value[2:]
    done = 0
    if p.handle.live and not table.freed:
        # Up to 512 entries: stored straight into the table while in bounds
        # (what PtePtr.store() checks); the first entry out of bounds goes
        # through store() below, which raises as it always did.
        start = p.index
        done = max(0, min(nr, PTRS_PER_PTE - start)) if start >= 0 else 0
        table.entries[start : start + done] = pte_run(value, done) if present else [value] * done
    for i in range(done, nr):
        p.moved(i).store(_make(Pte, (*head, pfn + i, *tail)) if present else value)
    m.note("set_ptes", (addr, nr))


@primitive("set_pte_at", "include/linux/pgtable.h: set_pte_at()")
def set_pte_at(m: MachineView, mm: object, addr: int, ptep: object, pte: object) -> None:
    set_ptes(m, mm, addr, ptep, pte, 1)


@primitive(
    "update_mmu_cache_range",
    "arch/x86/include/asm/pgtable.h: update_mmu_cache_range()",
    kind=OBSERVED,
)
def update_mmu_cache_range(
    m: MachineView, vmf: object, vma: object, addr: int, ptep: object, nr: int
) -> None:
    # A no-op on x86, but other architectures read the PTEs: they must be live.
    p = _ptr(ptep, "update_mmu_cache_range")
    count = max(walked(m, nr, "update_mmu_cache_range"), 1)
    table = p.handle.table
    if p.handle.live and not table.freed and p.index >= 0 and p.index + count <= PTRS_PER_PTE:
        return  # every entry loads: a live map, in bounds (PtePtr.load's checks)
    for i in range(count):
        p.moved(i).load()


noop("arch_swap_restore", cites="include/linux/pgtable.h: arch_swap_restore(): no-op on x86")


# Observed stubs: no-ops on x86, but arm64 (MTE) and icache-incoherent
# architectures need them for every page mapped; the invariants check that.
@primitive("flush_icache_pages", "include/linux/cacheflush.h: flush_icache_pages()", kind=OBSERVED)
def flush_icache_pages(m: MachineView, vma: Any, page: Any, nr: int) -> None:
    m.note("flush_icache", (page.pfn, nr))


@primitive("flush_icache_page", "include/linux/cacheflush.h: flush_icache_page()", kind=OBSERVED)
def flush_icache_page(m: MachineView, vma: Any, page: Any) -> None:
    m.note("flush_icache", (page.pfn, 1))


@primitive("arch_do_swap_page_nr", "include/linux/pgtable.h: arch_do_swap_page_nr()", kind=OBSERVED)
def arch_do_swap_page_nr(
    m: Any, mm: Any, vma: Any, addr: int, pte: Any, orig_pte: Any, nr: int
) -> None:
    m.note("arch_do_swap_page", (addr, nr * PAGE_SIZE))


@primitive("arch_do_swap_page", "include/linux/pgtable.h: arch_do_swap_page()", kind=OBSERVED)
def arch_do_swap_page(
    m: MachineView, mm: object, vma: object, addr: int, pte: object, orig_pte: object
) -> None:
    m.note("arch_do_swap_page", (addr, PAGE_SIZE))


@primitive("pte_lockptr", "include/linux/mm.h: pte_lockptr()")
def pte_lockptr(m: MachineView, mm: object, pmd: object) -> Any:
    if not isinstance(pmd, Pmd):
        raise NotModelled(f"pte_lockptr on {type(pmd).__name__}")
    return m.world.table(pmd.index).ptl


@primitive("maybe_mkwrite", "include/linux/mm.h: maybe_mkwrite()")
def maybe_mkwrite(m: MachineView, pte: Any, vma: Any) -> Pte:
    from sim.kernel.constants import VM_WRITE

    p = _pte(pte, "maybe_mkwrite")
    return p.set(write=True) if vma.vm_flags & VM_WRITE else p


@primitive("pte_index", "include/linux/pgtable.h: pte_index()")
def pte_index(m: MachineView, addr: int) -> int:
    return (addr >> PAGE_SHIFT) & (PTRS_PER_PTE - 1)


@primitive("lockdep_assert_held", "include/linux/lockdep.h: lockdep_assert_held()")
def lockdep_assert_held(m: MachineView, lock_: object) -> None:
    if not getattr(lock_, "held", False):
        raise SimFault(Kind.LOCK, "lockdep_assert_held(): the lock is not held")
