"""swapin-busy: on a SWP_SYNCHRONOUS_IO device, another thread is already
swapping the same entry in, skipping the swap cache.

    PTEs            | swp 0x1000 |                 swap_map 1
    swap cache      empty, but SWAP_HAS_CACHE set by the other thread
    us              alloc_swap_folio() -> new folio; swapcache_prepare() fails

The fault must drop its new folio and return: the retried fault will find
the page the other thread mapped.
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "swapin-busy"
HIT = False


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, source="sync-io", race="swapin-busy")


def cases() -> list[Spec]:
    return [spec(0, 0)]
