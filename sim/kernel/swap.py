"""Swap devices, swap_map counts and the swap cache (mm/swapfile.c, swap_state.c)."""

from __future__ import annotations

from itertools import repeat
from operator import sub
from typing import Any

from sim.faults import Kind, NotModelled, SimFault
from sim.kernel import OBSERVED, MachineView, noop, primitive, walked
from sim.kernel.constants import EEXIST
from sim.model.mm import Folio
from sim.model.pte import SwapEntry
from sim.values import NULL


def _entry(v: Any, fn: str) -> SwapEntry:
    if not isinstance(v, SwapEntry):
        raise NotModelled(f"{fn} on {type(v).__name__}")
    return v


@primitive("get_swap_device", "mm/swapfile.c: get_swap_device()")
def get_swap_device(m: MachineView, entry: object) -> Any:
    si = m.world.swap
    if _entry(entry, "get_swap_device").type != si.type:
        return NULL
    si.refs += 1
    return si


@primitive("put_swap_device", "include/linux/swap.h: put_swap_device()")
def put_swap_device(m: MachineView, si: object) -> None:
    if si is not m.world.swap or si.refs <= 0:
        raise SimFault(Kind.LOCK, "put_swap_device() without get_swap_device()")
    si.refs -= 1


@primitive("swap_cache_get_folio", "mm/swap_state.c: swap_cache_get_folio()", prefer=True)
def swap_cache_get_folio(m: MachineView, entry: object, vma: object, addr: int) -> Any:
    e = _entry(entry, "swap_cache_get_folio")
    folio = m.world.swap.cache.get(e.offset) if e.type == m.world.swap.type else None
    if folio is None:
        return NULL
    folio.refcount += 1
    return folio


@primitive("__swap_count", "mm/swapfile.c: __swap_count()")
def swap_count(m: MachineView, entry: object) -> int:
    count: int = m.world.swap.swap_map.get(_entry(entry, "__swap_count").offset, 0)
    return count


@primitive("swap_free_nr", "mm/swapfile.c: swap_free_nr()")
def swap_free_nr(m: MachineView, entry: object, nr: int) -> None:
    e = _entry(entry, "swap_free_nr")
    smap = m.world.swap.swap_map
    offsets = range(e.offset, e.offset + walked(m, nr, "swap_free_nr"))
    counts = list(map(smap.get, offsets, repeat(0)))  # up to 512: looked up in C
    freed = len(counts)
    if counts and min(counts) <= 0:
        freed = next(i for i, count in enumerate(counts) if count <= 0)
    # The entries before the first that is already 0 are freed, as one by one.
    smap.update(zip(offsets[:freed], map(sub, counts[:freed], repeat(1)), strict=True))
    if freed < len(counts):
        off = offsets[freed]
        raise SimFault(Kind.WRONG_COUNT, f"swap_free_nr(): swap_map of entry {off:#x} is already 0")
    m.note("swap_free", (e.offset, nr))


@primitive("swap_free", "include/linux/swap.h: swap_free()")
def swap_free(m: MachineView, entry: object) -> None:
    swap_free_nr(m, entry, 1)


@primitive("folio_free_swap", "mm/swapfile.c: folio_free_swap()")
def folio_free_swap(m: MachineView, folio: Any) -> bool:
    f: Folio = folio
    si = m.world.swap
    if not f.f.swapcache or f.f.writeback:
        return False
    offsets = range(f.swap.offset, f.swap.offset + f.nr)
    if any(si.swap_map.get(o, 0) for o in offsets):
        return False  # folio_swapped(): some entry is still referenced
    for o in offsets:
        si.cache.pop(o, None)
        si.has_cache.discard(o)
    f.f.swapcache = False
    f.refcount -= f.nr
    m.note("folio_free_swap", f.nr)
    return True


@primitive("folio_swap", "mm/swap.h: folio_swap()", prefer=True)
def folio_swap(m: MachineView, entry: Any, folio: Any) -> SwapEntry:
    e = _entry(entry, "folio_swap")
    return SwapEntry(e.type, e.offset & ~(folio.nr - 1))


@primitive("page_swap_entry", "include/linux/swap.h: page_swap_entry()")
def page_swap_entry(m: MachineView, page: Any) -> SwapEntry:
    folio = page.folio
    return SwapEntry(folio.swap.type, folio.swap.offset + page.idx)


@primitive("swapcache_prepare", "mm/swapfile.c: swapcache_prepare()", params=("swp_entry_t", "int"))
def swapcache_prepare(m: MachineView, entry: object, nr: int) -> int:
    e = _entry(entry, "swapcache_prepare")
    si = m.world.swap
    offsets = range(e.offset, e.offset + walked(m, nr, "swapcache_prepare"))
    if any(o in si.has_cache for o in offsets):
        return -EEXIST
    si.has_cache.update(offsets)
    return 0


@primitive(
    "swapcache_clear",
    "mm/swapfile.c: swapcache_clear()",
    prefer=True,
    params=("struct swap_info_struct *", "swp_entry_t", "int"),
)
def swapcache_clear(m: MachineView, si: Any, entry: Any, nr: int) -> None:
    e = _entry(entry, "swapcache_clear")
    for o in range(e.offset, e.offset + walked(m, nr, "swapcache_clear")):
        if o not in si.has_cache:
            raise SimFault(Kind.WRONG_COUNT, f"swapcache_clear() of {o:#x} without the cache flag")
        si.has_cache.discard(o)


@primitive("swapin_readahead", "mm/swap_state.c: swapin_readahead()", prefer=True)
def swapin_readahead(m: MachineView, entry: object, gfp: int, vmf: object) -> Any:
    e = _entry(entry, "swapin_readahead")
    world = m.world
    if not world.pending_folios:
        return NULL  # allocation failed
    folio = world.pending_folios.pop(0)
    world.folios.append(folio)
    folio.swap = SwapEntry(e.type, e.offset & ~(folio.nr - 1))
    folio.f.swapcache = True
    folio.f.uptodate = True
    folio.refcount = folio.nr + 1  # the swap cache's references and ours
    for off in range(folio.swap.offset, folio.swap.offset + folio.nr):
        world.swap.cache[off] = folio
        world.swap.has_cache.add(off)
    return folio


@primitive("alloc_swap_folio", "mm/memory.c: alloc_swap_folio()", prefer=True)
def alloc_swap_folio(m: MachineView, vmf: object) -> Any:
    world = m.world
    if not world.pending_folios:
        return NULL
    folio = world.pending_folios.pop(0)
    world.folios.append(folio)
    folio.f.anon = False
    folio.f.swapcache = False
    folio.f.uptodate = False
    folio.f.lru = False
    folio.refcount = 1
    return folio


@primitive("swap_read_folio", "mm/page_io.c: swap_read_folio()", prefer=True)
def swap_read_folio(m: MachineView, folio: Any, plug: Any) -> None:
    # Synchronous I/O completes at once: folio_end_read() marks it uptodate
    # and unlocks it.
    if not folio.f.locked:
        raise SimFault(Kind.LOCK, "swap_read_folio() of a folio that is not locked")
    folio.f.uptodate = True
    folio.f.locked = False


@primitive("migration_entry_wait", "mm/migrate.c: migration_entry_wait()", kind=OBSERVED)
def migration_entry_wait(m: MachineView, mm: object, pmd: object, addr: int) -> None:
    m.note("migration_entry_wait", addr)


noop(
    "get_shadow_from_swap_cache",
    cites="mm/swap_state.c: get_shadow_from_swap_cache(): no workingset shadows modelled",
    result=NULL,
    prefer=True,
)
noop("mem_cgroup_swap_full", cites="include/linux/swap.h: mem_cgroup_swap_full()", result=False)
noop(
    "mem_cgroup_swapin_uncharge_swap",
    "workingset_refault",
    "folio_throttle_swaprate",
    "count_vm_event",
    "count_memcg_event_mm",
    "lru_add_drain",
    "add_wait_queue",
    "remove_wait_queue",
    "schedule_timeout_uninterruptible",
    "wake_up",
    "vma_end_read",
    cites="accounting, wait queues and LRU batching: invisible to the model",
)
noop("waitqueue_active", cites="include/linux/wait.h: waitqueue_active()", result=False)
noop("print_bad_pte", cites="mm/memory.c: print_bad_pte()", prefer=True)


# Before 6.11 the swap cache pin of a synchronous swap-in covered one entry:
# swapcache_prepare(entry) and swapcache_clear(si, entry).
@primitive(
    "swapcache_prepare",
    "mm/swapfile.c: swapcache_prepare() of 6.10",
    params=("swp_entry_t",),
    variant=True,
)
def swapcache_prepare_one(m: MachineView, entry: object) -> int:
    result: int = swapcache_prepare(m, entry, 1)
    return result


@primitive(
    "swapcache_clear",
    "mm/swapfile.c: swapcache_clear() of 6.10",
    prefer=True,
    params=("struct swap_info_struct *", "swp_entry_t"),
    variant=True,
)
def swapcache_clear_one(m: MachineView, si: object, entry: object) -> None:
    swapcache_clear(m, si, entry, 1)
