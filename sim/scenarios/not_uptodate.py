"""not-uptodate: the folio is in the swap cache but its read from swap failed.

    PTEs            | swp 0x1000 | ... |
    swap cache      the whole folio, !uptodate (I/O error), refcount nr

The fault must report VM_FAULT_SIGBUS and map nothing.
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "not-uptodate"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, uptodate=False)


def cases() -> list[Spec]:
    return [spec(0, 0), spec(2, 1)]
