"""Kernel primitives by C name, each citing the kernel function it stands for.

Three sorts, as in the kernel's tools/testing/vma: ``semantic`` primitives
follow the kernel's behaviour on the model, ``noop`` stubs do nothing the
model can see, ``observed`` stubs record that they were called (and check
their preconditions).  A callee that is neither here nor in the revision's
source is reported as "not modelled: NAME".
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sim.model.mm import World

SEMANTIC, NOOP, OBSERVED = "semantic", "noop", "observed"


class MachineView(Protocol):
    """What a primitive sees of the machine that runs it
    (sim.interp.machine.Machine): the world, events, the step budget."""

    world: World

    def note(self, event: str, data: object) -> None: ...

    def charge(self, work: int) -> None: ...


@dataclass(frozen=True)
class Primitive:
    name: str
    fn: Callable[..., Any]
    cites: str  # "include/linux/pgtable.h: ptep_get()"
    kind: str = SEMANTIC
    prefer: bool = False  # wins over a definition in the tree's source
    lazy: bool = False  # receives (machine, frame, arg texts, arg closures)
    is_source: bool = False
    nargs: int | None = None  # a lazy primitive's argument count (None: any)
    # The C parameter types this primitive models (checked against the
    # tree's prototype when given): ("swp_entry_t", "int").
    params: tuple[str, ...] | None = None

    @property
    def cited_file(self) -> str:
        """The file the primitive cites: "include/linux/swap.h"."""
        return self.cites.split(":", 1)[0].strip()

    def c_prototype(self) -> str:
        """The prototype this primitive models, for messages."""
        if self.params is not None:
            return f"{self.name}({', '.join(self.params)})"
        return self.signature()

    def fits(self, proto: Any) -> bool:
        """Whether the tree's prototype (sim.prototypes.Prototype) is
        the one this primitive models: as many parameters, the same types."""
        if proto.variadic:
            return True
        if not self.accepts(len(proto.params)):
            return False
        if self.params is None or proto.macro:
            return True
        from sim.prototypes import normalise_type

        return len(self.params) == len(proto.params) and all(
            normalise_type(a) == b for a, b in zip(self.params, proto.params, strict=True)
        )

    def accepts(self, nargs: int) -> bool:
        """Whether a C call with ``nargs`` arguments fits the model's function."""
        if self.lazy:
            return self.nargs is None or nargs == self.nargs
        low, high = _arity(self.fn)
        return low <= nargs <= high

    def parameters(self) -> list[str]:
        """The C parameters the model's function takes (without the machine)."""
        if self.lazy:
            return [f"arg{i}" for i in range(self.nargs or 0)] or ["..."]
        params = list(inspect.signature(self.fn).parameters.values())[1:]
        return [
            f"{p.name}..." if p.kind is p.VAR_POSITIONAL else p.name
            for p in params
            if p.kind is not p.KEYWORD_ONLY and not p.name.startswith("_")
        ]

    def signature(self) -> str:
        return f"{self.name}({', '.join(self.parameters())})"


PRIMITIVES: dict[str, Primitive] = {}
# Other releases' shapes of a primitive: the one that fits the tree's
# prototype is used (Program.primitive_for).
VARIANTS: dict[str, list[Primitive]] = {}


def candidates(name: str) -> list[Primitive]:
    """The primitive of that name and its variants, current release first."""
    first = PRIMITIVES.get(name)
    return ([first] if first is not None else []) + VARIANTS.get(name, [])


@functools.cache
def _arity(fn: Callable[..., Any]) -> tuple[int, float]:
    """(fewest, most) C arguments ``fn(m, ...)`` takes."""
    low, high = 0, 0.0
    for p in list(inspect.signature(fn).parameters.values())[1:]:
        if p.kind is p.VAR_POSITIONAL:
            high = float("inf")
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and not p.name.startswith("_"):
            high += 1
            if p.default is p.empty:
                low += 1
    return low, high


def primitive(
    name: str,
    cites: str,
    kind: str = SEMANTIC,
    prefer: bool = False,
    lazy: bool = False,
    nargs: int | None = None,
    params: tuple[str, ...] | None = None,
    variant: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn`` as the model of C function ``name``; with ``variant``,
    as the shape of another release (give its ``params`` so the tree's
    prototype can choose it)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        prim = Primitive(name, fn, cites, kind, prefer, lazy, nargs=nargs, params=params)
        if variant:
            VARIANTS.setdefault(name, []).append(prim)
            return fn
        if name in PRIMITIVES:
            raise ValueError(f"primitive {name} registered twice")
        PRIMITIVES[name] = prim
        return fn

    return register


def noop(*names: str, cites: str, result: Any = None, prefer: bool = False) -> None:
    """Register stubs whose effect is invisible to the model."""
    for name in names:

        def fn(m: Any, *args: Any, _r: Any = result) -> Any:
            return _r

        PRIMITIVES[name] = Primitive(name, fn, cites, NOOP, prefer)


def walked(m: Any, nr: Any, who: str) -> int:
    """The count of entries a primitive is about to walk, charged to the step
    budget first: ``set_ptes(..., 1UL << 40)`` is a budget, never a hang."""
    if type(nr) is not int:
        from sim.faults import NotModelled

        raise NotModelled(f"{who}() with a count of type {type(nr).__name__}")
    m.charge(nr)
    return nr


def _load() -> None:
    from sim.kernel import folio, macros, madvise, mprotect, pgtable, swap, zap  # noqa: F401


_load()
