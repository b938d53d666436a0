"""swap-device-pairing: swap device references and swap cache pins that do not balance.

What it finds:
    In a function that both takes and gives back (so that it owns the
    pairing), on some path:

    - ``get_swap_device()`` succeeded and the function returns without
      ``put_swap_device()`` (``possible-bug``), or puts it twice (``bug``);
    - ``swapcache_prepare(entry, nr)`` succeeded and the function returns
      without ``swapcache_clear()`` (``possible-bug``), clears twice
      (``bug``), or clears a different number of entries than it pinned
      (``swapcache_clear(si, entry, 1)`` after ``swapcache_prepare(entry,
      nr_pages)``: ``possible-bug``).

    A NULL ``si`` holds no reference and a non-zero ``swapcache_prepare()``
    pinned nothing; flags set next to the calls (``need_clear_cache = true``)
    are followed.  The pairs are in ``[swap_pairs]`` of checkers/data/kernel.toml.

Why it matters:
    A leaked device reference makes swapoff wait forever; a put too many
    lets swapoff free the device under a user.  A swap cache pin
    (SWAP_HAS_CACHE) left behind makes every later fault on those entries
    spin in ``swapcache_prepare()`` returning ``-EEXIST``; clearing fewer
    entries than were pinned leaves the rest pinned for good, clearing more
    drops somebody else's pin.

Example:
    if (swapcache_prepare(entry, nr_pages))
            goto out_page;
    need_clear_cache = true;
    ...
    if (need_clear_cache)
            swapcache_clear(si, entry, 1);

Fix:
    Give back what was taken, on every path:
    if (need_clear_cache)
            swapcache_clear(si, entry, nr_pages);
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from tree_sitter import Node

from checkers.analyses import flags
from checkers.analyses.cfg import Cfg, CfgNode
from checkers.analyses.context import cfg_of, evidence
from checkers.analyses.dataflow import State, solve
from checkers.analyses.syntax import (
    assignments,
    call_args,
    call_name,
    calls_in,
    declared_identifier,
    is_lvalue,
    key,
    line,
    text,
    unwrap,
)
from checkers.analyses.tables import table
from checkers.base import CheckerInfo, Confidence, FunctionChecker, TreeView
from checkers.frontend import FunctionUnit
from reviewbot.models import Evidence, Finding, Severity

# Facts: (kind, what, nr, line, status)
#   kind "taken": a reference or pin held; "given": given back at `line`.
#   what: "dev:<si>" for a device reference, "pin:<entry>" for a swap cache pin.
TAKEN, GIVEN = "taken", "given"


@dataclass(frozen=True)
class _Pair:
    take: str
    give: str
    kind: str  # "dev" or "pin"
    take_entry: int  # argument index of the entry (pin) in take
    take_nr: int  # argument index of nr in take (-1: none)
    give_what: int  # argument index of what is given back
    give_nr: int


@cache
def _pairs() -> tuple[_Pair, ...]:
    out = []
    for take, v in table("swap_pairs").items():
        out.append(
            _Pair(
                take=take,
                give=str(v["give"]),
                kind=str(v["kind"]),
                take_entry=int(v.get("take_entry", -1)),
                take_nr=int(v.get("take_nr", -1)),
                give_what=int(v["give_what"]),
                give_nr=int(v.get("give_nr", -1)),
            )
        )
    return tuple(out)


@dataclass
class _Report:
    line: int
    kind: str
    what: str
    other: int
    detail: str = ""


class SwapDevicePairing(FunctionChecker):
    info = CheckerInfo(
        id="swap-device-pairing",
        symbol="SWAP_DEVICE_PAIRING",
        severity=Severity.POSSIBLE_BUG,
        confidence=Confidence.HIGH,
        message="{what}",
        requires=("cfg", "dataflow"),
    )

    def triggers(self) -> frozenset[str]:
        return frozenset(p.take for p in _pairs())

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        raw = unit.node.text or b""
        pairs = [p for p in _pairs() if p.take.encode() in raw and p.give.encode() in raw]
        if not pairs:
            return []
        names = {p.take for p in pairs} | {p.give for p in pairs}
        calls = [c for c in calls_in(unit.node) if call_name(c) in names]
        flag_vars = flags.flag_variables(calls)
        cfg = cfg_of(unit)
        an = _Analysis(pairs, flag_vars, calls)
        sol = solve(cfg, an.transfer, an.refine)
        reports: dict[tuple[int, str, str], _Report] = {}
        for node in cfg.stmt_nodes():
            an.transfer(node, sol.before[node.id], reports)
        _returns(cfg, sol.after, reports)
        return [self._finding(unit, r) for r in sorted(reports.values(), key=lambda r: r.line)]

    def _finding(self, unit: FunctionUnit, r: _Report) -> Finding:
        kind, _, var = r.what.partition(":")
        ref = (
            f"the swap device reference in {var}"
            if kind == "dev"
            else f"the swap cache pin on {var}"
        )
        roles: tuple[Evidence, ...]
        if r.kind == "leak":
            sev = Severity.POSSIBLE_BUG
            msg = (
                f"this path returns at line {r.line} still holding {ref} taken at line "
                f"{r.other}; the other paths give it back."
            )
            roles = (evidence(unit, r.other, "taken"), evidence(unit, r.line, "returns"))
        elif r.kind == "twice":
            sev = Severity.BUG
            msg = (
                f"{ref} is given back at line {r.line} after it was already given back at line "
                f"{r.other} on this path."
            )
            roles = (evidence(unit, r.other, "given"), evidence(unit, r.line, "given-again"))
        else:
            sev = Severity.POSSIBLE_BUG
            cleared, pinned = r.detail.split("|", 1)
            msg = (
                f"swapcache_clear() at line {r.line} clears nr = {cleared} entries at {var}, but "
                f"swapcache_prepare() at line {r.other} pinned nr = {pinned}: the pins do not "
                f"balance."
            )
            roles = (evidence(unit, r.other, "pinned"), evidence(unit, r.line, "cleared"))
        return self.finding(
            unit,
            r.line,
            sev,
            message=msg,
            evidence=roles,
            key=f"{r.kind}:{r.what}",
        )


def _returns(cfg: Cfg, after: list[State], reports: dict[tuple[int, str, str], _Report]) -> None:
    for p in cfg.preds()[cfg.exit]:
        node = cfg.nodes[p]
        if node.ast is None:
            continue
        returned = key(node.ast) if node.ast.type == "return_statement" else ""
        for f in after[p]:
            if f[0] != TAKEN:
                continue
            what = str(f[1])
            var = what.partition(":")[2]
            if var and var in returned:
                continue  # handed to the caller
            ln = line(node.ast)
            reports.setdefault((ln, "leak", what), _Report(ln, "leak", what, int(str(f[3]))))


class _Analysis:
    def __init__(self, pairs: list[_Pair], flag_vars: frozenset[str], calls: list[Node]) -> None:
        self.pairs = pairs
        self.take = {p.take: p for p in pairs}
        self.give = {p.give: p for p in pairs}
        self.flag_vars = flag_vars
        # the variables a device reference is stored in: statements that copy them
        # elsewhere hand the reference over
        held = {_assigned_to(c) for c in calls if call_name(c) in self.take} - {""}
        words = set(self.take) | set(self.give) | set(flag_vars) | held
        self.words = tuple(w.encode() for w in words)
        self._ops: dict[int, list[tuple[object, ...]]] = {}

    def transfer(
        self,
        node: CfgNode,
        state: State,
        reports: dict[tuple[int, str, str], _Report] | None = None,
    ) -> State:
        ast = node.ast
        assert ast is not None
        ops = self._ops.get(node.id)
        if ops is None:
            ops = self._ops_of(ast)
            self._ops[node.id] = ops
        for op in ops:
            kind = op[0]
            if kind == "flag":
                value = op[2]
                assert value is None or isinstance(value, Node)
                state = flags.assign(state, str(op[1]), value)
            elif kind == "escape":
                # a reference stored elsewhere (*sip = si) is handed over
                what = "dev:" + str(op[1])
                state = frozenset(f for f in state if not (f[0] == TAKEN and f[1] == what))
            else:
                call = op[1]
                assert isinstance(call, Node)
                name = call_name(call) or ""
                args = call_args(call)
                if kind == "take":
                    state = self._take(self.take[name], call, args, state)
                else:
                    state = self._give(self.give[name], call, args, state, reports)
        return state

    def _ops_of(self, ast: Node) -> list[tuple[object, ...]]:
        """What one statement does, read once: flag assignments, escapes of a
        device reference, takes and gives in source order."""
        raw = ast.text or b""
        if not any(w in raw for w in self.words):
            return []
        ops: list[tuple[object, ...]] = []
        for target, value, _ in assignments(ast):
            tk = key(target)
            if tk in self.flag_vars:
                ops.append(("flag", tk, value))
            if value is not None and is_lvalue(unwrap(value)):
                ops.append(("escape", key(unwrap(value))))
        for call in calls_in(ast):
            name = call_name(call)
            if name in self.take:
                ops.append(("take", call))
            elif name in self.give:
                ops.append(("give", call))
        return ops

    def _take(self, p: _Pair, call: Node, args: list[Node], state: State) -> State:
        if p.kind != "dev":
            return state  # a pin is taken on the edge where the call returned 0 (refine)
        target = _assigned_to(call)
        if not target:
            return state
        what = "dev:" + target
        nr = ""
        kept = frozenset(f for f in state if f[1] != what)
        return kept | {(TAKEN, what, nr, line(call), flags.snapshot(state))}

    def _give(
        self,
        p: _Pair,
        call: Node,
        args: list[Node],
        state: State,
        reports: dict[tuple[int, str, str], _Report] | None,
    ) -> State:
        if p.give_what >= len(args):
            return state
        what = f"{p.kind}:{key(args[p.give_what])}"
        ln = line(call)
        taken = [f for f in state if f[0] == TAKEN and f[1] == what]
        given = [f for f in state if f[0] == GIVEN and f[1] == what]
        if reports is not None:
            if given:
                first = min(int(str(f[3])) for f in given)
                reports.setdefault((ln, "twice", what), _Report(ln, "twice", what, first))
            if p.give_nr >= 0 and p.give_nr < len(args):
                nr = key(args[p.give_nr])
                for f in taken:
                    if f[2] and f[2] != nr and _literal(nr) != _literal(str(f[2])):
                        reports.setdefault(
                            (ln, "nr", what),
                            _Report(
                                ln, "nr", what, int(str(f[3])), f"{text(args[p.give_nr])}|{f[2]}"
                            ),
                        )
        kept = frozenset(f for f in state if f[1] != what or f[0] == flags.FLAG)
        if not taken:
            return kept
        return kept | {(GIVEN, what, "", ln, flags.snapshot(state))}

    def refine(self, node: CfgNode, label: bool, state: State) -> State:
        atom = node.ast
        if atom is None:
            return state
        if self.flag_vars and state:
            state = flags.refine(state, atom, label, self.flag_vars)
        atom = unwrap(atom)
        name = call_name(atom)
        if name in self.take and self.take[name].kind == "pin":
            p = self.take[name]
            args = call_args(atom)
            if label or p.take_entry >= len(args):
                return state  # non-zero: nothing pinned
            what = "pin:" + key(args[p.take_entry])
            nr = key(args[p.take_nr]) if 0 <= p.take_nr < len(args) else ""
            kept = frozenset(f for f in state if f[1] != what)
            return kept | {(TAKEN, what, nr, line(atom), flags.snapshot(state))}
        if not state:
            return state
        if is_lvalue(atom) and not label:  # si == NULL: no reference
            what = "dev:" + key(atom)
            return frozenset(f for f in state if not (f[0] == TAKEN and f[1] == what))
        return state


def _assigned_to(call: Node) -> str:
    p = call.parent
    while p is not None and p.type == "parenthesized_expression":
        p = p.parent
    if p is None:
        return ""
    if p.type == "assignment_expression":
        left = p.child_by_field_name("left")
        return key(left) if left is not None and is_lvalue(left) else ""
    if p.type == "init_declarator":
        d = p.child_by_field_name("declarator")
        d = declared_identifier(d) if d is not None else None
        return text(d) if d is not None else ""
    return ""


def _literal(s: str) -> int | None:
    try:
        return int(s.rstrip("uUlL"), 0)
    except ValueError:
        return None
