"""hwpoison-entry: the faulting PTE holds a hardware-poison entry.

    PTEs            | hwpoison entry |
    swap cache      untouched

The fault reports VM_FAULT_HWPOISON and maps nothing.
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "hwpoison-entry"
HIT = False


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, entry="hwpoison")


def cases() -> list[Spec]:
    return [spec(0, 0)]
