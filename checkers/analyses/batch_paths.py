"""On which paths can ``nr`` exceed 1?  Path conditions of a batch count.

A count variable (one passed as the ``nr`` of a batched call such as
``set_ptes(..., nr)``) may exceed 1 after it is assigned anything but the
constant 1, and from entry when it is a parameter.  Such an assignment
carries the conditions under which it happens (the ``if``s around it, and a
wrapper's early ``return 1`` conditions, see batch_facts.py): the batch is
formed only when they hold.  A later branch that contradicts one of them
(``if (folio_test_swapbacked(folio))`` after a batch formed only for
``!folio_test_swapbacked(folio)``) leads to a path where the count is 1, and
so do ``nr == 1`` and ``!folio_test_large()`` branches.

The analysis is a forward may-dataflow over the CFG (dataflow.py) with facts

- ``("big", var, line, needs)``: var may exceed 1, formed at line under needs;
- ``("batched", var, line)``: a batched call has already handled var entries
  on this path (the function committed to a batch).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from checkers.analyses.batch_facts import Atom, BatchSite, batch_sites, guards
from checkers.analyses.cfg import CfgNode
from checkers.analyses.context import cfg_of
from checkers.analyses.dataflow import Solution, State, solve
from checkers.analyses.knowledge import knowledge
from checkers.analyses.summaries import helper_params
from checkers.analyses.syntax import (
    assignment_chain,
    assignments,
    call_args,
    call_name,
    calls_in,
    key,
    line,
    text,
    unwrap,
    walk,
)
from checkers.base import TreeView
from checkers.frontend import FunctionUnit


def nr_argument(call: Node) -> str | None:
    """The count variable a batched call is given (``nr``, ``-nr``), or None
    for a constant (``HPAGE_PMD_NR``, ``1``) or an expression."""
    nr_arg = knowledge().batched_nr_arg
    name = call_name(call) or ""
    idx = nr_arg.get(name)
    args = call_args(call)
    if idx is None or idx >= len(args):
        return None
    nr = unwrap(args[idx])
    if nr.type == "unary_expression" and text(nr).startswith("-"):
        inner = nr.child_by_field_name("argument")
        if inner is not None:
            nr = unwrap(inner)
    if nr.type == "identifier" and not text(nr).isupper():
        return key(nr)
    return None


@dataclass
class NrPaths:
    unit: FunctionUnit
    counts: frozenset[str]
    solution: Solution
    node_of: dict[int, int]  # call start byte -> CFG node id

    def state_at(self, call: Node) -> State:
        i = self.node_of.get(call.start_byte)
        return self.solution.before[i] if i is not None else frozenset()

    def may_batch(self, call: Node) -> list[tuple[object, ...]]:
        """("big", ...) facts at the call: how nr may exceed 1 there."""
        return [f for f in self.state_at(call) if f[0] == "big"]

    def committed(self, call: Node) -> bool:
        """A batched call already handled nr entries on some path to the call."""
        return any(f[0] == "batched" for f in self.state_at(call))


def nr_paths(unit: FunctionUnit, tree: TreeView, counts: frozenset[str]) -> NrPaths:
    sites = {s.call.start_byte: s for s in batch_sites(unit, tree)}
    wrappers = {s.wrapper: s for s in sites.values() if s.wrapper and s.boolean}
    cfg = cfg_of(unit)
    params = set(helper_params(unit))
    initial: State = frozenset(("big", v, 0, ()) for v in counts if v in params)

    def transfer(node: CfgNode, state: State) -> State:
        assert node.ast is not None
        return _transfer(node.ast, state, counts, sites, wrappers)

    def refine(node: CfgNode, label: bool, state: State) -> State:
        assert node.ast is not None
        return _refine(key(unwrap(node.ast)), label, state, counts)

    sol = solve(cfg, transfer, refine, initial)
    node_of: dict[int, int] = {}
    for n in cfg.nodes:
        if n.ast is not None and n.kind in ("stmt", "cond"):
            for c in calls_in(n.ast):
                node_of.setdefault(c.start_byte, n.id)
    return NrPaths(unit, counts, sol, node_of)


def _needs(whole: Node, value: Node, sites: dict[int, BatchSite], wrappers: dict) -> tuple:  # type: ignore[type-arg]
    out: list[Atom] = list(guards(whole))
    for c in calls_in(value):
        s = sites.get(c.start_byte)
        if s is not None:
            out.extend(s.needs)
    for atom, v in list(out):
        m = re.match(r"([A-Za-z_]\w*)\(", atom)
        if m and v and m.group(1) in wrappers:
            out.extend(wrappers[m.group(1)].needs)
    return tuple(sorted(set(out)))


def _transfer(
    ast: Node,
    state: State,
    counts: frozenset[str],
    sites: dict[int, BatchSite],
    wrappers: dict,  # type: ignore[type-arg]
) -> State:
    raw = ast.text or b""
    if not any(c.encode() in raw for c in counts):
        return state
    for target, value, whole in assignments(ast):
        tk = key(target)
        if tk not in counts:
            continue
        kept = frozenset(f for f in state if f[1] != tk)
        if value is None:  # nr += ..., nr++: whatever it was, it may now exceed 1
            state = kept | {("big", tk, line(whole), ())}
            continue
        _, final = assignment_chain(value)
        if final is None:
            state = kept
            continue
        t = text(final).strip()
        if t in ("1", "1UL", "1U", "0", "false", "true"):
            state = kept
            continue
        needs = _needs(whole, final, sites, wrappers)
        copied = [f for f in state if f[0] == "big" and _mentions(final, str(f[1])) and f[1] != tk]
        if copied:
            state = kept | {("big", tk, f[2], f[3]) for f in copied}
        else:
            state = kept | {("big", tk, line(whole), needs)}
    # A batched call given a count that may exceed 1: the path is committed to a batch.
    for c in calls_in(ast):
        v = nr_argument(c)
        if v is not None and any(f[0] == "big" and f[1] == v for f in state):
            state = state | {("batched", v, line(c))}
    return state


def _mentions(expr: Node, var: str) -> bool:
    return any(n.type == "identifier" and text(n) == var for n in walk(expr))


_ONE = re.compile(r"^(\w+)(==|!=|<=|<|>|>=)(\d+)$")


def _refine(atom: str, label: bool, state: State, counts: frozenset[str]) -> State:
    if not state:
        return state
    drop: set[tuple[object, ...]] = set()
    m = _ONE.match(atom)
    small_var = None
    if m and m.group(1) in counts:
        var, op, n = m.group(1), m.group(2), int(m.group(3))
        is_small = {
            ("==", True): n == 1,
            ("!=", False): n == 1,
            ("<=", True): n <= 1,
            ("<", True): n <= 2,
            (">", False): n >= 1,
            (">=", False): n >= 2,
        }.get((op, label), False)
        if is_small:
            small_var = var
    small_folio = atom.startswith("folio_test_large(") and not label
    for f in state:
        if f[0] != "big":
            continue
        if small_folio or f[1] == small_var:
            drop.add(f)
            continue
        needs = f[3]
        assert isinstance(needs, tuple)
        if (atom, not label) in needs:
            drop.add(f)
    if not drop:
        return state
    gone = {f[1] for f in drop}
    left = state - drop
    # no "big" left for a var: its "batched" facts no longer matter on this path
    alive = {f[1] for f in left if f[0] == "big"}
    return frozenset(f for f in left if f[0] != "batched" or f[1] in alive or f[1] not in gone)
