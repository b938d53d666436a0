"""write-fault: a write to a swapped-out page whose entries are exclusive.

    PTEs            | swp 0x1000 X | ... | swp 0x1000+F X (write) | ... |
    swap cache      the whole folio, refcount nr;  VMA is VM_WRITE

Exclusive entries may be mapped writable and dirty at once; otherwise the
fault must go through do_wp_page().
"""

from __future__ import annotations

from sim.scenarios import middle
from sim.scenarios.spec import Spec

NAME = "write-fault"
HIT = True


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, write=True)


def cases() -> list[Spec]:
    return [spec(o, middle(o)) for o in (0, 2, 4)]
