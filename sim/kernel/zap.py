"""Unmapping: clearing PTE ranges, the mmu_gather, rmap removal, freeing swap
entries, uffd-wp markers (pgtable.h, asm-generic/tlb.h, rmap.c, swapfile.c,
swapops.h, mm.h).  zap_pte_range() and its static helpers run from the tree.
"""

from __future__ import annotations

from typing import Any

from sim.faults import Kind, NotModelled, SimFault
from sim.kernel import OBSERVED, MachineView, noop, primitive
from sim.kernel.constants import CONSTANTS, VM_UFFD_WP
from sim.kernel.folio import _folio, _page
from sim.kernel.pgtable import _pte, _ptr
from sim.model.mm import MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES, PtePtr
from sim.model.pte import PTE_NONE, SWP_MIGRATION, SWP_PTE_MARKER, Pte, SwapEntry
from sim.model.tlb import MmuGather, ZapWorld
from sim.values import NULL

# include/linux/swapops.h, include/linux/mm_types.h, mm/internal.h, mm/internal.h
PTE_MARKER_UFFD_WP = 1 << 0
PTE_MARKER_POISONED = 1 << 1
ZAP_FLAG_DROP_MARKER = 1 << 0
CONSTANTS.update(
    {
        "NR_MM_COUNTERS": 4,
        "PTE_MARKER_UFFD_WP": PTE_MARKER_UFFD_WP,
        "PTE_MARKER_POISONED": PTE_MARKER_POISONED,
        "PTE_MARKER_MASK": 3,
        "ZAP_FLAG_DROP_MARKER": ZAP_FLAG_DROP_MARKER,
        "FPB_IGNORE_DIRTY": 1 << 0,
        "FPB_IGNORE_SOFT_DIRTY": 1 << 1,
        "VM_UFFD_WP": VM_UFFD_WP,
        "VM_PFNMAP": 0x400,
        "VM_MIXEDMAP": 0x10000000,
        "highest_memmap_pfn": 1 << 40,
    }
)
ZERO_PFN = 0x1  # the shared zero page (mm/memory.c: zero_pfn)


def _tlb(v: Any, fn: str) -> MmuGather:
    if not isinstance(v, MmuGather):
        raise NotModelled(f"{fn} on {type(v).__name__}")
    return v


def _locked_range(ptep: Any, addr: int, nr: int, fn: str) -> PtePtr:
    """A run of ``nr`` entries from ``ptep``: live, in one table, under its PTL."""
    p = _ptr(ptep, fn)
    p.load()  # a stale pointer fails here, before anything is changed
    p.moved(nr - 1).load() if nr > 0 else None
    table = p.handle.table
    if not table.ptl.held:
        raise SimFault(Kind.LOCK, f"{fn}() without the page table lock held")
    if nr < 1:
        raise SimFault(Kind.WRONG_COUNT, f"{fn}() of {nr} entries")
    if table.address(p.index) != addr:
        raise SimFault(
            Kind.WRONG_PAGE,
            f"{fn}() at {addr:#x} through a pointer to the entry of {table.address(p.index):#x}",
        )
    return p


def _clear(m: MachineView, ptep: object, addr: int, nr: int, fn: str) -> list[Pte]:
    p = _locked_range(ptep, addr, nr, fn)
    entries = p.handle.table.entries
    old = entries[p.index : p.index + nr]
    entries[p.index : p.index + nr] = [PTE_NONE] * nr
    m.note("clear", (addr, nr))
    return old


@primitive("ptep_get_and_clear_full", "include/linux/pgtable.h: ptep_get_and_clear_full()")
def ptep_get_and_clear_full(m: MachineView, mm: object, addr: int, ptep: object, full: int) -> Pte:
    return _clear(m, ptep, addr, 1, "ptep_get_and_clear_full")[0]


@primitive("get_and_clear_full_ptes", "include/linux/pgtable.h: get_and_clear_full_ptes()")
def get_and_clear_full_ptes(
    m: MachineView, mm: object, addr: int, ptep: object, nr: int, full: int
) -> Pte:
    # The first PTE, with the dirty and young bits of all of them.
    old = _clear(m, ptep, addr, nr, "get_and_clear_full_ptes")
    first = old[0]
    return first._replace(
        dirty=any(p.dirty for p in old if p.kind == "present"),
        young=any(p.young for p in old if p.kind == "present"),
    )


@primitive("clear_full_ptes", "include/linux/pgtable.h: clear_full_ptes()")
def clear_full_ptes(
    m: MachineView, mm: object, addr: int, ptep: object, nr: int, full: int
) -> None:
    _clear(m, ptep, addr, nr, "clear_full_ptes")


@primitive("clear_not_present_full_ptes", "include/linux/pgtable.h: clear_not_present_full_ptes()")
def clear_not_present_full_ptes(
    m: MachineView, mm: object, addr: int, ptep: object, nr: int, full: int
) -> None:
    old = _clear(m, ptep, addr, nr, "clear_not_present_full_ptes")
    if any(p.kind == "present" for p in old):
        raise SimFault(Kind.WRONG_PAGE, "clear_not_present_full_ptes() of a present PTE")


@primitive("pte_clear", "arch/x86/include/asm/pgtable.h: pte_clear()")
def pte_clear(m: MachineView, mm: object, addr: int, ptep: object) -> None:
    _clear(m, ptep, addr, 1, "pte_clear")


@primitive("pte_batch_hint", "include/linux/pgtable.h: pte_batch_hint(): 1 without contpte")
def pte_batch_hint(m: MachineView, ptep: object, pte: object) -> int:
    return 1


@primitive("pte_special", "arch/x86/include/asm/pgtable.h: pte_special()")
def pte_special(m: MachineView, pte: object) -> bool:
    # Only the zero page is mapped special in the model.
    return _pte(pte, "pte_special").pfn == ZERO_PFN


@primitive("is_zero_pfn", "include/linux/pgtable.h: is_zero_pfn()")
def is_zero_pfn(m: MachineView, pfn: int) -> bool:
    return pfn == ZERO_PFN


noop("pte_devmap", cites="include/linux/pgtable.h: pte_devmap(): no ZONE_DEVICE", result=False)


@primitive("vm_normal_page", "mm/memory.c: vm_normal_page()")
def vm_normal_page(m: MachineView, vma: object, addr: int, pte: object) -> Any:
    # Used only when the tree does not define it; the tree's runs otherwise.
    p = _pte(pte, "vm_normal_page")
    page = m.world.page_of_pfn(p.pfn) if p.pfn != ZERO_PFN else None
    return NULL if page is None else page


@primitive("pfn_to_page", "include/asm-generic/memory_model.h: pfn_to_page()")
def pfn_to_page(m: MachineView, pfn: int) -> Any:
    page = m.world.page_of_pfn(pfn)
    if page is None:
        raise NotModelled(f"pfn_to_page({pfn:#x}): a page outside the model's folios")
    return page


@primitive("pfn_swap_entry_folio", "include/linux/swapops.h: pfn_swap_entry_folio()")
def pfn_swap_entry_folio(m: MachineView, entry: Any) -> Any:
    page = pfn_to_page(m, entry.offset)
    if SWP_MIGRATION <= entry.type <= SWP_MIGRATION + 2 and not page.folio.f.locked:
        # The kernel BUG_ON()s a migration entry of an unlocked folio.
        raise SimFault(Kind.BUG_ON, "pfn_swap_entry_folio(): migration entry, folio not locked")
    return page.folio


@primitive("mm_counter", "include/linux/mm.h: mm_counter()")
def mm_counter(m: MachineView, folio: object) -> int:
    f = _folio(folio, "mm_counter")
    if f.f.anon:
        return MM_ANONPAGES
    return MM_SHMEMPAGES if f.f.swapbacked else MM_FILEPAGES


@primitive("mm_counter_file", "include/linux/mm.h: mm_counter_file()")
def mm_counter_file(m: MachineView, folio: object) -> int:
    return MM_SHMEMPAGES if _folio(folio, "mm_counter_file").f.swapbacked else MM_FILEPAGES


@primitive("vma_is_anonymous", "include/linux/mm.h: vma_is_anonymous()")
def vma_is_anonymous(m: MachineView, vma: object) -> bool:
    return not getattr(vma, "vm_ops", NULL)


@primitive("userfaultfd_wp", "include/linux/userfaultfd_k.h: userfaultfd_wp()")
def userfaultfd_wp(m: MachineView, vma: Any) -> bool:
    return bool(vma.vm_flags & VM_UFFD_WP)


@primitive("vma_has_recency", "include/linux/mm_inline.h: vma_has_recency()", prefer=True)
def vma_has_recency(m: MachineView, vma: object) -> bool:
    return True  # no VM_SEQ_READ/VM_RAND_READ, no FMODE_NOREUSE file


# --- markers (include/linux/swapops.h, userfaultfd_k.h) ---------------------
@primitive("make_pte_marker", "include/linux/swapops.h: make_pte_marker()")
def make_pte_marker(m: MachineView, marker: int) -> Pte:
    return Pte.swap(SwapEntry(SWP_PTE_MARKER, marker))


@primitive("make_pte_marker_entry", "include/linux/swapops.h: make_pte_marker_entry()")
def make_pte_marker_entry(m: MachineView, marker: int) -> SwapEntry:
    return SwapEntry(SWP_PTE_MARKER, marker)


@primitive("pte_marker_get", "include/linux/swapops.h: pte_marker_get()")
def pte_marker_get(m: MachineView, entry: Any) -> int:
    return int(entry.offset) & 3


@primitive("is_pte_marker", "include/linux/swapops.h: is_pte_marker()")
def is_pte_marker(m: MachineView, pte: object) -> bool:
    p = _pte(pte, "is_pte_marker")
    return p.kind == "swap" and p.swp_type == SWP_PTE_MARKER


@primitive("pte_marker_entry_uffd_wp", "include/linux/userfaultfd_k.h: pte_marker_entry_uffd_wp()")
def pte_marker_entry_uffd_wp(m: MachineView, entry: Any) -> bool:
    return bool(entry.type == SWP_PTE_MARKER and entry.offset & PTE_MARKER_UFFD_WP)


@primitive("pte_marker_uffd_wp", "include/linux/userfaultfd_k.h: pte_marker_uffd_wp()")
def pte_marker_uffd_wp(m: MachineView, pte: object) -> bool:
    p = _pte(pte, "pte_marker_uffd_wp")
    return p.kind == "swap" and p.swp_type == SWP_PTE_MARKER and bool(p.swp_offset & 1)


@primitive("pte_swp_uffd_wp_any", "include/linux/userfaultfd_k.h: pte_swp_uffd_wp_any()")
def pte_swp_uffd_wp_any(m: MachineView, pte: object) -> bool:
    p = _pte(pte, "pte_swp_uffd_wp_any")
    return p.kind == "swap" and (p.uffd_wp or pte_marker_uffd_wp(m, p))


@primitive("is_poisoned_swp_entry", "include/linux/swapops.h: is_poisoned_swp_entry()")
def is_poisoned_swp_entry(m: MachineView, entry: Any) -> bool:
    return bool(entry.type == SWP_PTE_MARKER and entry.offset & PTE_MARKER_POISONED)


# --- swap ---------------------------------------------------------------------
@primitive("free_swap_and_cache_nr", "mm/swapfile.c: free_swap_and_cache_nr()")
def free_swap_and_cache_nr(m: MachineView, entry: Any, nr: int) -> None:
    si = m.world.swap
    if entry.type != si.type:
        raise NotModelled(f"free_swap_and_cache_nr() of swap type {entry.type}")
    if nr < 1:
        raise SimFault(Kind.WRONG_COUNT, f"free_swap_and_cache_nr() of {nr} entries")
    for off in range(entry.offset, entry.offset + nr):
        count = si.swap_map.get(off, 0)
        if count <= 0:
            raise SimFault(
                Kind.WRONG_COUNT,
                f"free_swap_and_cache_nr(): swap entry {off:#x} freed twice (swap_map is 0)",
            )
        si.swap_map[off] = count - 1
        if si.swap_map[off] == 0 and off in si.cache:
            raise NotModelled("free_swap_and_cache_nr() reclaiming a swap cache folio")
    m.note("swap_free", (entry.offset, nr))


# --- rmap and the mmu_gather --------------------------------------------------
def _remove_rmap(m: MachineView, folio: object, page: object, nr: int, who: str) -> None:
    f, p = _folio(folio, who), _page(page, who)
    if p.folio is not f:
        raise SimFault(Kind.WRONG_PAGE, f"{who}(): the page is not in this folio")
    if nr < 1 or p.idx + nr > f.nr:
        raise SimFault(
            Kind.OUT_OF_BOUNDS, f"{who}(): pages {p.idx}..{p.idx + nr - 1} of a {f.nr}-page folio"
        )
    counts = f.page_mapcount
    for idx in range(p.idx, p.idx + nr):
        if counts[idx] <= 0:
            raise SimFault(Kind.WRONG_COUNT, f"{who}(): page {idx} of the folio is not mapped")
        counts[idx] -= 1
    m.note("rmap_remove", (id(f), p.idx, nr))


@primitive("folio_remove_rmap_ptes", "mm/rmap.c: folio_remove_rmap_ptes()")
def folio_remove_rmap_ptes(
    m: MachineView, folio: object, page: object, nr: int, vma: object
) -> None:
    _remove_rmap(m, folio, page, nr, "folio_remove_rmap_ptes")


@primitive("folio_remove_rmap_pte", "include/linux/rmap.h: folio_remove_rmap_pte()")
def folio_remove_rmap_pte(m: MachineView, folio: object, page: object, vma: object) -> None:
    _remove_rmap(m, folio, page, 1, "folio_remove_rmap_pte")


@primitive("tlb_delay_rmap", "include/asm-generic/tlb.h: tlb_delay_rmap() (CONFIG_SMP)")
def tlb_delay_rmap(m: MachineView, tlb: object) -> bool:
    _tlb(tlb, "tlb_delay_rmap").delayed_rmap = 1
    return True


@primitive("__tlb_remove_folio_pages", "mm/mmu_gather.c: __tlb_remove_folio_pages()")
def tlb_remove_folio_pages(
    m: MachineView, tlb: object, page: object, nr: int, delay_rmap: object
) -> bool:
    t = _tlb(tlb, "__tlb_remove_folio_pages")
    p = _page(page, "__tlb_remove_folio_pages")
    if nr < 1 or p.idx + nr > p.folio.nr:
        raise SimFault(Kind.OUT_OF_BOUNDS, f"__tlb_remove_folio_pages() of {nr} pages")
    t.gathered.append((p, nr, bool(delay_rmap)))
    t.taken += nr
    m.note("tlb_gather", (id(p.folio), p.idx, nr))
    return bool(t.room) and t.taken >= t.room  # the batch is full: flush first


@primitive("tlb_flush_rmaps", "mm/mmu_gather.c: tlb_flush_rmaps()")
def tlb_flush_rmaps(m: MachineView, tlb: object, vma: object) -> None:
    t = _tlb(tlb, "tlb_flush_rmaps")
    if not t.delayed_rmap:
        return
    for i, (page, nr, delayed) in enumerate(t.gathered):
        if delayed:
            _remove_rmap(m, page.folio, page, nr, "tlb_flush_rmaps")
            t.gathered[i] = (page, nr, False)
    t.delayed_rmap = 0


@primitive("tlb_flush_mmu", "mm/mmu_gather.c: tlb_flush_mmu()")
def tlb_flush_mmu(m: MachineView, tlb: object) -> None:
    """Flush the TLB and free the gathered pages' references."""
    t = _tlb(tlb, "tlb_flush_mmu")
    for page, nr, delayed in t.gathered:
        if delayed:
            raise SimFault(
                Kind.WRONG_COUNT, "tlb_flush_mmu(): a page freed before its delayed rmap removal"
            )
        page.folio.refcount -= nr
    t.gathered.clear()
    t.taken = 0


@primitive("need_resched", "include/linux/sched.h: need_resched()")
def need_resched(m: MachineView) -> bool:
    world = m.world
    if not isinstance(world, ZapWorld):
        return False  # no scheduler in this world: never asked to yield
    world.resched_calls += 1
    return bool(world.resched_at) and world.resched_calls >= world.resched_at


@primitive("folio_mark_dirty", "mm/page-writeback.c: folio_mark_dirty()", kind=OBSERVED)
def folio_mark_dirty(m: MachineView, folio: object) -> bool:
    m.note("folio_mark_dirty", id(_folio(folio, "folio_mark_dirty")))
    return True


@primitive("folio_mark_accessed", "mm/swap.c: folio_mark_accessed()", kind=OBSERVED)
def folio_mark_accessed(m: MachineView, folio: object) -> None:
    m.note("folio_mark_accessed", id(_folio(folio, "folio_mark_accessed")))


noop(
    "tlb_change_page_size",
    "tlb_remove_tlb_entry",
    "tlb_remove_tlb_entries",
    "tlb_flush_mmu_tlbonly",
    "flush_tlb_batched_pending",
    "arch_enter_lazy_mmu_mode",
    "arch_leave_lazy_mmu_mode",
    "arch_check_zapped_pte",
    "ksm_might_unmap_zero_page",
    "pr_alert",
    cites="include/asm-generic/tlb.h, include/linux/pgtable.h: TLB flushes and lazy MMU "
    "mode, invisible to the model (pages are freed by tlb_flush_mmu())",
)
