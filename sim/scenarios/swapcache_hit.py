"""swapcache-hit: the whole folio is in the swap cache, every PTE a swap entry.

    PTEs (PMD 1)    ... | pfn X | swp 0x1000 | swp 0x1001 | ... | swp 0x1000+nr-1 | none ...
                                  ^ page 0                        ^ page nr-1
    swap cache      0x1000..0x1000+nr-1 -> folio (order 0, 2, 4 or 9), unlocked, uptodate
    swap_map        1 per entry;  refcount nr (swap cache);  all entries exclusive

The fault is on the first, a middle or the last page.  A kernel that maps
large folios entirely maps all nr pages; one that does not maps one.
"""

from __future__ import annotations

from sim.scenarios import first_middle_last
from sim.scenarios.spec import Spec

NAME = "swapcache-hit"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index)


def cases() -> list[Spec]:
    return [spec(o, i) for o in (0, 2, 4, 9) for i in first_middle_last(o)]
