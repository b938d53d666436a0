"""What the PTE-walk cases (change_spec, zap_spec, madvise_spec) lay out the
same way: one code per page from ``first`` inside PMD 1, cut in blocks of
``nr = 1 << order`` pages, over the same addresses, pfns and swap slots as
do_swap_page's cases (``sim.scenarios.spec``), with a page that must never
change just below and just above the layout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sim.model.mm import PAGE_SHIFT, PAGE_SIZE, PMD_SIZE, PTRS_PER_PTE
from sim.scenarios import Scenario
from sim.scenarios.spec import BASE, FOLIO_PFN, OTHER_PFN, SWAP_BASE, SWAP_TYPE

__all__ = [
    "BASE",
    "FOLIO_PFN",
    "MAX_PAGES",
    "OTHER_PFN",
    "SWAP_BASE",
    "SWAP_TYPE",
    "PageLayout",
    "check_layout",
    "place",
    "runs",
    "scenario",
    "wp_at",
]

MAX_PAGES = PTRS_PER_PTE - 32  # room for the layout and its two neighbours
Maker = TypeVar("Maker", bound=Callable[[int, int], Any])  # (order, index) -> a case


class PageLayout:
    """The fields and derived values every laid-out case has (mixed into its
    frozen dataclass, which declares the fields with their defaults)."""

    order: int  # pages per folio / block
    index: int  # the page the scenario singles out
    layout: str  # one code per page; "" = one block of present pages
    start: int  # first page the call covers
    stop: int  # one past the last; 0 = the whole layout

    @property
    def nr(self) -> int:
        return 1 << self.order

    @property
    def pages(self) -> str:
        return self.layout or "P" * self.nr

    def stop_page(self) -> int:
        return self.stop or len(self.pages)


def check_layout(spec: PageLayout, codes: str, max_order: int, most: int = MAX_PAGES) -> int:
    """The number of pages laid out; ValueError for an order, layout, index
    or range the case cannot have (at most ``most`` pages of ``codes``)."""
    if not 0 <= spec.order <= max_order:
        raise ValueError(f"--order {spec.order}: a folio of order 0 to {max_order}")
    pages = spec.pages
    n = len(pages)
    if not 0 < n <= most or set(pages) - set(codes):
        raise ValueError(f"a layout of {n} pages: 1 to {MAX_PAGES} of {codes}")
    if not 0 <= spec.index < max(spec.nr, n):
        raise ValueError(f"--index {spec.index} outside the {n} pages laid out")
    if not 0 <= spec.start < spec.stop_page() <= n:
        raise ValueError(f"range [{spec.start}, {spec.stop_page()}) outside the {n} pages")
    return n


def place(spec: PageLayout, n: int) -> tuple[int, int]:
    """(the address of page 0, its entry in the PTE table) for ``n`` pages
    laid out; ValueError when they and their two neighbours overflow it."""
    first = BASE + PMD_SIZE + max(spec.nr, 16) * PAGE_SIZE
    at = (first >> PAGE_SHIFT) % PTRS_PER_PTE
    if at + n + 1 > PTRS_PER_PTE:
        raise ValueError(f"{n} pages of order-{spec.order} folios do not fit in one PTE table")
    return first, at


def runs(pages: str, words: dict[str, str]) -> str:
    """The layout in words: "4 present, 2 swap" for "PPPPSS"."""
    found: list[str] = []
    i = 0
    while i < len(pages):
        j = i
        while j < len(pages) and pages[j] == pages[i]:
            j += 1
        found.append(f"{j - i} {words[pages[i]]}")
        i = j
    return ", ".join(found)


def wp_at(n: int, *pages: int) -> str:
    """A per-page uffd-wp string of ``n`` pages, "1" at ``pages``."""
    return "".join("1" if i in pages else "0" for i in range(n))


def scenario(
    tables: tuple[dict[str, Scenario], ...], name: str, grid: list[tuple[int, int]]
) -> Callable[[Maker], Maker]:
    """Register the decorated ``maker(order, index)`` as scenario ``name`` in
    each of ``tables``, its default cases those of the (order, index) ``grid``."""

    def register(fn: Maker) -> Maker:
        for table in tables:
            table[name] = Scenario(
                name, fn.__doc__ or "", False, fn, lambda: [fn(o, i) for o, i in grid]
            )
        return fn

    return register
