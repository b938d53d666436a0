"""Property-based cases for the entries other than do_swap_page.

``strategy(entry)`` draws consistent specs of that entry (hypothesis): a
layout of blocks (one PTE kind per block, sometimes a mix), per-page bits,
the range, and the entry's knobs.  The 6.12 tree must pass every one of
them; a revision that fails one is shown with the smallest case hypothesis
shrinks it to (``find_failure``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from sim.entries import get
from sim.faults import Outcome
from sim.interp.machine import Program
from sim.runner import Execution


def _layout(draw: Callable[[Any], Any], st: Any, codes: str, nr: int, blocks: int) -> str:
    out = []
    for _ in range(blocks):
        if draw(st.integers(0, 3)) == 0:  # now and then a block of mixed kinds
            out.append("".join(draw(st.sampled_from(codes)) for _ in range(nr)))
        else:
            out.append(draw(st.sampled_from(codes)) * nr)
    return "".join(out)


def _laid_out(draw: Callable[[Any], Any], st: Any, codes: str) -> tuple[int, str, int, int]:
    """(order, layout, start, stop): folios of order 0 to 4, one to three
    blocks of ``codes``, and a range inside them."""
    order = draw(st.integers(0, 4))
    layout = _layout(draw, st, codes, 1 << order, draw(st.integers(1, 3)))
    start, stop = _range(draw, st, len(layout))
    return order, layout, start, stop


def _range(draw: Callable[[Any], Any], st: Any, n: int) -> tuple[int, int]:
    start = draw(st.sampled_from([0, 0, 0, draw(st.integers(0, n - 1))]))
    stop = draw(st.sampled_from([0, 0, draw(st.integers(start + 1, n))]))
    return start, (0 if stop == n else stop)


def _bits(draw: Callable[[Any], Any], st: Any, n: int) -> str:
    """Per-page bits: none, all, all but one, one, or any mask.  A batch whose
    bits differ in one entry is where a bit gets smeared: weight it."""
    one = 1 << draw(st.integers(0, n - 1))
    full = (1 << n) - 1
    mask = draw(
        st.sampled_from([0, full, one, full ^ one, one, full ^ one, draw(st.integers(0, full))])
    )
    return "".join("1" if mask >> i & 1 else "0" for i in range(n))


def zap_specs(
    vmas: tuple[str, ...] = ("anon", "shmem"),
    details: tuple[str, ...] = ("", "", "", "keep-cows", "drop-markers"),
) -> Any:
    """ZapSpecs; ``vmas`` and ``details`` (repeats weight a choice) narrow a search."""
    from hypothesis import strategies as st

    from sim.entries.zap_spec import ZapSpec

    @st.composite
    def draw_spec(draw: Callable[[Any], Any]) -> ZapSpec:
        order, layout, start, stop = _laid_out(draw, st, "PSMHWZ-")
        nr, n = 1 << order, len(layout)
        vma = draw(st.sampled_from(vmas))
        uffd = draw(st.sampled_from([False, True, True] if vma == "shmem" else [False, True]))
        return ZapSpec(
            order=order,
            index=0,
            layout=layout,
            wp=_bits(draw, st, n),
            dirty=draw(st.booleans()),
            start=start,
            stop=stop,
            vma=vma,
            uffd=uffd,
            details=draw(st.sampled_from(details)),
            race=draw(st.sampled_from([""] * 7 + ["table-freed"])),
            tlb_room=draw(st.sampled_from([0, 0, 0, 1, nr, 2 * nr])),
            resched_at=draw(st.sampled_from([0, 0, 0, 1, 2, 3])),
        )

    return draw_spec()


def madvise_specs(entry: str) -> Any:
    from hypothesis import strategies as st

    from sim.entries.madvise_spec import MadvSpec

    free = entry == "madvise_free_pte_range"

    @st.composite
    def draw_spec(draw: Callable[[Any], Any]) -> MadvSpec:
        order, layout, start, stop = _laid_out(draw, st, "PSH-" if free else "PS-")
        return MadvSpec(
            order=order,
            index=0,
            layout=layout,
            start=start,
            stop=stop,
            young=draw(st.booleans()),
            dirty=draw(st.booleans()),
            shared=draw(st.sampled_from([False, False, True])),
            locked=draw(st.sampled_from([False, False, False, True])),
            split_fails=draw(st.sampled_from([False, False, True])),
            race=draw(st.sampled_from(["", "", "", "table-freed"])),
            pageout=not free and draw(st.booleans()),
            folio_dirty=free and draw(st.booleans()),
        )

    return draw_spec()


def change_specs() -> Any:
    from hypothesis import strategies as st

    from sim.entries.change_spec import ACTIONS, ChangeSpec

    @st.composite
    def draw_spec(draw: Callable[[Any], Any]) -> ChangeSpec:
        order, layout, start, stop = _laid_out(draw, st, "PSMW-")
        n = len(layout)
        wp = _bits(draw, st, n)
        # A writable migration entry never carries uffd-wp (its PTE was writable).
        wp = "".join("0" if c == "M" else b for c, b in zip(layout, wp, strict=True))
        return ChangeSpec(
            order=order,
            index=0,
            layout=layout,
            action=draw(st.sampled_from(ACTIONS)),
            vma=draw(st.sampled_from(["anon", "shmem"])),
            uffd=draw(st.booleans()),
            wp=wp,
            dirty=draw(st.booleans()),
            shared_pages=draw(st.sampled_from([False, False, True])),
            soft_dirty_tracking=draw(st.sampled_from([False, False, True])),
            start=start,
            stop=stop,
            race=draw(st.sampled_from([""] * 7 + ["table-freed"])),
        )

    return draw_spec()


def strategy(entry: str) -> Any:
    if entry == "zap_pte_range":
        return zap_specs()
    if entry.startswith("madvise_"):
        return madvise_specs(entry)
    if entry == "change_pte_range":
        return change_specs()
    from sim.generate import specs

    return specs()


def find_failure(
    entry: str,
    revision: Program,
    base: Program,
    max_examples: int = 200,
    specs: Any = None,
) -> Execution | None:
    """The smallest generated case ``revision`` fails while ``base`` passes
    (drawn from ``specs``, by default ``strategy(entry)``)."""
    from hypothesis import HealthCheck, given, settings

    e = get(entry)
    found: list[Execution] = []

    @settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(specs if specs is not None else strategy(entry))
    def search(spec: Any) -> None:
        if e.execute(base, spec, e.name, 100_000).outcome is not Outcome.PASS:
            return
        run = e.execute(revision, spec, e.name, 100_000)
        if run.outcome is Outcome.FAIL:
            found[:] = [run]
            raise AssertionError(run.summary())

    with contextlib.suppress(AssertionError):  # hypothesis re-raises the shrunk failure
        search()
    return found[0] if found else None
