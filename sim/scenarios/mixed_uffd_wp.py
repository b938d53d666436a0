"""mixed-uffd-wp: every swap PTE but the faulting one is uffd-wp protected.

    page            | 0   | 1   | 2   | 3   | ...   (faulting page F)
    soft-dirty      | -   | -   | -   | -   |
    uffd-wp         | WP  | WP  | WP  | -   | all but page F
    exclusive       | X   | X   | X   | X   |
    swap cache      the whole folio, refcount nr

Mapping the batch with page F's bits would drop the write protection of
every other page: userfaultfd would miss their writes.
"""

from __future__ import annotations

from sim.scenarios.spec import Bits, Spec

NAME = "mixed-uffd-wp"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(
        order=order, index=index, bits=tuple(Bits(uffd_wp=i != index) for i in range(1 << order))
    )


def cases() -> list[Spec]:
    return [spec(o, i) for o in (2, 4) for i in (0, 3 if o == 4 else 1)]
