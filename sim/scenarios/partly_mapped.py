"""partly-mapped: an earlier fault already mapped one page of the folio.

    PTEs            | swp 0x1000 | pfn P+1 | swp 0x1002 | swp 0x1003 |
    swap cache      the whole folio, refcount nr + 1 (page 1 mapped), swap_map 0 for page 1

The batch must stop at the present PTE: only the faulting page is mapped.
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "partly-mapped"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, mapped=(1,) if index != 1 else (2,))


def cases() -> list[Spec]:
    return [spec(2, 0), spec(4, 3)]
