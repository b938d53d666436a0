"""table-freed: the page table is freed while the fault has it unmapped.

    before          PMD 1 -> table T: | swp 0x1000 | ... | swp 0x1000+nr-1 |
    race            between pte_unmap_same() and pte_offset_map_lock(), another
                    CPU frees T (collapse, munmap): pte_offset_map_lock() returns NULL
    swap cache      the whole folio, refcount nr

The fault must back out without touching T or anything reached through it.
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "table-freed"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, race="table-freed")


def cases() -> list[Spec]:
    return [spec(0, 0), spec(2, 1), spec(4, 0), spec(4, 3)]
