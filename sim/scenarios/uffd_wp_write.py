"""uffd-wp-write: a write fault on uffd-wp protected swap entries.

    PTEs            | swp 0x1000 X WP | ... | swp 0x1000+nr-1 X WP |
    VMA             VM_UFFD_WP
    swap cache      the whole folio, refcount nr

The pages come back write-protected, uffd-wp set: userfaultfd must see the
write (the pte stays read-only; the retried fault reports it).
"""

from __future__ import annotations

from sim.kernel.constants import VM_UFFD_WP
from sim.scenarios.spec import Bits, Spec

NAME = "uffd-wp-write"
HIT = True


def spec(order: int, index: int) -> Spec:
    base = Spec()
    return Spec(
        order=order,
        index=index,
        write=True,
        vm_flags=base.vm_flags | VM_UFFD_WP,
        bits=(Bits(uffd_wp=True),) * (1 << order),
    )


def cases() -> list[Spec]:
    return [spec(0, 0), spec(2, 1)]
