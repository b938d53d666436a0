"""Small, iterative helpers over tree-sitter-c nodes.

Every walk here is iterative (an explicit stack) so that hostile input such
as 10,000 nested parentheses cannot exhaust Python's recursion limit.
Expressions are compared by their *key*: the source text with whitespace
removed (``vmf -> pte`` and ``vmf->pte`` are the same lvalue).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

from tree_sitter import Node

# Statements and expressions whose parts run only on some paths (their
# condition aside): what is nested in one of them is conditional.
BRANCHING = frozenset(
    {
        "if_statement",
        "switch_statement",
        "case_statement",
        "while_statement",
        "for_statement",
        "do_statement",
        "conditional_expression",
    }
)
# Wrappers that do not change the truth of a condition or the value read.
TRANSPARENT_CALLS = frozenset(
    {
        "likely",
        "unlikely",
        "WARN_ON",
        "WARN_ON_ONCE",
        "READ_ONCE",
        "data_race",
        "VM_WARN_ON",
        "VM_WARN_ON_ONCE",
    }
)
# Assertions: the function does not go on when the condition is true.
ASSERT_CALLS = frozenset(
    {"BUG_ON", "VM_BUG_ON", "VM_BUG_ON_PAGE", "VM_BUG_ON_FOLIO", "VM_BUG_ON_VMA", "VM_BUG_ON_MM"}
)
# Warnings used as a statement ("VM_WARN_ON(!pte);") state what the author
# knows to be impossible: the analyses take them at their word, like BUG_ON.
WARN_STATEMENTS = frozenset(
    {
        "WARN_ON",
        "WARN_ON_ONCE",
        "VM_WARN_ON",
        "VM_WARN_ON_ONCE",
        "VM_WARN_ON_FOLIO",
        "VM_WARN_ON_ONCE_FOLIO",
        "VM_WARN_ON_ONCE_PAGE",
        "WARN",
        "WARN_ONCE",
    }
)


def text(node: Node) -> str:
    raw = node.text
    return raw.decode("utf-8", "replace") if raw is not None else ""


def key(node: Node) -> str:
    """Whitespace-free text: the identity of an lvalue or expression."""
    return "".join(text(node).split())


def walk(node: Node, skip_nested_functions: bool = True) -> Iterator[Node]:
    """Pre-order, iterative."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if skip_nested_functions and n.type == "function_definition" and n is not node:
            continue
        stack.extend(reversed(n.children))


def unwrap(node: Node) -> Node:
    """Strip parentheses and value-transparent wrappers (likely(), READ_ONCE())."""
    while True:
        if node.type == "parenthesized_expression" and node.named_child_count == 1:
            inner = node.named_children[0]
            if inner.type == "comment":
                return node
            node = inner
            continue
        if node.type == "call_expression":
            name = call_name(node)
            args = call_args(node)
            if name in TRANSPARENT_CALLS and len(args) == 1:
                node = args[0]
                continue
        return node


def call_name(node: Node) -> str | None:
    if node.type != "call_expression":
        return None
    fn = node.child_by_field_name("function")
    if fn is None or fn.type != "identifier":
        return None
    return text(fn)


def call_args(node: Node) -> list[Node]:
    args = node.child_by_field_name("arguments")
    if args is None:
        return []
    return [c for c in args.named_children if c.type != "comment"]


def calls_in(node: Node) -> Iterator[Node]:
    if node.type == "function_definition":
        return iter(per_function(node, "calls", _calls_uncached))
    return _calls_uncached(node)


def _calls_uncached(node: Node) -> Iterator[Node]:
    for n in walk(node):
        if n.type == "call_expression":
            yield n


# Every checker asks for the calls and the assignments of the function it
# checks, several times: a function definition's are listed once.  Keyed by
# the node (a tree-sitter node compares equal to itself only within its tree).
_FUNCTION_CACHE: dict[tuple[str, int, int, int], tuple[Node, list[Any]]] = {}
_FUNCTION_CACHE_SIZE = 256


def per_function(node: Node, what: str, compute: Callable[[Node], Iterator[Any]]) -> list[Any]:
    k = (what, node.id, node.start_byte, node.end_byte)
    hit = _FUNCTION_CACHE.get(k)
    if hit is not None and hit[0] == node:
        return hit[1]
    if len(_FUNCTION_CACHE) >= _FUNCTION_CACHE_SIZE:
        _FUNCTION_CACHE.clear()
    out = list(compute(node))
    _FUNCTION_CACHE[k] = (node, out)
    return out


def is_lvalue(node: Node) -> bool:
    """An identifier or a field chain of identifiers (``vmf->pte``, ``a.b``)."""
    while node.type == "field_expression":
        arg = node.child_by_field_name("argument")
        if arg is None:
            return False
        node = arg
    return node.type == "identifier"


def lvalue_root(k: str) -> str:
    """``vmf->pte`` -> ``vmf``: reassigning the root kills facts on its fields."""
    for sep in ("->", "."):
        k = k.split(sep, 1)[0]
    return k


def assignments(node: Node) -> Iterator[tuple[Node, Node | None, Node]]:
    """(target, value, whole) for every assignment or initialised declarator, in
    source order; compound assignments (``+=``) and ``++`` give value None."""
    if node.type == "function_definition":
        return iter(per_function(node, "assignments", _assignments_uncached))
    return _assignments_uncached(node)


def _assignments_uncached(node: Node) -> Iterator[tuple[Node, Node | None, Node]]:
    for n in walk(node):
        if n.type == "assignment_expression":
            left = n.child_by_field_name("left")
            right = n.child_by_field_name("right")
            op = n.child_by_field_name("operator")
            if left is None:
                continue
            if op is not None and text(op) != "=":
                yield left, None, n
            else:
                yield left, right, n
        elif n.type == "init_declarator":
            decl = n.child_by_field_name("declarator")
            value = n.child_by_field_name("value")
            name = declared_identifier(decl) if decl is not None else None
            if name is not None:
                yield name, value, n
        elif n.type == "update_expression":
            arg = n.child_by_field_name("argument")
            if arg is not None:
                yield arg, None, n


def declared_identifier(decl: Node) -> Node | None:
    while decl is not None and decl.type != "identifier":
        inner = decl.child_by_field_name("declarator")
        if inner is None:
            return None
        decl = inner
    return decl


def assignment_chain(value: Node | None) -> tuple[list[Node], Node | None]:
    """``a = b = f()``: the inner targets ([b]) and the final value (f())."""
    targets: list[Node] = []
    while value is not None:
        inner = unwrap(value)
        if inner.type != "assignment_expression":
            return targets, inner
        op = inner.child_by_field_name("operator")
        if op is not None and text(op) != "=":
            return targets, None
        left = inner.child_by_field_name("left")
        if left is not None:
            targets.append(left)
        value = inner.child_by_field_name("right")
    return targets, None


def line(node: Node) -> int:
    return node.start_point[0] + 1


def enclosing_statement(node: Node) -> Node:
    while (
        node.parent is not None
        and not node.type.endswith("statement")
        and node.type != "declaration"
    ):
        node = node.parent
    return node


@lru_cache(maxsize=64)
def _alternation(names: frozenset[str]) -> re.Pattern[bytes]:
    return re.compile(
        b"|".join(re.escape(n.encode()) for n in sorted(names, key=len, reverse=True))
    )


def mentions(raw: bytes, names: Iterable[str]) -> bool:
    """Cheap text prefilter: does ``raw`` contain any of ``names``?"""
    return _alternation(frozenset(names)).search(raw) is not None
