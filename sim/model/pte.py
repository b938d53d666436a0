"""PTE and swap-entry values: immutable, compared by value like ``pte_t``.

A PTE is none, present (a pfn plus hardware and software bits) or a swap PTE
(swap type and offset plus the software bits a swap PTE keeps: soft-dirty,
uffd-wp, exclusive).  ``pte_same()`` is plain equality.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from typing import Any, NamedTuple

# swp_entry_t.val packs the type above the offset, as the kernel's
# swp_entry() does (include/linux/swapops.h: SWP_TYPE_SHIFT).
SWP_TYPE_SHIFT = 58
SWP_OFFSET_MASK = (1 << SWP_TYPE_SHIFT) - 1

# Non-swap entry types (include/linux/swap.h: SWP_MIGRATION_READ, ...),
# modelled as reserved type numbers above MAX_SWAPFILES.
SWP_MIGRATION = 30
SWP_HWPOISON = 29
SWP_PTE_MARKER = 28
MAX_SWAPFILES = 28


@dataclass(frozen=True, slots=True)
class SwapEntry:
    """``swp_entry_t``: one slot of a swap device."""

    type: int
    offset: int

    @property
    def val(self) -> int:
        return (self.type << SWP_TYPE_SHIFT) | self.offset

    @staticmethod
    def from_val(val: int) -> SwapEntry:
        return SwapEntry(val >> SWP_TYPE_SHIFT, val & SWP_OFFSET_MASK)

    def with_field(self, name: str, value: object) -> SwapEntry:
        if name != "val" or not isinstance(value, int):
            raise AttributeError(name)
        return SwapEntry.from_val(value)


# SwapEntry(type, offset) without the dataclass __init__ (half the cost):
# swap_pte_batch() builds two per entry it walks.
_new_object = object.__new__
_set_type = vars(SwapEntry)["type"].__set__
_set_offset = vars(SwapEntry)["offset"].__set__


def swap_entry(type_: int, offset: int) -> SwapEntry:
    entry: SwapEntry = _new_object(SwapEntry)
    _set_type(entry, type_)
    _set_offset(entry, offset)
    return entry


class Pte(NamedTuple):
    """``pte_t``.  ``kind`` is "none", "present" or "swap".

    A NamedTuple rather than a dataclass: PTEs are built and compared in the
    interpreter's innermost loop (swap_pte_batch), where tuples are fastest.
    """

    kind: str = "none"
    pfn: int = 0
    swp_type: int = 0
    swp_offset: int = 0
    write: bool = False
    dirty: bool = False
    young: bool = False
    soft_dirty: bool = False
    uffd_wp: bool = False
    exclusive: bool = False  # swap PTEs only (_PAGE_SWP_EXCLUSIVE)

    @staticmethod
    def swap(
        entry: SwapEntry,
        *,
        soft_dirty: bool = False,
        uffd_wp: bool = False,
        exclusive: bool = False,
    ) -> Pte:
        # Positional and past NamedTuple's keyword __new__: built per step of
        # swap_pte_batch().
        return _make(
            Pte,
            (
                "swap",
                0,
                entry.type,
                entry.offset,
                False,
                False,
                False,
                soft_dirty,
                uffd_wp,
                exclusive,
            ),
        )

    @staticmethod
    def present(pfn: int, **bits: bool) -> Pte:
        return Pte(kind="present", pfn=pfn, **bits)

    @property
    def entry(self) -> SwapEntry:
        return swap_entry(self.swp_type, self.swp_offset)

    def set(self, **changes: Any) -> Pte:
        if len(changes) == 1:
            # One field, the common case (pte_swp_mkexclusive() and the like):
            # NamedTuple._replace() is several times slower.
            ((name, value),) = changes.items()
            i = _FIELD_INDEX.get(name)
            if i is not None:
                return _make(Pte, (*self[:i], value, *self[i + 1 :]))
        return self._replace(**changes)

    def describe(self) -> str:
        if self.kind == "none":
            return "none"
        bits = [
            n
            for n in ("write", "dirty", "young", "soft_dirty", "uffd_wp", "exclusive")
            if getattr(self, n)
        ]
        tail = (" " + ",".join(bits)) if bits else ""
        if self.kind == "present":
            return f"pfn {self.pfn:#x}{tail}"
        return f"swap {self.swp_type}:{self.swp_offset:#x}{tail}"


_make = tuple.__new__
_FIELD_INDEX = {name: i for i, name in enumerate(Pte._fields)}
PTE_NONE = Pte()
_PFN, _SWP_OFFSET = _FIELD_INDEX["pfn"], _FIELD_INDEX["swp_offset"]


@lru_cache(maxsize=64)
def pte_run(first: Pte, n: int) -> tuple[Pte, ...]:
    """``n`` PTEs from ``first`` on, each the next page (a present PTE) or
    the next swap slot (a swap PTE), every other field as in ``first``:
    what ``set_ptes()`` stores, what a folio's swap PTEs hold.

    Up to 512 per simulated fault.  PTEs are values, so a run is made once
    and shared by every fault that maps or lays out the same one (the folio
    sizes and bits of a suite repeat); and made by zip() in C, not one by one:
    ``[first._replace(pfn=first.pfn + i) for i in range(n)]``.
    """
    present = first.kind == "present"
    start = first.pfn if present else first.swp_offset
    columns: list[Iterable[object]] = [repeat(value) for value in first]
    columns[_PFN if present else _SWP_OFFSET] = range(start, start + n)
    return tuple(map(_make, repeat(Pte), zip(*columns, strict=False)))  # as long as the range
