"""Which functions a C function can reach, statically, within some files.

Built from the same configured function definitions the interpreter
executes (``sim.interp.machine.configured_functions``): a call by name to a
function those files define is an edge; calls through pointers, calls to
functions defined elsewhere and calls to a function a ``prefer`` primitive
stands for (do_wp_page(): the tree's definition never runs) are not followed.
"""

from __future__ import annotations

from collections.abc import Sequence

from tree_sitter import Node

from checkers.frontend import parse
from sim.interp.machine import DEFAULT_CONFIG, SourceTree, configured_functions


def call_graph(tree: SourceTree, files: Sequence[str]) -> dict[str, set[str]]:
    """{function defined in ``files``: names it calls directly}."""
    graph: dict[str, set[str]] = {}
    for path in reversed(files):  # as Program indexes them: the first file wins
        data = tree.read(path)
        if data is None:
            continue
        pf = parse(data, path)
        for name, node in configured_functions(pf, DEFAULT_CONFIG).items():
            graph[name] = _callees(node)
    return graph


def _callees(node: Node) -> set[str]:
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == "call_expression":
            fn = n.child_by_field_name("function")
            if fn is not None and fn.type == "identifier" and fn.text is not None:
                out.add(fn.text.decode())
        stack.extend(n.named_children)
    return out


def reachable(tree: SourceTree, files: Sequence[str], start: str) -> set[str]:
    """Functions defined in ``files`` that ``start`` reaches (itself included
    when it is defined there)."""
    from sim.kernel import PRIMITIVES

    graph = call_graph(tree, files)
    # A primitive marked prefer runs instead of the tree's definition: the
    # simulator never executes what that definition calls.
    preferred = {name for name, p in PRIMITIVES.items() if p.prefer}
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in graph or (name in preferred and name != start):
            continue
        seen.add(name)
        todo.extend(graph[name] - seen)
    return seen
