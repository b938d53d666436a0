"""Folios, pages, rmap, refcounts and mm counters (mm.h, page-flags.h, rmap.c)."""

from __future__ import annotations

from typing import Any

from sim.faults import Kind, NotModelled, SimFault
from sim.kernel import OBSERVED, MachineView, noop, primitive
from sim.kernel.constants import RMAP_EXCLUSIVE, VM_FAULT_RETRY
from sim.model.mm import Folio, Page
from sim.values import NullPtr


def _folio(v: Any, fn: str) -> Folio:
    if isinstance(v, NullPtr):
        raise SimFault(Kind.NULL, f"{fn}() on a NULL folio")
    if not isinstance(v, Folio):
        raise NotModelled(f"{fn} on {type(v).__name__}")
    return v


def _page(v: Any, fn: str) -> Page:
    if isinstance(v, NullPtr):
        raise SimFault(Kind.NULL, f"{fn}() on a NULL page")
    if not isinstance(v, Page):
        raise NotModelled(f"{fn} on {type(v).__name__}")
    return v


def _flag_test(name: str, flag: str) -> None:
    def test(m: MachineView, folio: object) -> bool:
        return bool(getattr(_folio(folio, name).f, flag))

    primitive(name, f"include/linux/page-flags.h: {name}()")(test)


for _name, _flag in (
    ("folio_test_locked", "locked"),
    ("folio_test_swapcache", "swapcache"),
    ("folio_test_anon", "anon"),
    ("folio_test_uptodate", "uptodate"),
    ("folio_test_ksm", "ksm"),
    ("folio_test_lru", "lru"),
    ("folio_test_writeback", "writeback"),
    ("folio_test_mappedtodisk", "mappedtodisk"),
    ("folio_test_swapbacked", "swapbacked"),
    ("folio_test_mlocked", "mlocked"),
):
    _flag_test(_name, _flag)


@primitive("__folio_set_locked", "include/linux/page-flags.h: __folio_set_locked()")
def folio_set_locked_nonatomic(m: MachineView, folio: object) -> None:
    _folio(folio, "__folio_set_locked").f.locked = True


@primitive("__folio_set_swapbacked", "include/linux/page-flags.h: __folio_set_swapbacked()")
def folio_set_swapbacked(m: MachineView, folio: object) -> None:
    _folio(folio, "__folio_set_swapbacked").f.swapbacked = True


@primitive("folio_test_large", "include/linux/page-flags.h: folio_test_large()")
def folio_test_large(m: MachineView, folio: object) -> bool:
    return _folio(folio, "folio_test_large").order > 0


@primitive("folio_nr_pages", "include/linux/mm.h: folio_nr_pages()")
def folio_nr_pages(m: MachineView, folio: object) -> int:
    return _folio(folio, "folio_nr_pages").nr


@primitive("folio_order", "include/linux/mm.h: folio_order()")
def folio_order(m: MachineView, folio: object) -> int:
    return _folio(folio, "folio_order").order


@primitive("folio_page", "include/linux/page-flags.h: folio_page()")
def folio_page(m: MachineView, folio: object, n: int) -> Page:
    f = _folio(folio, "folio_page")
    if not 0 <= n < f.nr:
        raise SimFault(Kind.OUT_OF_BOUNDS, f"folio_page(): page {n} of a {f.nr}-page folio")
    return f.page_at(n)


@primitive("folio_file_page", "include/linux/pagemap.h: folio_file_page()")
def folio_file_page(m: MachineView, folio: object, index: int) -> Page:
    f = _folio(folio, "folio_file_page")
    return f.page_at(index & (f.nr - 1))


@primitive("folio_page_idx", "include/linux/mm.h: folio_page_idx()")
def folio_page_idx(m: MachineView, folio: object, page: object) -> int:
    f, p = _folio(folio, "folio_page_idx"), _page(page, "folio_page_idx")
    if p.folio is not f:
        raise SimFault(Kind.WRONG_PAGE, "folio_page_idx(): the page is not in this folio")
    return p.idx


@primitive("page_folio", "include/linux/page-flags.h: page_folio()")
def page_folio(m: MachineView, page: object) -> Folio:
    return _page(page, "page_folio").folio


@primitive("PageHWPoison", "include/linux/page-flags.h: PageHWPoison()")
def page_hwpoison(m: MachineView, page: object) -> bool:
    return _page(page, "PageHWPoison").hwpoison


@primitive("PageAnonExclusive", "include/linux/page-flags.h: PageAnonExclusive()")
def page_anon_exclusive(m: MachineView, page: object) -> bool:
    return _page(page, "PageAnonExclusive").anon_exclusive


@primitive("folio_lock_or_retry", "include/linux/pagemap.h: folio_lock_or_retry()")
def folio_lock_or_retry(m: MachineView, folio: object, vmf: object) -> int:
    f = _folio(folio, "folio_lock_or_retry")
    world = m.world
    if f.f.locked:
        return VM_FAULT_RETRY  # held by someone else: drop everything and retry
    if world.races.swapcache_dropped_at_lock:
        world.drop_from_swap_cache(f)
        m.note("swapcache-dropped", f.nr)
        if world.on_race is not None:
            world.on_race()
    f.f.locked = True
    return 0


@primitive("folio_lock", "include/linux/pagemap.h: folio_lock()")
def folio_lock(m: MachineView, folio: object) -> None:
    f = _folio(folio, "folio_lock")
    if f.f.locked:
        raise SimFault(Kind.LOCK, "folio_lock() of a folio already locked (deadlock)")
    f.f.locked = True


@primitive("folio_unlock", "mm/filemap.c: folio_unlock()")
def folio_unlock(m: MachineView, folio: object) -> None:
    f = _folio(folio, "folio_unlock")
    if not f.f.locked:
        raise SimFault(Kind.LOCK, "folio_unlock() of a folio that is not locked")
    f.f.locked = False


def _put(f: Folio, n: int, who: str) -> None:
    if f.refcount < n or (f.refcount == n and (f.f.swapcache or any(f.page_mapcount))):
        raise SimFault(
            Kind.WRONG_COUNT,
            f"{who}: refcount {f.refcount} dropped by {n} while the folio is still in use",
        )
    f.refcount -= n


@primitive("folio_put", "include/linux/mm.h: folio_put()")
def folio_put(m: MachineView, folio: object) -> None:
    _put(_folio(folio, "folio_put"), 1, "folio_put()")


@primitive("folio_put_refs", "include/linux/mm.h: folio_put_refs()")
def folio_put_refs(m: MachineView, folio: object, n: int) -> None:
    _put(_folio(folio, "folio_put_refs"), n, "folio_put_refs()")


@primitive("put_page", "include/linux/mm.h: put_page()")
def put_page(m: MachineView, page: object) -> None:
    _put(_page(page, "put_page").folio, 1, "put_page()")


@primitive("get_page", "include/linux/mm.h: get_page()")
def get_page(m: MachineView, page: object) -> None:
    _page(page, "get_page").folio.refcount += 1


@primitive("folio_get", "include/linux/mm.h: folio_get()")
def folio_get(m: MachineView, folio: object) -> None:
    _folio(folio, "folio_get").refcount += 1


@primitive("folio_ref_add", "include/linux/page_ref.h: folio_ref_add()")
def folio_ref_add(m: MachineView, folio: object, n: int) -> None:
    f = _folio(folio, "folio_ref_add")
    if f.refcount + n <= 0:
        raise SimFault(Kind.WRONG_COUNT, f"folio_ref_add({n}) drops the refcount to 0")
    f.refcount += n


@primitive("folio_ref_count", "include/linux/page_ref.h: folio_ref_count()")
def folio_ref_count(m: MachineView, folio: object) -> int:
    return _folio(folio, "folio_ref_count").refcount


@primitive("ksm_might_need_to_copy", "mm/ksm.c: ksm_might_need_to_copy()", kind=OBSERVED)
def ksm_might_need_to_copy(m: MachineView, folio: object, vma: object, addr: int) -> Any:
    f = _folio(folio, "ksm_might_need_to_copy")
    if f.f.ksm:
        raise NotModelled("ksm_might_need_to_copy() of a KSM folio")
    return f


def _rmap(m: MachineView, folio: object, page: object, nr: int, flags: int, who: str) -> None:
    f, p = _folio(folio, who), _page(page, who)
    if p.folio is not f:
        raise SimFault(Kind.WRONG_PAGE, f"{who}(): the page is not in this folio")
    if not f.f.locked:
        raise SimFault(Kind.LOCK, f"{who}() of a folio that is not locked")
    if nr < 1 or p.idx + nr > f.nr:
        raise SimFault(
            Kind.OUT_OF_BOUNDS, f"{who}(): pages {p.idx}..{p.idx + nr - 1} of a {f.nr}-page folio"
        )
    first, end = p.idx, p.idx + nr
    f.page_mapcount[first:end] = [count + 1 for count in f.page_mapcount[first:end]]
    if flags & RMAP_EXCLUSIVE:
        f.page_anon_exclusive[first:end] = [True] * nr
    m.note("rmap", (p.idx, nr))


@primitive("folio_add_anon_rmap_ptes", "mm/rmap.c: folio_add_anon_rmap_ptes()")
def folio_add_anon_rmap_ptes(
    m: Any, folio: Any, page: Any, nr: int, vma: Any, addr: int, flags: int
) -> None:
    _rmap(m, folio, page, nr, flags, "folio_add_anon_rmap_ptes")


@primitive("folio_add_anon_rmap_pte", "include/linux/rmap.h: folio_add_anon_rmap_pte()")
def folio_add_anon_rmap_pte(
    m: MachineView, folio: object, page: object, vma: object, addr: int, flags: int
) -> None:
    _rmap(m, folio, page, 1, flags, "folio_add_anon_rmap_pte")


@primitive("folio_add_new_anon_rmap", "mm/rmap.c: folio_add_new_anon_rmap()")
def folio_add_new_anon_rmap(
    m: MachineView, folio: object, vma: object, addr: int, flags: int
) -> None:
    f = _folio(folio, "folio_add_new_anon_rmap")
    f.f.anon = True
    f.page_mapcount[:] = [count + 1 for count in f.page_mapcount]
    if flags & RMAP_EXCLUSIVE:
        f.page_anon_exclusive[:] = [True] * len(f.page_anon_exclusive)
    m.note("rmap", (0, f.nr))


@primitive("add_mm_counter", "include/linux/mm.h: add_mm_counter()")
def add_mm_counter(m: MachineView, mm: Any, member: int, value: int) -> None:
    mm.counters[member] = mm.counters.get(member, 0) + value


@primitive("inc_mm_counter", "include/linux/mm.h: inc_mm_counter()")
def inc_mm_counter(m: MachineView, mm: object, member: int) -> None:
    add_mm_counter(m, mm, member, 1)


@primitive("dec_mm_counter", "include/linux/mm.h: dec_mm_counter()")
def dec_mm_counter(m: MachineView, mm: object, member: int) -> None:
    add_mm_counter(m, mm, member, -1)


@primitive("do_wp_page", "mm/memory.c: do_wp_page()", kind=OBSERVED, prefer=True)
def do_wp_page(m: MachineView, vmf: Any) -> int:
    # Stands for the write-protect fault that follows a read-only mapping:
    # entered with the PTE mapped and locked, it returns with both released.
    from sim.kernel.pgtable import pte_unmap_unlock

    m.note("do_wp_page", vmf.address)
    pte_unmap_unlock(m, vmf.pte, vmf.ptl)
    return 0


noop("folio_add_lru", "folio_add_lru_vma", cites="mm/swap.c: LRU insertion")


@primitive("page_to_pfn", "include/asm-generic/memory_model.h: page_to_pfn()")
def page_to_pfn(m: MachineView, page: object) -> int:
    return _page(page, "page_to_pfn").pfn


@primitive("folio_pfn", "include/linux/mm.h: folio_pfn()")
def folio_pfn(m: MachineView, folio: object) -> int:
    return _folio(folio, "folio_pfn").pfn


noop("vm_swap_full", cites="include/linux/swap.h: vm_swap_full(): swap is not full", result=False)
noop("count_vm_events", cites="include/linux/vmstat.h: count_vm_events()")


@primitive("folio_ref_sub", "include/linux/page_ref.h: folio_ref_sub()")
def folio_ref_sub(m: MachineView, folio: object, n: int) -> None:
    _put(_folio(folio, "folio_ref_sub"), n, "folio_ref_sub()")


@primitive("folio_mapcount", "include/linux/mm.h: folio_mapcount()")
def folio_mapcount(m: MachineView, folio: object) -> int:
    return sum(_folio(folio, "folio_mapcount").page_mapcount)


@primitive("folio_test_hwpoison", "include/linux/page-flags.h: folio_test_hwpoison()")
def folio_test_hwpoison(m: MachineView, folio: object) -> bool:
    return _folio(folio, "folio_test_hwpoison").page.hwpoison
