"""zap_pte_range()'s scenarios, each drawing its PTEs (codes: sim/entries/zap_spec.py).

``order`` sets the folio (and block) size, ``index`` the page a scenario
singles out; ``cases()`` is each scenario's default grid.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.entries import layout
from sim.entries.layout import wp_at
from sim.entries.zap_spec import ZapSpec
from sim.scenarios import Scenario

SCENARIOS: dict[str, Scenario] = {}


Maker = Callable[[int, int], ZapSpec]


def scenario(name: str, grid: list[tuple[int, int]]) -> Callable[[Maker], Maker]:
    return layout.scenario((SCENARIOS,), name, grid)


@scenario("present-batch", [(0, 0), (2, 0), (4, 0)])
def present_batch(order: int, index: int) -> ZapSpec:
    """An anonymous folio mapped by all its PTEs, zapped whole (one batch).

    [P P P ... P]   zap all
    """
    return ZapSpec(order, index)


@scenario("range-ends-mid-folio", [(2, 1), (4, 3), (4, 14)])
def range_ends_mid_folio(order: int, index: int) -> ZapSpec:
    """The range ends after page ``index`` of a large folio: the rest stays.

    [P P P|P P ... P]   zap pages 0..index
    """
    return ZapSpec(order, index, stop=index + 1)


@scenario("range-starts-mid-folio", [(2, 1), (4, 3)])
def range_starts_mid_folio(order: int, index: int) -> ZapSpec:
    """The range starts at page ``index`` of a large folio.

    [P P P|P P ... P]   zap pages index..nr-1
    """
    return ZapSpec(order, index, start=index)


@scenario("swap-batch", [(0, 0), (2, 0), (4, 0)])
def swap_batch(order: int, index: int) -> ZapSpec:
    """Consecutive swap entries, freed as one batch (free_swap_and_cache_nr()).

    [S S S ... S]
    """
    nr = 1 << order
    return ZapSpec(order, index, layout="S" * nr)


@scenario("swap-mixed-uffd-wp", [(2, 0), (4, 0), (4, 3), (4, 15)])
def swap_mixed_uffd_wp(order: int, index: int) -> ZapSpec:
    """Swap entries of a private shmem VMA registered for uffd-wp; only
    entry ``index`` has uffd-wp, so only its PTE may become a marker.

    [S S S* S ... S]   * uffd-wp
    """
    nr = 1 << order
    return ZapSpec(order, index, layout="S" * nr, wp=wp_at(nr, index), vma="shmem", uffd=True)


@scenario("present-mixed-uffd-wp", [(2, 0), (4, 3)])
def present_mixed_uffd_wp(order: int, index: int) -> ZapSpec:
    """A shmem folio in a uffd-wp VMA; page ``index`` alone has uffd-wp.

    [P P P* P ... P]   * uffd-wp
    """
    nr = 1 << order
    return ZapSpec(order, index, wp=wp_at(nr, index), vma="shmem", uffd=True)


@scenario("uffd-wp-markers", [(2, 0), (4, 1)])
def uffd_wp_markers(order: int, index: int) -> ZapSpec:
    """Markers left by an earlier zap: a file VMA keeps them (index 0), an
    anonymous one drops them (index 1).

    [W W ... W]
    """
    nr = 1 << order
    vma = "shmem" if index == 0 else "anon"
    return ZapSpec(order, index, layout="W" * nr, vma=vma, uffd=True)


@scenario("drop-markers", [(2, 0), (4, 0)])
def drop_markers(order: int, index: int) -> ZapSpec:
    """ZAP_FLAG_DROP_MARKER: markers go, and none is installed for uffd-wp PTEs.

    [W W ... W | S* S* ... ]
    """
    nr = 1 << order
    return ZapSpec(
        order,
        index,
        layout="W" * nr + "S" * nr,
        wp="0" * nr + "1" * nr,
        vma="shmem",
        uffd=True,
        details="drop-markers",
    )


@scenario("migration-entries", [(0, 0), (2, 0), (4, 0)])
def migration_entries(order: int, index: int) -> ZapSpec:
    """A folio under migration: its PTEs are migration entries, and the folio
    is still accounted to the mm (rss drops by one per entry).

    [M M ... M]
    """
    nr = 1 << order
    return ZapSpec(order, index, layout="M" * nr)


@scenario("hwpoison-entry", [(2, 1), (4, 3)])
def hwpoison_entry(order: int, index: int) -> ZapSpec:
    """Page ``index`` of a folio was poisoned: a hwpoison entry cuts the batch.

    [P P H P ... P]
    """
    nr = 1 << order
    return ZapSpec(order, index, layout="P" * index + "H" + "P" * (nr - index - 1))


@scenario("mixed", [(2, 0), (4, 0)])
def mixed(order: int, index: int) -> ZapSpec:
    """One block of each kind: present, swap, migration, hwpoison and none.

    [P..P | S..S | M..M | H - .. -]
    """
    nr = 1 << order
    return ZapSpec(order, index, layout="P" * nr + "S" * nr + "M" * nr + "H" + "-" * (nr - 1))


@scenario("mixed-uffd-wp", [(2, 0), (3, 0)])
def mixed_uffd_wp(order: int, index: int) -> ZapSpec:
    """Every kind in a uffd-wp shmem VMA, uffd-wp on every other page.

    [P P* .. | S S* .. | M M* .. | W W ..]
    """
    nr = 1 << order
    layout = "P" * nr + "S" * nr + "M" * nr + "W" * nr
    wp = "01" * (len(layout) // 2)
    return ZapSpec(order, index, layout=layout, wp=wp, vma="shmem", uffd=True)


@scenario("keep-cows", [(2, 0), (4, 0)])
def keep_cows(order: int, index: int) -> ZapSpec:
    """unmap_mapping_range() without even_cows: shmem pages go, the private
    anonymous copies (swap entries) stay.

    [P P .. P | S S .. S]   only the Ps are zapped
    """
    nr = 1 << order
    return ZapSpec(order, index, layout="P" * nr + "S" * nr, vma="shmem", details="keep-cows")


@scenario("dirty-file-folio", [(0, 0), (2, 0), (4, 0)])
def dirty_file_folio(order: int, index: int) -> ZapSpec:
    """Dirty shmem pages: their rmap removal is delayed to tlb_flush_rmaps(),
    which must run before the PTL is dropped.

    [P P ... P]   dirty
    """
    return ZapSpec(order, index, vma="shmem", dirty=True)


@scenario("zero-page", [(0, 0), (2, 0)])
def zero_page(order: int, index: int) -> ZapSpec:
    """The shared zero page, mapped special: no page, no rss.

    [Z Z ... Z]
    """
    nr = 1 << order
    return ZapSpec(order, index, layout="Z" * nr)


@scenario("swap-cgroups", [(2, 1), (4, 3)])
def swap_cgroups(order: int, index: int) -> ZapSpec:
    """Swap entries charged to two memcgs from page ``index`` on: two batches.

    [S S S | S' S' ...]
    """
    nr = 1 << order
    return ZapSpec(
        order, index, layout="S" * nr, cgroups=tuple(1 if i < index else 2 for i in range(nr))
    )


@scenario("gather-full", [(2, 0), (4, 0)])
def gather_full(order: int, index: int) -> ZapSpec:
    """The mmu_gather fills up after the first folio: zap flushes and returns
    early, the second folio untouched (the caller comes back for it).

    [P P .. P | P P .. P]   room for nr pages
    """
    nr = 1 << order
    return ZapSpec(order, index, layout="P" * (2 * nr), tlb_room=nr)


@scenario("need-resched", [(2, 0), (4, 0)])
def need_resched(order: int, index: int) -> ZapSpec:
    """need_resched() turns true at the second batch: zap stops there.

    [P P .. P | S S .. S]
    """
    nr = 1 << order
    return ZapSpec(order, index, layout="P" * nr + "S" * nr, resched_at=2)


@scenario("table-freed", [(2, 0)])
def table_freed(order: int, index: int) -> ZapSpec:
    """The table is gone when zap maps it: pte_offset_map_lock() gives NULL,
    nothing is touched and addr is returned.

    [P P P P | S S S S]
    """
    nr = 1 << order
    return ZapSpec(order, index, layout="P" * nr + "S" * nr, race="table-freed")
