"""MADV_FREE, MADV_COLD and MADV_PAGEOUT on PTEs: young/dirty clearing, LRU
isolation, folio splitting, page walks (pgtable.h, huge_memory.c, swap.c,
vmscan.c, pagewalk.h).  The madvise walkers run from the tree.
"""

from __future__ import annotations

import copy
from typing import Any

from sim.faults import Kind, NotModelled, SimFault
from sim.kernel import OBSERVED, MachineView, noop, primitive
from sim.kernel.constants import CONSTANTS
from sim.kernel.folio import _folio
from sim.kernel.pgtable import lock
from sim.kernel.zap import _locked_range
from sim.model.mm import Folio, Page
from sim.model.pte import Pte
from sim.values import NULL, VarRef

CYDP_CLEAR_YOUNG = 1 << 0  # include/linux/mm_types.h
CYDP_CLEAR_DIRTY = 1 << 1
EAGAIN = 11
CONSTANTS.update(
    {
        "CYDP_CLEAR_YOUNG": CYDP_CLEAR_YOUNG,
        "CYDP_CLEAR_DIRTY": CYDP_CLEAR_DIRTY,
        "SWAP_CLUSTER_MAX": 32,
        "EINTR": 4,
        "HPAGE_PMD_SIZE": 1 << 21,
    }
)


class FolioList:
    """``LIST_HEAD(folio_list)``: the folios isolated for reclaim."""

    def __init__(self) -> None:
        self.folios: list[Folio] = []


@primitive("LIST_HEAD", "include/linux/list.h: LIST_HEAD()", lazy=True)
def list_head(m: MachineView, f: Any, texts: Any, args: Any) -> None:
    f.vars[texts[0].strip()] = FolioList()


@primitive("list_add", "include/linux/list.h: list_add()")
def list_add(m: MachineView, entry: object, head: object) -> None:
    # list_add(&folio->lru, &folio_list): the folio onto the local list.
    lst = head.load() if isinstance(head, VarRef) else head
    if not isinstance(lst, FolioList) or not hasattr(entry, "obj"):
        raise NotModelled("list_add() of anything but a folio onto a local folio list")
    lst.folios.append(_folio(entry.obj, "list_add"))


@primitive("reclaim_pages", "mm/vmscan.c: reclaim_pages()", kind=OBSERVED)
def reclaim_pages(m: MachineView, head: object) -> int:
    # Stands for shrink_folio_list() failing to reclaim: every folio goes
    # back to the LRU with the reference folio_isolate_lru() took dropped.
    lst = head.load() if isinstance(head, VarRef) else head
    if not isinstance(lst, FolioList):
        raise NotModelled("reclaim_pages() of anything but a local folio list")
    for folio in lst.folios:
        m.note("reclaim", id(folio))
        folio.f.lru = True
        folio.refcount -= 1
    lst.folios.clear()
    return 0


# A PMD mapping a THP is a Pmd with ``huge_folio`` set (sim/entries/madvise_spec.py:
# HugePmd); ``*pmd`` passes that object on, so orig_pmd reads it live.
@primitive("pmd_trans_huge", "include/linux/huge_mm.h: pmd_trans_huge()")
def pmd_trans_huge(m: MachineView, pmd: object) -> bool:
    return getattr(pmd, "huge_folio", None) is not None


@primitive("pmd_trans_huge_lock", "include/linux/huge_mm.h: pmd_trans_huge_lock()")
def pmd_trans_huge_lock(m: MachineView, pmd: Any, vma: Any) -> Any:
    if not pmd_trans_huge(m, pmd):
        return NULL
    lock(m, pmd.ptl, "pmd_trans_huge_lock")
    return pmd.ptl


@primitive("pmd_folio", "include/linux/huge_mm.h: pmd_folio()")
def pmd_folio(m: MachineView, pmd: Any) -> Any:
    if not pmd_trans_huge(m, pmd):
        raise NotModelled("pmd_folio() of a PMD that maps no THP")
    return pmd.huge_folio


@primitive("pmd_young", "arch/x86/include/asm/pgtable.h: pmd_young()")
def pmd_young(m: MachineView, pmd: object) -> bool:
    return bool(getattr(pmd, "young", False))


@primitive("pmdp_test_and_clear_young", "arch/x86/mm/pgtable.c: pmdp_test_and_clear_young()")
def pmdp_test_and_clear_young(m: MachineView, vma: Any, addr: int, pmd: Any) -> bool:
    if not getattr(pmd, "ptl", None) or not pmd.ptl.held:
        raise SimFault(Kind.LOCK, "pmdp_test_and_clear_young() without the PMD lock held")
    was = bool(pmd.young)
    pmd.young = False
    m.note("clear_young_dirty", (addr & ~((1 << 21) - 1), 512))
    return was


noop("is_huge_zero_pmd", cites="include/linux/huge_mm.h: no huge zero page", result=False)
noop("pmd_present", cites="arch/x86/include/asm/pgtable.h: a THP PMD is present", result=True)
noop("tlb_remove_pmd_tlb_entry", cites="include/asm-generic/tlb.h: TLB flush, invisible")


@primitive("clear_young_dirty_ptes", "include/linux/pgtable.h: clear_young_dirty_ptes()")
def clear_young_dirty_ptes(
    m: MachineView, vma: object, addr: int, ptep: object, nr: int, flags: int
) -> None:
    p = _locked_range(ptep, addr, nr, "clear_young_dirty_ptes")
    entries = p.handle.table.entries
    for i in range(p.index, p.index + nr):
        pte = entries[i]
        if pte.kind != "present":
            raise SimFault(Kind.WRONG_PAGE, "clear_young_dirty_ptes() of a PTE that is not present")
        if flags & CYDP_CLEAR_YOUNG:
            pte = pte._replace(young=False)
        if flags & CYDP_CLEAR_DIRTY:
            pte = pte._replace(dirty=False)
        entries[i] = pte
    m.note("clear_young_dirty", (addr, nr))


@primitive("pte_clear_not_present_full", "include/linux/pgtable.h: pte_clear_not_present_full()")
def pte_clear_not_present_full(
    m: MachineView, mm: object, addr: int, ptep: object, full: int
) -> None:
    from sim.kernel.zap import clear_not_present_full_ptes

    clear_not_present_full_ptes(m, mm, addr, ptep, 1, full)


@primitive("folio_trylock", "include/linux/pagemap.h: folio_trylock()")
def folio_trylock(m: MachineView, folio: object) -> bool:
    f = _folio(folio, "folio_trylock")
    if f.f.locked:
        return False
    f.f.locked = True
    return True


@primitive("folio_likely_mapped_shared", "include/linux/mm.h: folio_likely_mapped_shared()")
def folio_likely_mapped_shared(m: MachineView, folio: object) -> bool:
    f = _folio(folio, "folio_likely_mapped_shared")
    mapcount = sum(f.page_mapcount)
    if f.order == 0:
        return mapcount > 1
    if mapcount <= 1:
        return False
    return mapcount > f.nr or f.page_mapcount[0] > 1


@primitive(
    "split_folio", "include/linux/huge_mm.h: split_folio() -> split_huge_page_to_list_to_order()"
)
def split_folio(m: MachineView, folio: object) -> int:
    """Split a locked large folio into order-0 folios; ``folio`` becomes the
    head page's.  Fails with -EAGAIN when the world says so (extra pins)."""
    f = _folio(folio, "split_folio")
    if not f.f.locked:
        raise SimFault(Kind.LOCK, "split_folio() of a folio that is not locked")
    world = m.world
    if f.order == 0:
        return 0
    if id(f) in world.split_fails:
        m.note("split_failed", id(f))
        return -EAGAIN
    pmd = getattr(world, "huge_pmds", {}).get(id(f))
    if pmd is not None and pmd.huge_folio is f:
        # __split_huge_pmd(): the PMD becomes a table of PTEs with its bits.
        entries = world.table(pmd.index).entries
        for i in range(f.nr):
            entries[i] = Pte.present(
                f.pfn + i, young=bool(pmd.young), dirty=bool(pmd.dirty), write=True
            )
        pmd.huge_folio = None
    extra = f.refcount - sum(f.page_mapcount)  # the caller's and others' pins
    tails: list[Folio] = []
    for page in f.pages[1:]:
        tail = type(f)(page.pfn, 0)
        tail.f = copy.copy(f.f)
        tail.f.locked = False
        new_page = tail.page
        new_page.mapcount = page.mapcount
        new_page.anon_exclusive = page.anon_exclusive
        tail.refcount = page.mapcount
        tails.append(tail)
    head: Page = f.keep_head()
    f.refcount = head.mapcount + extra
    world.folios.extend(tails)
    m.note("split", (f.pfn, len(tails) + 1))
    return 0


@primitive("folio_isolate_lru", "mm/vmscan.c: folio_isolate_lru()")
def folio_isolate_lru(m: MachineView, folio: object) -> bool:
    f = _folio(folio, "folio_isolate_lru")
    if not f.f.lru:
        return False
    f.f.lru = False
    f.refcount += 1
    m.note("isolate", id(f))
    return True


@primitive("folio_putback_lru", "mm/vmscan.c: folio_putback_lru()")
def folio_putback_lru(m: MachineView, folio: object) -> None:
    f = _folio(folio, "folio_putback_lru")
    f.f.lru = True
    f.refcount -= 1


@primitive("folio_deactivate", "mm/swap.c: folio_deactivate()", kind=OBSERVED)
def folio_deactivate(m: MachineView, folio: object) -> None:
    m.note("deactivate", id(_folio(folio, "folio_deactivate")))


@primitive("folio_mark_lazyfree", "mm/swap.c: folio_mark_lazyfree()", kind=OBSERVED)
def folio_mark_lazyfree(m: MachineView, folio: object) -> None:
    f = _folio(folio, "folio_mark_lazyfree")
    m.note("lazyfree", id(f))


@primitive("folio_test_dirty", "include/linux/page-flags.h: folio_test_dirty()")
def folio_test_dirty(m: MachineView, folio: object) -> bool:
    return _folio(folio, "folio_test_dirty").f.dirty


@primitive("folio_clear_dirty", "include/linux/page-flags.h: folio_clear_dirty()")
def folio_clear_dirty(m: MachineView, folio: object) -> None:
    f = _folio(folio, "folio_clear_dirty")
    if not f.f.locked:
        raise SimFault(Kind.LOCK, "folio_clear_dirty() of a folio that is not locked")
    f.f.dirty = False


noop(
    "folio_test_active",
    "folio_test_unevictable",
    "folio_is_zone_device",
    "fatal_signal_pending",
    "folio_test_hugetlb",
    cites="include/linux/page-flags.h, mm.h, sched/signal.h: no active list, mlock, "
    "ZONE_DEVICE, hugetlb or signals in the model",
    result=False,
)
noop(
    "folio_clear_referenced",
    "folio_test_clear_young",
    "folio_set_workingset",
    "cond_resched",
    cites="include/linux/page-flags.h, sched.h: page-age flags and scheduling, "
    "invisible to the model",
)
