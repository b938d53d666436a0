"""mixed-soft-dirty: only the faulting page's swap PTE is soft-dirty.

    page            | 0   | 1   | 2   | 3   | ...   (faulting page F)
    soft-dirty      | -   | -   | -   | SD  | only on page F
    uffd-wp         | -   | -   | -   | -   |
    exclusive       | X   | X   | X   | X   |
    swap cache      the whole folio, refcount nr

Each PTE must keep its own soft-dirty bit once mapped: a batch may only
span entries whose bits agree, or page F's bit is smeared over the others.
"""

from __future__ import annotations

from sim.scenarios.spec import Bits, Spec

NAME = "mixed-soft-dirty"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(
        order=order, index=index, bits=tuple(Bits(soft_dirty=i == index) for i in range(1 << order))
    )


def cases() -> list[Spec]:
    return [spec(o, i) for o in (2, 4) for i in (0, 3 if o == 4 else 1)]
