"""hwpoison-page: the faulting page of a swap-cache folio is hardware-poisoned.

    PTEs            | swp 0x1000 | ... | swp 0x1000+F | ... |
    swap cache      the whole folio; page F has PG_hwpoison

The kernel reports VM_FAULT_HWPOISON and maps nothing.
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "hwpoison-page"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, hwpoison=True)


def cases() -> list[Spec]:
    return [spec(0, 0)]
