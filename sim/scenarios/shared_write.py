"""shared-write: a write fault on entries shared with a forked child.

    PTEs (ours)     | swp 0x1000 | ... | swp 0x1000+F (write) | ...   not exclusive
    child's PTEs    | swp 0x1000 | ... |                              swap_map = 2 each
    swap cache      the whole folio, refcount nr

The page may not be mapped writable or exclusive: the child still needs it.
"""

from __future__ import annotations

from sim.scenarios.spec import Bits, Spec

NAME = "shared-write"
HIT = True


def spec(order: int, index: int) -> Spec:
    nr = 1 << order
    return Spec(
        order=order, index=index, write=True, bits=(Bits(exclusive=False),) * nr, shared=(1,) * nr
    )


def cases() -> list[Spec]:
    return [spec(0, 0), spec(2, 1)]
