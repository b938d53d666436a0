"""readahead: a swap-cache miss; swapin_readahead() reads a fresh folio.

PTEs            | swp 0x1000 |
swap cache      empty -> swapin_readahead() adds a 1-page folio (refcount 2)
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "readahead"
HIT = False


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, source="readahead")


def cases() -> list[Spec]:
    return [spec(0, 0)]
