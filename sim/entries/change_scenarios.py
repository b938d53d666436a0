"""change_pte_range()'s scenarios (codes and actions: sim/entries/change_spec.py).

``order`` sets the folio size, ``index`` the page a scenario singles out.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.entries import layout
from sim.entries.change_spec import ChangeSpec
from sim.entries.layout import wp_at
from sim.scenarios import Scenario

SCENARIOS: dict[str, Scenario] = {}
Maker = Callable[[int, int], ChangeSpec]


def scenario(name: str, grid: list[tuple[int, int]]) -> Callable[[Maker], Maker]:
    return layout.scenario((SCENARIOS,), name, grid)


@scenario("read-only", [(0, 0), (2, 0), (4, 0)])
def read_only(order: int, index: int) -> ChangeSpec:
    """mprotect(PROT_READ) of writable anonymous pages.

    [P P ... P]   writable -> read-only
    """
    return ChangeSpec(order, index)


@scenario("writable-exclusive", [(0, 0), (4, 0)])
def writable_exclusive(order: int, index: int) -> ChangeSpec:
    """mprotect(PROT_READ|PROT_WRITE) of exclusive anonymous pages: mapped
    writable at once (can_change_pte_writable()).

    [P P ... P]   read-only -> writable
    """
    return ChangeSpec(order, index, action="writable")


@scenario("writable-shared-pages", [(0, 0), (4, 0)])
def writable_shared_pages(order: int, index: int) -> ChangeSpec:
    """The anonymous pages are shared with a child after fork: they must
    stay read-only (the write fault copies them).

    [P P ... P]   not PageAnonExclusive
    """
    return ChangeSpec(order, index, action="writable", shared_pages=True)


@scenario("writable-soft-dirty", [(2, 0)])
def writable_soft_dirty(order: int, index: int) -> ChangeSpec:
    """Soft-dirty tracking is on and the PTEs are not soft-dirty: they stay
    read-only so that the next write is recorded.

    [P P ... P]
    """
    return ChangeSpec(order, index, action="writable", soft_dirty_tracking=True)


@scenario("writable-shmem", [(2, 0), (2, 1)])
def writable_shmem(order: int, index: int) -> ChangeSpec:
    """A shared shmem mapping made writable, dirty (index 0) or clean (1).

    [P P ... P]
    """
    return ChangeSpec(order, index, action="writable", vma="shmem", dirty=index == 0)


@scenario("range-ends-mid-folio", [(2, 1), (4, 3)])
def range_ends_mid_folio(order: int, index: int) -> ChangeSpec:
    """mprotect(PROT_READ) of pages 0..index of a large folio only.

    [P P P|P ... P]
    """
    return ChangeSpec(order, index, stop=index + 1)


@scenario("swap-and-migration", [(2, 0), (4, 0)])
def swap_and_migration(order: int, index: int) -> ChangeSpec:
    """Swap entries are left as they are; writable migration entries become
    readable (exclusive for anonymous pages).

    [P..P | S..S | M..M | - ..]
    """
    nr = 1 << order
    return ChangeSpec(order, index, layout="P" * nr + "S" * nr + "M" * nr + "-" * nr)


@scenario("uffd-wp-protect", [(2, 0), (4, 0)])
def uffd_wp_protect(order: int, index: int) -> ChangeSpec:
    """UFFDIO_WRITEPROTECT over present, swap and none PTEs of a private
    anonymous VMA: uffd-wp on every PTE and swap entry, no markers.

    [P..P | S..S | - ..]
    """
    nr = 1 << order
    return ChangeSpec(
        order, index, layout="P" * nr + "S" * nr + "-" * nr, action="uffd-wp", uffd=True
    )


@scenario("uffd-wp-protect-shmem", [(2, 0), (3, 0)])
def uffd_wp_protect_shmem(order: int, index: int) -> ChangeSpec:
    """UFFDIO_WRITEPROTECT on a shmem VMA: none PTEs get markers.

    [P..P | - ..]
    """
    nr = 1 << order
    return ChangeSpec(
        order, index, layout="P" * nr + "-" * nr, action="uffd-wp", vma="shmem", uffd=True
    )


@scenario("uffd-wp-resolve", [(2, 1), (4, 3)])
def uffd_wp_resolve(order: int, index: int) -> ChangeSpec:
    """Resolving uffd-wp: bits cleared, markers dropped, exclusive pages may
    become writable again; page ``index`` had no uffd-wp.

    [P P* .. | S* S* .. | W W ..]
    """
    nr = 1 << order
    layout = "P" * nr + "S" * nr + "W" * nr
    wp = "".join("0" if i == index else "1" for i in range(len(layout)))
    return ChangeSpec(order, index, layout=layout, action="uffd-wp-resolve", uffd=True, wp=wp)


@scenario("uffd-wp-kept-on-mprotect", [(2, 1), (4, 3)])
def uffd_wp_kept_on_mprotect(order: int, index: int) -> ChangeSpec:
    """mprotect(PROT_READ|PROT_WRITE) in a uffd-wp VMA: page ``index`` has
    uffd-wp and must stay read-only; the others may become writable.

    [P P P* P ...]
    """
    nr = 1 << order
    return ChangeSpec(order, index, action="writable", uffd=True, wp=wp_at(nr, index))


@scenario("table-freed", [(2, 0)])
def table_freed(order: int, index: int) -> ChangeSpec:
    """The table is gone when the walk maps it: -EAGAIN, nothing changed.

    [P P P P]
    """
    return ChangeSpec(order, index, race="table-freed")
