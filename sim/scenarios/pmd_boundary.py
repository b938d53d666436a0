"""pmd-boundary: the folio's PTEs straddle two page tables (after mremap).

    PMD 0 table     ... | swp 0x1000 | ... | swp 0x1000+nr/2-1 |   (entries 512-nr/2..511)
    PMD 1 table     | swp 0x1000+nr/2 | ... | swp 0x1000+nr-1 | ...    (entries 0..nr/2-1)
    swap cache      the whole folio, refcount nr, all entries exclusive

A batch must stay inside the faulting PMD's table: stepping back from the
faulting PTE by its page index walks off the start of the table.
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "pmd-boundary"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, placement="pmd-boundary")


def cases() -> list[Spec]:
    return [spec(o, i) for o in (2, 4) for i in (0, (1 << o) // 2, (1 << o) - 1)]
