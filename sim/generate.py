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


def specs() -> Any:
    from hypothesis import strategies as st

    @st.composite
    def draw_spec(draw: Callable[[Any], Any]) -> Spec:
        source = draw(st.sampled_from(["swapcache"] * 8 + ["readahead", "sync-io"]))
        order = 0 if source != "swapcache" else draw(st.integers(0, 4))
        nr = 1 << order
        placements = ["inside"] * 3 + (["vma-start", "vma-end", "pmd-boundary"] if order else [])
        placement = draw(st.sampled_from(placements))
        low = 1 if placement == "vma-start" else 0
        high = nr - 2 if placement == "vma-end" else nr - 1
        index = draw(st.integers(low, high))
        # Mostly uniform bits with a few pages flipped: uniform batches are
        # where smearing hides, and "same" is what a failure shrinks towards.
        common = Bits(
            soft_dirty=draw(st.booleans()),
            uffd_wp=draw(st.booleans()),
            exclusive=draw(st.booleans()),
        )
        vary = draw(st.sampled_from(["same", "soft_dirty", "uffd_wp", "exclusive", "any"]))
        fields = ["soft_dirty", "uffd_wp", "exclusive"] if vary == "any" else [vary]
        flips = st.sampled_from(["same", *fields])
        bits = tuple(_flip(common, draw(flips)) for _ in range(nr))
        shared = tuple(
            0 if b.exclusive or source == "sync-io" else draw(st.integers(0, 1)) for b in bits
        )
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
            race=draw(st.sampled_from([""] * 6 + ["table-freed", "pte-changed"])),
            source=source,
        )

    return draw_spec()


def _flip(bits: Bits, field: str) -> Bits:
    if field == "same":
        return bits
    return replace(bits, **{field: not getattr(bits, field)})


def fails(execution: Execution) -> bool:
    return execution.outcome is Outcome.FAIL


def find_failure(
    program: Program,
    base: Program | None = None,
    max_examples: int = 200,
    seed: int = 0,
    entry: str = "do_swap_page",
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
            specs(),
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
