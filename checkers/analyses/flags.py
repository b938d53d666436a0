"""Flag variables that record what a path did, for the may-dataflow checkers.

mm code often remembers a step in a flag and tests the flag later instead of
repeating the step's condition (do_swap_page())::

    bool need_clear_cache = false;
    ...
    if (swapcache_prepare(entry, nr_pages))
            goto out;
    need_clear_cache = true;
    ...
out:
    if (need_clear_cache)
            swapcache_clear(si, entry, nr_pages);

A state carries ``("flag", var, constant)`` facts (the constants a flag may
hold on the paths to a point) and every other fact carries, as its last
element, the constants its flags held when it was created and since (a
``status`` of checkers/analyses/status.py).  A test of the flag drops the
facts whose recorded constant contradicts the edge.  Only variables given
a constant next to a call of interest are followed (``flag_variables``),
which keeps states small.
"""

from __future__ import annotations

from tree_sitter import Node

from checkers.analyses import status as st
from checkers.analyses.dataflow import Fact, State
from checkers.analyses.syntax import is_lvalue, key, text, unwrap

FLAG = "flag"


def flag_variables(calls: list[Node]) -> frozenset[str]:
    """Variables given a constant in the block of one of ``calls`` (the
    statement holding the call and its siblings)."""
    out: set[str] = set()
    for call in calls:
        stmt = call
        while stmt.parent is not None and stmt.parent.type != "compound_statement":
            stmt = stmt.parent
        block = stmt.parent
        if block is None:
            continue
        for sibling in block.named_children:
            if sibling.type != "expression_statement" or not sibling.named_child_count:
                continue
            expr = sibling.named_children[0]
            if expr.type != "assignment_expression":
                continue
            left = expr.child_by_field_name("left")
            if left is not None and is_lvalue(left) and constant(expr.child_by_field_name("right")):
                out.add(key(left))
    return frozenset(out)


def constant(node: Node | None) -> str | None:
    c = st.constant(node)
    return {"NULL": "0", "false": "0", "true": "1"}.get(c, c) if c is not None else None


def snapshot(state: State) -> st.Status:
    """The flags whose value is the same on every path to this point."""
    values: dict[str, set[str]] = {}
    for f in state:
        if f[0] == FLAG:
            values.setdefault(str(f[1]), set()).add(str(f[2]))
    return tuple(sorted((v, next(iter(c))) for v, c in values.items() if len(c) == 1))


def assign(state: State, var: str, value: Node | None, initial: bool = False) -> State:
    """``var = value`` (value None: not a constant, or ``+=``)."""
    c = constant(value) if value is not None else None
    out: set[Fact] = set()
    for f in state:
        if f[0] == FLAG:
            if f[1] != var:
                out.add(f)
            continue
        if initial:
            out.add(f)
            continue
        s = f[-1]
        assert isinstance(s, tuple)
        ns = st.assign(s, var, c)
        out.add((*f[:-1], ns) if ns != s else f)
    if c is not None:
        out.add((FLAG, var, c))
    return frozenset(out)


def refine(state: State, atom: Node, label: bool, variables: frozenset[str]) -> State:
    """Drop the facts (and flag values) the edge ``atom == label`` contradicts."""
    atom = unwrap(atom)
    while atom.type == "unary_expression" and text(atom).startswith("!"):
        arg = atom.child_by_field_name("argument")
        if arg is None:
            return state
        atom, label = unwrap(arg), not label
    t = st.tested(atom)
    if t is None or t[0] not in variables:
        return state
    var, const, eq = t
    const = constant_text(const)
    equal = eq if label else not eq
    out: set[Fact] = set()
    for f in state:
        if f[0] == FLAG:
            if f[1] == var and st.contradicts(((var, str(f[2])),), var, const, equal):
                continue
            out.add(f)
            continue
        s = f[-1]
        assert isinstance(s, tuple)
        if st.contradicts(s, var, const, equal):
            continue
        out.add(f)
    return frozenset(out)


def constant_text(c: str) -> str:
    return {"NULL": "0", "false": "0", "true": "1"}.get(c, c)
