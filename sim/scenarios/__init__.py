"""Scenarios: one module per situation, each drawing its PTEs in its docstring.

A scenario module defines NAME, HIT (True for a swap-cache hit), ``spec(order,
index) -> Spec`` and ``cases() -> list[Spec]`` (its default grid).  This
package finds them by listing its own modules.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sim.scenarios.spec import Spec as Spec  # re-exported: scenario modules name it


@dataclass(frozen=True)
class Scenario:
    name: str
    doc: str
    hit: bool
    spec: Callable[[int, int], Any]  # Spec for do_swap_page; an entry's own type otherwise
    cases: Callable[[], list[Any]]


@cache
def all_scenarios() -> dict[str, Scenario]:
    found: dict[str, Scenario] = {}
    for mod in pkgutil.iter_modules(__path__):
        if mod.name in ("spec",):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        name = getattr(module, "NAME", None)
        if name is None:
            continue
        found[name] = Scenario(
            name, module.__doc__ or "", bool(module.HIT), module.spec, module.cases
        )
    return dict(sorted(found.items()))


def get(name: str) -> Scenario:
    scenarios = all_scenarios()
    if name not in scenarios:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(scenarios)}")
    return scenarios[name]


def middle(order: int) -> int:
    nr = 1 << order
    return 3 if nr == 16 else nr // 2 - 1 if nr > 2 else 0


def first_middle_last(order: int) -> list[int]:
    nr = 1 << order
    return sorted({0, middle(order), nr - 1})
