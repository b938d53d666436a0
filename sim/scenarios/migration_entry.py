"""migration-entry: the faulting PTE holds a migration entry, not a swap entry.

    PTEs            | migration entry (pfn of page F) |
    swap cache      untouched

The fault only waits for the migration to finish: nothing is mapped.
"""

from __future__ import annotations

from sim.scenarios.spec import Spec

NAME = "migration-entry"
HIT = False


def spec(order: int, index: int) -> Spec:
    return Spec(order=order, index=index, entry="migration")


def cases() -> list[Spec]:
    return [spec(0, 0)]
