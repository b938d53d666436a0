"""stable-writes: a write fault on a folio under writeback to a device that
needs stable pages (SWP_STABLE_WRITES).

    PTEs            | swp 0x1000 X | ...        exclusive entries, write fault
    swap cache      the whole folio, PG_writeback, refcount nr

The page must not become writable (or exclusive) while it is being written.
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "stable-writes"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, write=True, writeback=True, stable_writes=True)


def cases() -> list[Spec]:
    return [spec(0, 0), spec(2, 1)]
