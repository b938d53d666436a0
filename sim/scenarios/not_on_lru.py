"""not-on-lru: a write fault on a folio still sitting in a per-CPU LRU batch.

    PTEs            | swp 0x1000 X (write) |
    swap cache      the folio, refcount nr, !PG_lru (the batch holds it)

The kernel drains the LRU batches (lru_add_drain()) before judging the
refcount; the model's batch holds no extra reference.
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "not-on-lru"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, write=True, on_lru=False)


def cases() -> list[Spec]:
    return [spec(0, 0)]
