"""readahead-oom: a swap-cache miss and no memory for a new folio.

    PTEs            | swp 0x1000 |
    swap cache      empty;  swapin_readahead() returns NULL

The fault re-checks the PTE under the lock and returns VM_FAULT_OOM.
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "readahead-oom"
HIT = False


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, source="readahead", alloc_fails=True)


def cases() -> list[Spec]:
    return [spec(0, 0)]
