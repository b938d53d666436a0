"""vma-start: the folio starts one page below the VMA.

PTEs            | swp 0x1000 | swp 0x1001 | swp 0x1002 | ... | swp 0x1000+nr-1 |
VMA                          [vm_start ......................................
                  ^ page 0 belongs to another VMA: it must not be touched
swap cache      the whole folio, refcount nr, all entries exclusive
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "vma-start"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, placement="vma-start")


def cases() -> list[Spec]:
    return [spec(o, i) for o in (2, 4) for i in (1, (1 << o) - 1)]
