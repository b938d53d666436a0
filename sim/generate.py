"""Property-based cases: hypothesis draws Specs and shrinks a failure.

``specs()`` draws any consistent case (order, faulting page, placement,
per-page bits, sharing, pages already mapped, extra references, write,
races).  ``find_failure()`` searches for a case the revision fails while the
base passes, and returns the smallest one hypothesis can shrink it to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sim.faults import Outcome
from sim.interp.machine import Program
from sim.runner import Execution, execute
from sim.scenarios.spec import Bits, Spec

ALL_SOURCES = ("swapcache",) * 8 + ("readahead", "sync-io")
ALL_RACES = ("",) * 6 + ("table-freed", "pte-changed")
ALL_PLACEMENTS = ("inside",) * 3 + ("vma-start", "vma-end", "pmd-boundary")


def specs(
    sources: tuple[str, ...] = ALL_SOURCES,
    races: tuple[str, ...] = ALL_RACES,
    placements: tuple[str, ...] = ALL_PLACEMENTS,
) -> Any:
    """Consistent Specs; the tuples (repeats weight a choice) narrow a search."""
    from hypothesis import strategies as st

    @st.composite
    def draw_spec(draw: Callable[[Any], Any]) -> Spec:
        source = draw(st.sampled_from(sources))
        order = 0 if source != "swapcache" else draw(st.integers(0, 4))
        nr = 1 << order
        placement = draw(st.sampled_from([p for p in placements if order or p == "inside"]))
        low = 1 if placement == "vma-start" else 0
        high = nr - 2 if placement == "vma-end" else nr - 1
        # The edges of a folio are where batches go wrong: weight them.
        where = draw(st.sampled_from(["first", "last", "any"]))
        index = (
            low if where == "first" else high if where == "last" else draw(st.integers(low, high))
        )
        # Mostly uniform bits with a few pages flipped: uniform batches are
        # where smearing hides, and "same" is what a failure shrinks towards.
        common = Bits(
            soft_dirty=draw(st.booleans()),
            uffd_wp=draw(st.booleans()),
            exclusive=draw(st.booleans()),
        )
        vary = draw(st.sampled_from(["same", "soft_dirty", "uffd_wp", "exclusive", "any"]))
        fields = ["soft_dirty", "uffd_wp", "exclusive"] if vary == "any" else [vary]
        # One bit mask per varied field (few draws: generation stays cheap).
        masks = {f: draw(st.integers(0, (1 << nr) - 1)) for f in fields if f != "same"}
        bits = tuple(
            _flip(common, [f for f, mask in masks.items() if mask >> i & 1]) for i in range(nr)
        )
        shared_mask = draw(st.integers(0, (1 << nr) - 1)) if source != "sync-io" else 0
        shared = tuple(0 if b.exclusive else shared_mask >> i & 1 for i, b in enumerate(bits))
        others = [i for i in range(nr) if i != index]
        mapped: tuple[int, ...] = ()
        if others and source == "swapcache" and draw(st.integers(0, 3)) == 3:
            mapped = tuple(sorted(draw(st.sets(st.sampled_from(others), min_size=1, max_size=2))))
        return Spec(
            order=order,
            index=index,
            placement=placement,
            bits=bits,
            shared=shared if any(shared) else (),
            mapped=mapped,
            extra_refs=draw(st.integers(0, 1)) if source == "swapcache" else 0,
            write=draw(st.booleans()),
            race=draw(st.sampled_from(races)),
            source=source,
        )

    return draw_spec()


def _flip(bits: Bits, fields: list[str]) -> Bits:
    if not fields:
        return bits
    return replace(bits, **{f: not getattr(bits, f) for f in fields})


def fails(execution: Execution) -> bool:
    return execution.outcome is Outcome.FAIL


def find_failure(
    program: Program,
    base: Program | None = None,
    *,
    max_examples: int = 200,
    seed: int = 0,
    entry: str = "do_swap_page",
    strategy: Any = None,
) -> Execution | None:
    """The smallest generated case ``program`` fails (and ``base``, if given, passes)."""
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    def bad(spec: Spec) -> bool:
        if not fails(execute(program, spec, entry)):
            return False
        return base is None or execute(base, spec, entry).outcome is Outcome.PASS

    try:
        spec = find(
            strategy if strategy is not None else specs(),
            bad,
            settings=settings(
                max_examples=max_examples,
                database=None,
                derandomize=True,
                phases=[Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
                deadline=None,
            ),
            random=__import__("random").Random(seed),
        )
    except NoSuchExample:
        return None
    return execute(program, spec, entry)
