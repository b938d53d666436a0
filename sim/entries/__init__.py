"""Entry points: one module per C function the simulator can call.

An entry module (``sim/entries/<function>.py``) owns everything about
calling its function: how a case builds the world and the call's
arguments, its scenarios, what must hold afterwards, the source files the
tree's functions are executed from, and which static checker each failure
kind backs up.  It defines:

    NAME        the C function, e.g. "zap_pte_range"
    FILES       the tree's files whose functions are executed from source
    BACKS       {failure kind: checker id} (a failure of that kind confirms
                that checker's finding on the same lines)
    scenarios() {name: sim.scenarios.Scenario}
    execute(program, spec, function, max_steps) -> sim.runner.Execution
    check(spec)  raises ValueError for a case that cannot be built

and a docstring whose first line says what the entry is.  This package
finds entries by listing its own modules; a module without NAME is a helper.

``entries_for(touched, tree)`` says which entries a revision needs: an
entry whose function was touched, or whose execution reaches a touched
function the simulator executes from the tree's source.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from sim.callgraph import reachable

if TYPE_CHECKING:
    from sim.interp.machine import Program, SourceTree
    from sim.runner import Execution
    from sim.scenarios import Scenario


@dataclass(frozen=True)
class Entry:
    name: str
    doc: str
    files: tuple[str, ...]
    backs: Mapping[str, str]
    scenarios: Callable[[], dict[str, Scenario]]
    execute: Callable[[Program, Any, str, int], Execution]
    check: Callable[[Any], None]  # raises ValueError for a case that cannot be built

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else self.name


@cache
def all_entries() -> dict[str, Entry]:
    found: dict[str, Entry] = {}
    for mod in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{mod.name}")
        name = getattr(module, "NAME", None)
        if name is None:
            continue
        found[name] = Entry(
            name=name,
            doc=module.__doc__ or "",
            files=tuple(module.FILES),
            backs=dict(module.BACKS),
            scenarios=module.scenarios,
            execute=module.execute,
            check=module.check,
        )
    return dict(sorted(found.items()))


def get(name: str) -> Entry:
    entries = all_entries()
    if name not in entries:
        raise KeyError(f"unknown entry {name!r}; known: {', '.join(entries)}")
    return entries[name]


def entries_for(touched: Collection[str], tree: SourceTree) -> list[Entry]:
    """The entries a revision touching ``touched`` (function names) needs.

    An entry is chosen when its function is touched, or when a touched
    function is reachable from it through calls between functions that
    ``tree`` defines in the entry's FILES (the code the simulator executes
    from source).  A touched function the simulator only stands in for (a
    primitive, or a file the entry does not read) chooses nothing: running
    the entry would not run the patched code.  The reachability is static,
    so it over-approximates: do_swap_page reaches zap_pte_range() through
    handle_pte_marker() -> do_fault() -> unmap_mapping_folio(), a path none
    of its scenarios takes (an extra entry run, never a missed one).
    """
    wanted = set(touched)
    if not wanted:
        return []
    return [
        entry
        for entry in all_entries().values()
        if entry.name in wanted or wanted & reachable(tree, entry.files, entry.name)
    ]
