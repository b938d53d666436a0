"""pte-changed: another thread faulted the page in first (pte_same() fails).

    before          | swp 0x1000 | ... | swp 0x1000+F | ... |
    race            at pte_offset_map_lock(): PTE F becomes | pfn of page F |
    swap cache      the whole folio, refcount nr

The fault must see that the PTE changed and back out, changing nothing.
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "pte-changed"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, race="pte-changed")


def cases() -> list[Spec]:
    return [spec(0, 0), spec(4, 3)]
