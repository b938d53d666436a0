"""Run one scenario case on one tree: build the world, execute, check.

``execute()`` never raises for anything the C does: a dynamic check, a
budget, something not modelled or an invariant broken all become an
Execution with an Outcome, a Kind, a message and the last statements run.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sim import invariants
from sim.faults import Kind, NotModelled, Outcome, SimFault
from sim.interp.machine import SOURCE_FILES, Machine, Program
from sim.model.mm import VmFault, World
from sim.scenarios.spec import Spec, build, describe

log = logging.getLogger(__name__)
V = TypeVar("V")  # an entry's kind of invariant violation

# Which recorded event locates an invariant violation in the C source.
_EVENT_FOR_KIND = {
    Kind.SMEARED_BIT: ("set_ptes",),
    Kind.WRONG_PAGE: ("set_ptes",),
    Kind.OUTSIDE: ("set_ptes",),
    Kind.PERMISSION: ("set_ptes",),
    Kind.WRONG_COUNT: ("swap_free", "rmap", "set_ptes"),
}
# Messages that point at a particular hook rather than the kind's default.
_EVENT_FOR_TEXT = {
    "icache": "flush_icache",
    "arch metadata": "arch_do_swap_page",
}


@dataclass
class Execution:
    spec: Any  # the entry's spec (sim.scenarios.spec.Spec for do_swap_page)
    outcome: Outcome
    kind: str = ""
    message: str = ""  # the fault alone, no case description
    file: str = ""
    line: int = 0
    function: str = ""
    trace: tuple[tuple[str, str, int, str], ...] = ()
    # Every step recorded; ``covered`` is its set, made when first asked for
    # (the suite asks for the base's runs only).
    log: list[tuple[str, str, int, str]] = field(default_factory=list, repr=False)
    steps: int = 0
    ret: int | None = None
    more: list[Execution] = field(default_factory=list)  # further invariants broken
    reason: str = ""  # why it was not simulated: "frobnicate() is unknown"

    @functools.cached_property
    def covered(self) -> set[tuple[str, str, int, str]]:
        return set(self.log)

    @property
    def description(self) -> str:
        own = getattr(self.spec, "describe", None)  # another entry's spec describes itself
        return own() if callable(own) else describe(self.spec)

    def trace_lines(self) -> tuple[str, ...]:
        return tuple(f"{fn}:{line}: {text}" for _, fn, line, text in self.trace)

    def summary(self) -> str:
        where = f" at line {self.line}" if self.line else ""
        if self.line and self.file and self.file != SOURCE_FILES[0]:
            # A reply about mm/memory.c must not cite a helper's line as its own.
            fn = f" in {self.function}()" if self.function else ""
            where = f" at {self.file}:{self.line}{fn}"
        return f"{self.description}: {self.message}{where}"


def execute(
    program: Program, spec: Spec, entry: str = "do_swap_page", max_steps: int = 100_000
) -> Execution:
    built = build(spec)
    return run_fault(program, built.world, built.vmf, spec, entry, max_steps)


def run_fault(  # noqa: PLR0917
    program: Program,
    world: World,
    vmf: VmFault,
    spec: Spec,
    entry: str = "do_swap_page",
    max_steps: int = 100_000,
) -> Execution:
    """One fault on an existing world (a sequence of faults shares one)."""
    world.events.clear()
    world.map_lock_calls = 0
    before = [invariants.snapshot(world)]
    raced = [False]

    def on_race() -> None:
        before[0] = invariants.snapshot(world)
        raced[0] = True

    world.on_race = on_race
    m = Machine(program, world, max_steps=max_steps)
    ret, ended = call_guarded(m, spec, entry, [vmf])
    if ended is not None:
        return ended
    # Any injected race may leave the fault to be retried with nothing mapped.
    raced[0] = raced[0] or bool(spec.race) or any(e[0] == "table-freed" for e in world.events)
    violations = invariants.check(
        world, before[0], invariants.Fault(vmf.address, ret, spec.write, raced[0])
    )
    return concluded(spec, m, ret, violations, _violated)


def _violated(spec: Spec, m: Machine, violation: invariants.Violation) -> Execution:
    exc = SimFault(violation.kind, violation.message)
    world = m.world
    where: tuple[str, str, int, str] | None = None
    names = [e for text, e in _EVENT_FOR_TEXT.items() if text in violation.message]
    for name in names or _EVENT_FOR_KIND.get(violation.kind, ()):
        events = [e for e in world.events if e[0] == name and e[2] is not None]
        if events:
            where = events[-1][2]
            break
    return failed_at(spec, m, exc, where)


def failed_at(
    spec: Any, m: Machine, exc: SimFault, where: tuple[str, str, int, str] | None
) -> Execution:
    """The FAIL of ``exc`` located at ``where`` (file, function, line, text),
    or at the last statement run when nothing recorded a place."""
    if where is None and m.trace:
        where = m.trace[-1]
    if where is not None:
        file, fn, line, _ = where
        exc.locate(file, line, fn)
    return _ended(spec, m, Outcome.FAIL, exc)


def call_guarded(
    m: Machine, spec: Any, function: str, args: list[Any]
) -> tuple[Any, Execution | None]:
    """Run one call of ``function``: its int return, or the Execution that
    ended it otherwise (a fault, a budget, what is not modelled, or the
    simulator's own error, which is ``model-error`` with its traceback logged)."""
    try:
        ret = m.run(function, args)
    except NotModelled as exc:
        return None, _ended(spec, m, Outcome.NOT_MODELLED, exc, exc.what)
    except SimFault as exc:
        if exc.kind is Kind.BUDGET:
            return None, _ended(spec, m, Outcome.BUDGET, exc, _budget_reason(exc))
        return None, _ended(spec, m, Outcome.FAIL, exc)
    except RecursionError:
        budget = SimFault(Kind.BUDGET, "host recursion limit reached (unbounded recursion?)")
        return None, _ended(spec, m, Outcome.BUDGET, budget, "over the host's recursion limit")
    except Exception as exc:  # the simulator's own bug, never the patch's
        own = getattr(spec, "describe", None)  # another entry's spec describes itself
        what = own() if callable(own) else describe(spec)
        log.error("simulator error in %s (%s)", function, what, exc_info=True)
        error = SimFault(Kind.MODEL_ERROR, f"simulator error: {type(exc).__name__}: {exc}")
        return None, _ended(
            spec, m, Outcome.MODEL_ERROR, error, f"simulator error ({type(exc).__name__})"
        )
    if type(ret) is not int:
        what = f"{function} returned {ret!r}"
        return None, _ended(spec, m, Outcome.NOT_MODELLED, NotModelled(what), what)
    return ret, None


def concluded(
    spec: Any,
    m: Machine,
    ret: int,
    violations: Sequence[V],
    locate: Callable[[Any, Machine, V], Execution],
) -> Execution:
    """A call that returned ``ret``: PASS when no invariant was broken,
    otherwise the first violation, located, with the others in ``more``."""
    if not violations:
        return Execution(
            spec, Outcome.PASS, trace=tuple(m.trace), log=m.log, steps=m.steps, ret=ret
        )
    results = [locate(spec, m, v) for v in violations]
    first = results[0]
    first.ret = ret
    first.more = results[1:]
    return first


def _budget_reason(exc: SimFault) -> str:
    """``over the step budget``: what ran out, without the case's numbers."""
    for what in ("step", "depth", "time", "memory", "width"):
        if what in exc.message:
            return f"over the {what} budget" if what != "width" else "over the integer budget"
    return "over budget"


def _ended(spec: Any, m: Machine, outcome: Outcome, exc: SimFault, reason: str = "") -> Execution:
    return Execution(
        spec,
        outcome,
        reason=reason,
        kind=exc.kind.value,
        message=exc.message,
        file=exc.file,
        line=exc.line,
        function=exc.function,
        trace=tuple(m.trace),
        log=m.log,
        steps=m.steps,
    )
