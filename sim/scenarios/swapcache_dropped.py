"""swapcache-dropped: reclaim frees the folio from the swap cache while the
fault waits for the folio lock.

    before          swap cache 0x1000..0x1000+nr-1 -> folio, refcount nr + 1 (ours)
    race            folio_free_swap() elsewhere: swap cache | empty |, refcount 1
    PTEs            | swp 0x1000 | ... |   (still swap entries: swap_map 1 each)

After taking the lock the fault must notice the folio left the swap cache
and back out (the retried fault reads the page again).
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "swapcache-dropped"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, race="swapcache-dropped")


def cases() -> list[Spec]:
    return [spec(0, 0), spec(2, 1)]
