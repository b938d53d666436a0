"""swap-entry-kind: a swap API given an entry that may not be a real swap slot.

What it finds:
    An entry decoded from a PTE (``pte_to_swp_entry()``, ``[swap_entry]
    sources``) passed to a call that needs a real swap slot (``swap_free*``,
    ``swapcache_prepare``, swap cache look-ups, ``free_swap_and_cache*``:
    ``[swap_entry] needs_swap``) on a path where the function has not
    established what kind of entry it is:

    - ``bug``: on that path a test proved it is *not* a swap slot
      (``non_swap_entry()`` was true, ``is_migration_entry()`` was true);
    - ``possible-bug``: no test of its kind at all on that path;
    - ``question``: only some kinds were excluded (``!is_migration_entry()``),
      which leaves markers, device and hwpoison entries.

    A false ``non_swap_entry()``, a true ``softleaf_is_swap()`` or a comparison
    of ``swp_type()`` with a device's type establish a real slot.  Each entry
    gets one finding per severity, at the first swap call it reaches; the
    later calls are counted in it.

Why it matters:
    A non-present PTE is not always swapped out: migration, device-private,
    device-exclusive, hwpoison and marker (uffd-wp, guard) entries share its
    format.  Their "offset" is a pfn or a marker bit pattern: swap_free() on
    one drops a reference on a random slot of a random device, and a swap
    cache look-up reads a nonsense index.

Example:
    entry = pte_to_swp_entry(ptent);
    nr = swap_pte_batch(pte, max_nr, ptent);
    free_swap_and_cache_nr(entry, nr);

Fix:
    Decide the kind first:
    entry = pte_to_swp_entry(ptent);
    if (!non_swap_entry(entry)) {
            nr = swap_pte_batch(pte, max_nr, ptent);
            free_swap_and_cache_nr(entry, nr);
    } else if (is_migration_entry(entry)) {
            ...
    }
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from functools import cache

from tree_sitter import Node

from checkers.analyses import flags
from checkers.analyses.cfg import CfgNode
from checkers.analyses.context import cfg_of, evidence
from checkers.analyses.dataflow import State, solve
from checkers.analyses.syntax import (
    assignment_chain,
    assignments,
    call_args,
    call_name,
    calls_in,
    key,
    line,
    mentions,
    unwrap,
)
from checkers.analyses.tables import indices, names
from checkers.base import CheckerInfo, Confidence, FunctionChecker, TreeView
from checkers.frontend import FunctionUnit
from reviewbot.models import Evidence, Finding, Severity

# Facts: (state, entry var, line of the decode, detail, flag status)
#   state "any": nothing known;  "some": some kinds excluded (detail: the test);
#   "nonswap": proved not a swap slot (detail: the test and its line).
ANY, SOME, NONSWAP = "any", "some", "nonswap"


@cache
def _needs() -> dict[str, int]:
    return indices("swap_entry", "needs_swap")


class SwapEntryKind(FunctionChecker):
    info = CheckerInfo(
        id="swap-entry-kind",
        symbol="SWAP_ENTRY_KIND",
        severity=Severity.POSSIBLE_BUG,
        confidence=Confidence.HIGH,
        message="{what}",
        requires=("cfg", "dataflow"),
    )

    def triggers(self) -> frozenset[str]:
        return frozenset({"swp_entry", "softleaf"}) | frozenset(
            n
            for n in names("swap_entry", "sources")
            if "swp_entry" not in n and "softleaf" not in n
        )

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        raw = unit.node.text or b""
        if not mentions(raw, _needs().keys()):
            return []
        sources = names("swap_entry", "sources")
        entries = {
            key(t)
            for t, v, _ in assignments(unit.node)
            if v is not None and call_name(unwrap(v)) in sources
        }
        if not entries:
            return []
        cfg = cfg_of(unit)
        sinks = [c for c in calls_in(unit.node) if call_name(c) in _needs()]
        flag_vars = flags.flag_variables(sinks)
        watched = tuple(v.encode() for v in entries | flag_vars)
        atoms: dict[int, AtomTest] = {}
        node_ops: dict[int, list[Op]] = {}

        def transfer(node: CfgNode, state: State) -> State:
            assert node.ast is not None
            ops = node_ops.get(node.id)
            if ops is None:
                ops = _ops_of(node.ast, entries, flag_vars, watched)
                node_ops[node.id] = ops
            return _transfer(ops, state, entries, flag_vars) if ops else state

        def refine(node: CfgNode, label: bool, state: State) -> State:
            if node.ast is not None and flag_vars:
                state = flags.refine(state, node.ast, label, flag_vars)
            return _refine(node, label, state, entries, atoms)

        sol = solve(cfg, transfer, refine)
        found: dict[tuple[str, int], Finding] = {}
        needs = _needs()
        for node in cfg.stmt_nodes():
            state = sol.before[node.id]
            if not state or node.ast is None:
                continue
            for call in calls_in(node.ast):
                name = call_name(call)
                if name not in needs:
                    continue
                args = call_args(call)
                idx = needs[name]
                if idx >= len(args):
                    continue
                var = key(args[idx])
                facts = [f for f in state if f[1] == var and f[0] != flags.FLAG]
                if facts:
                    f = self._finding(unit, call, name, var, facts)
                    found.setdefault((var, f.line), f)
        return _first_per_entry(sorted(found.values(), key=lambda f: f.line))

    def _finding(
        self, unit: FunctionUnit, call: Node, name: str, var: str, facts: list[tuple[object, ...]]
    ) -> Finding:
        ln = line(call)
        worst = min(facts, key=lambda f: (NONSWAP, ANY, SOME).index(str(f[0])))
        decoded = int(str(worst[2]))
        kind = str(worst[0])
        roles: tuple[Evidence, ...]
        if kind == NONSWAP:
            sev = Severity.BUG
            test, tline = str(worst[3]).rsplit("@", 1)
            what = (
                f"{name}() at line {ln} is given {var}, which on the path through line {tline} "
                f"is known not to be a swap slot ({test}): it is a migration, device, hwpoison "
                f"or marker entry."
            )
            roles = (
                evidence(unit, decoded, "decoded"),
                evidence(unit, int(tline), "not-swap"),
                evidence(unit, ln, "swap-api"),
            )
        elif kind == ANY:
            sev = Severity.POSSIBLE_BUG
            what = (
                f"{name}() at line {ln} needs a real swap slot, but {var} (decoded at line "
                f"{decoded}) reaches it on a path with no test of its kind: a migration, "
                f"device, hwpoison or marker entry would be taken for one. Test "
                f"non_swap_entry({var}) first."
            )
            roles = (evidence(unit, decoded, "decoded"), evidence(unit, ln, "swap-api"))
        else:
            sev = Severity.QUESTION
            what = (
                f"{name}() at line {ln} needs a real swap slot; {var} (decoded at line "
                f"{decoded}) is only known not to be what {worst[3]} tests. Can a marker, "
                f"device or hwpoison entry reach here? non_swap_entry({var}) would say."
            )
            roles = (evidence(unit, decoded, "decoded"), evidence(unit, ln, "swap-api"))
        return self.finding(
            unit,
            ln,
            sev,
            message=what,
            evidence=roles,
            key=f"{name}:{var}:{kind}",
        )


def _first_per_entry(findings: list[Finding]) -> list[Finding]:
    """One finding per entry and severity: the first swap call it reaches; the
    later ones are counted in its message (do_swap_page() makes eight)."""
    groups: dict[tuple[str, Severity], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.key.split(":")[1], f.severity), []).append(f)
    out = []
    for group in groups.values():
        first = group[0]
        if len(group) > 1:
            more = len(group) - 1
            lines = ", ".join(str(f.line) for f in group[1:])
            first = replace(
                first,
                message=f"{first.message} The same holds for {more} later swap "
                f"call{'s' if more > 1 else ''} (line{'s' if more > 1 else ''} {lines}).",
            )
        out.append(first)
    return sorted(out, key=lambda f: f.line)


# What a statement does: (var, assigned value, line of a decode into it or 0)
Op = tuple[str, Node | None, int]


def _ops_of(
    ast: Node, entries: set[str], flag_vars: frozenset[str], watched: tuple[bytes, ...]
) -> list[Op]:
    raw = ast.text or b""
    if not any(w in raw for w in watched):
        return []
    sources = names("swap_entry", "sources")
    ops: list[Op] = []
    for target, value, _ in assignments(ast):
        tk = key(target)
        if tk not in flag_vars and tk not in entries:
            continue
        _, final = assignment_chain(value)
        decoded = line(final) if final is not None and call_name(final) in sources else 0
        ops.append((tk, value, decoded))
    return ops


def _transfer(ops: list[Op], state: State, entries: set[str], flag_vars: frozenset[str]) -> State:
    for tk, value, decoded in ops:
        if tk in flag_vars:
            state = flags.assign(state, tk, value)
        if tk not in entries:
            continue
        state = frozenset(f for f in state if f[1] != tk or f[0] == flags.FLAG)
        if decoded:
            state = state | {(ANY, tk, decoded, "", flags.snapshot(state))}
    return state


# What a condition atom tests: (entries whose swp_type() it reads, test name, entry, line)
AtomTest = tuple[tuple[str, ...], str, str, int]


def _atom_test(atom: Node, entries: set[str]) -> AtomTest:
    atom = unwrap(atom)
    type_reads = names("swap_entry", "type_reads")
    typed = []
    for call in calls_in(atom):
        args = call_args(call)
        if args and call_name(call) in type_reads and key(args[0]) in entries:
            typed.append(key(args[0]))
    name = call_name(atom) or ""
    args = call_args(atom) if name else []
    var = key(args[0]) if args else ""
    return tuple(typed), name, var if var in entries else "", line(atom)


def _refine(
    node: CfgNode, label: bool, state: State, entries: set[str], cache: dict[int, AtomTest]
) -> State:
    if not state or node.ast is None:
        return state
    test = cache.get(node.id)
    if test is None:
        test = _atom_test(node.ast, entries)
        cache[node.id] = test
    typed, name, var, ln = test
    # Comparing the swap type with a device's (unuse_pte_range()) proves a real slot.
    for v in typed:
        if any(f[1] == v and f[0] != flags.FLAG for f in state):
            return frozenset(f for f in state if f[1] != v or f[0] == flags.FLAG)
    if not var:
        return state
    not_swap = names("swap_entry", "not_swap_tests")
    swap = names("swap_entry", "swap_tests")
    kinds = names("swap_entry", "kind_tests")
    if name in not_swap:
        proves_real = not label
    elif name in swap:
        proves_real = label
    elif name in kinds:
        if label:
            return _mark(state, var, NONSWAP, f"{name}() is true@{ln}")
        return frozenset(
            (SOME, f[1], f[2], f"{name}()", f[4]) if f[1] == var and f[0] == ANY else f
            for f in state
        )
    else:
        return state
    if proves_real:
        return frozenset(f for f in state if f[1] != var or f[0] == flags.FLAG)
    verdict = "true" if name in not_swap else "false"
    return _mark(state, var, NONSWAP, f"{name}() is {verdict}@{ln}")


def _mark(state: State, var: str, kind: str, detail: str) -> State:
    return frozenset(
        (kind, f[1], f[2], detail, f[4]) if f[1] == var and f[0] != flags.FLAG else f for f in state
    )
