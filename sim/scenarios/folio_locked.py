"""folio-locked: someone else holds the folio lock (reclaim, migration).

    PTEs            | swp 0x1000 | ... | swp 0x1000+nr-1 |
    swap cache      the whole folio, LOCKED by another task, refcount nr

folio_lock_or_retry() gives up: the fault drops its reference and returns
VM_FAULT_RETRY, mapping nothing and leaving the other task's lock alone.
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "folio-locked"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, folio_locked=True)


def cases() -> list[Spec]:
    return [spec(0, 0), spec(2, 1)]
