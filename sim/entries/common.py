"""What every entry other than do_swap_page does the same way: run the call,
turn whatever ends it into an Execution, check the entry's invariants and
place each violation at the statement that last touched its page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sim.faults import Kind, SimFault
from sim.interp.machine import Machine, Program
from sim.model.mm import PAGE_SIZE, SpinLock, World
from sim.runner import Execution, call_guarded, concluded, failed_at


class Violation:
    """A broken invariant: its kind, its message, and where to look for the
    statement (the page's address, or the last event of a name)."""

    def __init__(self, kind: Kind, message: str, address: int = -1, event: str = "") -> None:
        self.kind = kind
        self.message = message
        self.address = address
        self.event = event


# The checkers a failure of these kinds backs up, for every entry that walks
# a PTE table; an entry adds the kinds its invariants find beyond these.
PTE_WALK_BACKS = {
    Kind.STALE_POINTER.value: "stale-pointer",
    Kind.NULL.value: "unchecked-null-pte",
    Kind.OUT_OF_BOUNDS.value: "batch-bounds",
}


def unreleased(world: World, locks: Iterable[SpinLock] = ()) -> list[Violation]:
    """A PTE table's lock (or one of ``locks``) still held, or a PTE map
    not unmapped, when the call returned: the first one, or nothing."""
    for lock in [t.ptl for t in world.tables.values()] + list(locks):
        if lock.held:
            return [Violation(Kind.LOCK, f"returned with {lock.name} held")]
    for handle in world.handles:
        if handle.live:
            what = f"returned with the pte map of {handle.label} not unmapped"
            return [Violation(Kind.LOCK, what)]
    return []


# Events whose data is (first address, number of PTEs) they changed.
RANGE_EVENTS = ("clear", "set_ptes", "clear_young_dirty")


def run_call(  # noqa: PLR0917
    program: Program,
    world: World,
    spec: Any,
    function: str,
    args: Sequence[Any],
    max_steps: int,
    check: Callable[[int, Machine], list[Violation]],
) -> Execution:
    m = Machine(program, world, max_steps=max_steps)
    ret, ended = call_guarded(m, spec, function, list(args))
    if ended is not None:
        return ended
    return concluded(spec, m, ret, check(ret, m), located)


def located(spec: Any, m: Machine, v: Violation) -> Execution:
    """The violation at the statement that last touched its page."""
    exc = SimFault(v.kind, v.message)
    where: tuple[str, str, int, str] | None = None
    for name, data, at in reversed(m.world.events):
        if at is None:
            continue
        if v.event and name == v.event:
            where = at
            break
        if v.address >= 0 and name in RANGE_EVENTS:
            start, nr = data if isinstance(data, tuple) else (0, 0)
            if start <= v.address < start + nr * PAGE_SIZE:
                where = at
                break
    return failed_at(spec, m, exc, where)
