"""Kernel primitives by C name, each citing the kernel function it stands for.

Three sorts, as in the kernel's tools/testing/vma: ``semantic`` primitives
follow the kernel's behaviour on the model, ``noop`` stubs do nothing the
model can see, ``observed`` stubs record that they were called (and check
their preconditions).  A callee that is neither here nor in the revision's
source is reported as "not modelled: NAME".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SEMANTIC, NOOP, OBSERVED = "semantic", "noop", "observed"


@dataclass(frozen=True)
class Primitive:
    name: str
    fn: Callable[..., Any]
    cites: str  # "include/linux/pgtable.h: ptep_get()"
    kind: str = SEMANTIC
    prefer: bool = False  # wins over a definition in the tree's source
    lazy: bool = False  # receives (machine, frame, arg texts, arg closures)
    is_source: bool = False


PRIMITIVES: dict[str, Primitive] = {}


def primitive(
    name: str,
    cites: str,
    kind: str = SEMANTIC,
    prefer: bool = False,
    lazy: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in PRIMITIVES:
            raise ValueError(f"primitive {name} registered twice")
        PRIMITIVES[name] = Primitive(name, fn, cites, kind, prefer, lazy)
        return fn

    return register


def noop(*names: str, cites: str, result: Any = None, prefer: bool = False) -> None:
    """Register stubs whose effect is invisible to the model."""
    for name in names:

        def fn(m: Any, *args: Any, _r: Any = result) -> Any:
            return _r

        PRIMITIVES[name] = Primitive(name, fn, cites, NOOP, prefer)


def _load() -> None:
    from sim.kernel import folio, macros, madvise, mprotect, pgtable, swap, zap  # noqa: F401


_load()
