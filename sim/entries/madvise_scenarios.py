"""The madvise walkers' scenarios (codes and knobs: sim/entries/madvise_spec.py).

``order`` sets the folio size, ``index`` the page a scenario singles out.
FREE are madvise_free_pte_range()'s, COLD madvise_cold_or_pageout_pte_range()'s.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.entries.layout import scenario
from sim.entries.madvise_spec import MadvSpec
from sim.scenarios import Scenario

FREE: dict[str, Scenario] = {}
COLD: dict[str, Scenario] = {}

Maker = Callable[[int, int], MadvSpec]


BOTH = (FREE, COLD)


@scenario(BOTH, "fully-mapped", [(0, 0), (2, 0), (4, 0)])
def fully_mapped(order: int, index: int) -> MadvSpec:
    """A young, dirty folio mapped whole and advised whole: no split.

    [P P ... P]
    """
    return MadvSpec(order, index)


@scenario(BOTH, "partly-advised-split", [(2, 1), (4, 3), (4, 14)])
def partly_advised_split(order: int, index: int) -> MadvSpec:
    """The range ends after page ``index``: the folio is split, then the
    pages inside the range advised one by one.

    [P P P|P ... P]   advise 0..index
    """
    return MadvSpec(order, index, stop=index + 1)


@scenario(BOTH, "partly-mapped-split", [(2, 1), (4, 3)])
def partly_mapped_split(order: int, index: int) -> MadvSpec:
    """Only pages from ``index`` on are mapped: the batch is short of the
    folio, which is split.

    [- - P P ... P]
    """
    nr = 1 << order
    return MadvSpec(order, index, layout="-" * index + "P" * (nr - index))


@scenario(BOTH, "split-fails", [(2, 1), (4, 3)])
def split_fails(order: int, index: int) -> MadvSpec:
    """As partly-advised-split, but split_folio() fails: the folio is left
    as it is, young and dirty included.

    [P P P|P ... P]   advise 0..index, no split
    """
    return MadvSpec(order, index, stop=index + 1, split_fails=True)


@scenario(BOTH, "folio-locked", [(2, 1), (4, 3)])
def folio_locked(order: int, index: int) -> MadvSpec:
    """Someone else holds the folio lock: folio_trylock() fails, no split,
    nothing cleared.

    [P P P|P ... P]   advise 0..index
    """
    return MadvSpec(order, index, stop=index + 1, locked=True)


@scenario(BOTH, "shared-folio", [(0, 0), (4, 0)])
def shared_folio(order: int, index: int) -> MadvSpec:
    """Another process maps the folio too: leave its PTEs alone.

    [P P ... P]   each page mapped twice
    """
    return MadvSpec(order, index, shared=True)


@scenario(BOTH, "table-freed", [(2, 1), (4, 3)])
def table_freed(order: int, index: int) -> MadvSpec:
    """The table is freed while the PTL is dropped for the split: mapping
    it again gives NULL, and the walk must stop.

    [P P P|P ... P]   advise 0..index, table gone after split_folio()
    """
    return MadvSpec(order, index, stop=index + 1, race="table-freed")


@scenario(BOTH, "several-folios", [(0, 0), (2, 0), (3, 0)])
def several_folios(order: int, index: int) -> MadvSpec:
    """Three folios and a hole, advised whole.

    [P..P | P..P | - - | P..P]
    """
    nr = 1 << order
    return MadvSpec(order, index, layout="P" * nr * 2 + "-" * nr + "P" * nr)


@scenario((FREE,), "swap-entries", [(0, 0), (2, 0), (4, 0)])
def swap_entries(order: int, index: int) -> MadvSpec:
    """Swap entries next to a folio: MADV_FREE drops and frees them.

    [P..P | S S .. S | H - ..]
    """
    nr = 1 << order
    return MadvSpec(order, index, layout="P" * nr + "S" * nr + "H" + "-" * (nr - 1))


@scenario((FREE,), "dirty-folio", [(0, 0), (4, 0)])
def dirty_folio(order: int, index: int) -> MadvSpec:
    """PG_dirty set: MADV_FREE locks the folio to clear it.

    [P P ... P]   folio dirty
    """
    return MadvSpec(order, index, folio_dirty=True)


@scenario((FREE,), "dirty-folio-locked", [(2, 0)])
def dirty_folio_locked(order: int, index: int) -> MadvSpec:
    """PG_dirty set and the folio locked elsewhere: skipped whole.

    [P P ... P]   folio dirty, locked
    """
    return MadvSpec(order, index, folio_dirty=True, locked=True)


@scenario((COLD,), "pageout", [(0, 0), (2, 0), (4, 0)])
def pageout(order: int, index: int) -> MadvSpec:
    """MADV_PAGEOUT: folios isolated and handed to reclaim; PTE bits kept.

    [P P ... P]
    """
    return MadvSpec(order, index, pageout=True)


@scenario((COLD,), "pageout-split", [(2, 1), (4, 3)])
def pageout_split(order: int, index: int) -> MadvSpec:
    """MADV_PAGEOUT of part of a folio: split, then pages isolated.

    [P P P|P ... P]   advise 0..index
    """
    return MadvSpec(order, index, stop=index + 1, pageout=True)


@scenario((COLD,), "need-resched", [(3, 0)])
def need_resched(order: int, index: int) -> MadvSpec:
    """Forty small folios: at the 32nd PTE need_resched() is true, the walk
    drops the PTL, and restarts from where it was.

    [P P ... P]   40 order-0 folios
    """
    return MadvSpec(0, index, layout="P" * 40, resched_at=1)


@scenario((COLD,), "thp-pmd-mapped", [(9, 0), (9, 1)])
def thp_pmd_mapped(order: int, index: int) -> MadvSpec:
    """A THP mapped by the PMD, advised whole: MADV_COLD clears the PMD's
    young bit (index 0), MADV_PAGEOUT isolates the folio (index 1).

    PMD -> [512 pages]
    """
    return MadvSpec(9, index, pmd_mapped=True, pageout=index == 1)


@scenario((COLD,), "thp-pmd-partly-advised", [(9, 255), (9, 511)])
def thp_pmd_partly_advised(order: int, index: int) -> MadvSpec:
    """A THP mapped by the PMD, advised up to page ``index`` (511: all but the
    last): split, remapped by PTEs, then advised page by page.

    PMD -> [512 pages]   advise 0..index
    """
    return MadvSpec(9, index, pmd_mapped=True, stop=index + 1)


@scenario((COLD,), "thp-pmd-shared", [(9, 0)])
def thp_pmd_shared(order: int, index: int) -> MadvSpec:
    """A THP mapped by the PMD here and in another process: left alone.

    PMD -> [512 pages], mapped twice
    """
    return MadvSpec(9, index, pmd_mapped=True, shared=True)
