"""mixed-exclusive: only the faulting page's entry is exclusive; the rest are
shared with a forked child.

    page            |  0   |  1   |  2   |  3   | ...   (faulting page F = 0)
    exclusive       |  X   |  -   |  -   |  -   |
    child's PTEs    |      | swp  | swp  | swp  |       swap_map 2 for pages 1..nr-1
    swap cache      the whole folio, refcount nr;  write fault

Pages whose entry is shared may be mapped neither exclusive nor writable.
"""

from __future__ import annotations

from sim.scenarios.spec import Bits, Spec

NAME = "mixed-exclusive"
HIT = True


def spec(order: int, index: int) -> Spec:
    nr = 1 << order
    return Spec(
        order=order,
        index=index,
        write=True,
        bits=tuple(Bits(exclusive=i == index) for i in range(nr)),
        shared=tuple(0 if i == index else 1 for i in range(nr)),
    )


def cases() -> list[Spec]:
    return [spec(2, 0), spec(4, 0)]
