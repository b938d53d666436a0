"""extra-ref: someone else holds a reference on the folio (GUP, an LRU batch).

    PTEs            | swp 0x1000 | ... | swp 0x1000+nr-1 |    not exclusive
    swap cache      the whole folio, refcount nr + 1 (the extra reference)

With a non-exclusive entry and an unknown extra reference, the fault can
not prove it is the only user: no exclusive or writable mapping.
"""

from __future__ import annotations

from sim.scenarios.spec import Bits, Spec

NAME = "extra-ref"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(
        order=order,
        index=index,
        extra_refs=1,
        write=True,
        bits=(Bits(exclusive=False),) * (1 << order),
    )


def cases() -> list[Spec]:
    return [spec(0, 0), spec(4, 3)]
