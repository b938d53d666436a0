"""vma-end: the folio ends one page above the VMA.

PTEs            | swp 0x1000 | swp 0x1001 | ... | swp 0x1000+nr-2 | swp 0x1000+nr-1 |
VMA             ....................................... vm_end)
                                                      page nr-1 ^ is outside the VMA
swap cache      the whole folio, refcount nr, all entries exclusive
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "vma-end"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, placement="vma-end")


def cases() -> list[Spec]:
    return [spec(o, i) for o in (2, 4) for i in (0, (1 << o) - 2)]
