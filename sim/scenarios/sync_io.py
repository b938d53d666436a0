"""sync-io: a swap-cache miss on a SWP_SYNCHRONOUS_IO device (zram).

    PTEs            | swp 0x1000 | ... | swp 0x1000+nr-1 |   swap_map 1 each
    swap cache      empty; alloc_swap_folio() gives a new folio, never in the cache

The fault reads straight into the new folio and maps it whole.
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "sync-io"
HIT = False


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, source="sync-io")


def cases() -> list[Spec]:
    return [spec(0, 0), spec(2, 1)]
