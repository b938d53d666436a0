"""recheck-under-lock: a PTE installed after re-locking without re-checking it.

What it finds:
    A function that read a PTE without its lock (``vmf->orig_pte``,
    ``ptep_get_lockless()``), then re-maps and locks the table
    (``pte_offset_map_lock()``, or ``*_nolock()`` and ``spin_lock()``), and on
    some path installs through that pointer (``set_pte_at``, ``set_ptes``...)
    or updates rmap or counters while nothing since the lock has looked at
    the entry again: no ``pte_same(ptep_get(ptep), orig)``, no
    ``vmf_pte_changed()``, no test of ``ptep_get(ptep)`` at all
    (``possible-bug``).

    With ``set_ptes(..., nr)`` and ``nr`` not 1, one entry re-checked is not
    enough: without a batch re-check (``swap_pte_batch()``,
    ``pte_range_none()``, or a helper handed the pointer that makes one on
    it, read one level deep: ``can_swapin_thp(vmf, ptep, nr)``) since the
    lock, it asks (``question``) whether the other entries were re-validated.
    One finding per re-lock and severity, at the first call concerned, names
    the later ones.  The tables are ``[recheck]`` of checkers/data/kernel.toml.

Why it matters:
    Between the unlocked read and the lock another thread may have faulted
    the page in, zapped it, or migrated it.  Installing on the strength of
    the stale read overwrites a live mapping (a leaked or doubly-mapped page)
    or maps a page that is no longer the one the entry pointed to.

Example:
    vmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, vmf->address,
                                   &vmf->ptl);
    if (!vmf->pte)
            goto out;
    set_pte_at(vma->vm_mm, vmf->address, vmf->pte, pte);

Fix:
    Re-validate under the lock, and back out when it changed:
    if (unlikely(!vmf->pte || !pte_same(ptep_get(vmf->pte), vmf->orig_pte)))
            goto out_nomap;
    set_pte_at(vma->vm_mm, vmf->address, vmf->pte, pte);
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from tree_sitter import Node

from checkers.analyses import flags
from checkers.analyses.cfg import CfgNode
from checkers.analyses.context import cfg_of, evidence
from checkers.analyses.dataflow import State, solve
from checkers.analyses.summaries import helper_params
from checkers.analyses.syntax import (
    assignments,
    call_args,
    call_name,
    calls_in,
    is_lvalue,
    key,
    line,
    mentions,
    text,
    unwrap,
)
from checkers.analyses.tables import indices, names
from checkers.base import CheckerInfo, Confidence, FunctionChecker, TreeView
from checkers.frontend import FunctionUnit
from reviewbot.models import Finding, Severity

# Facts: ("locked", pte pointer, line of the lock, level, flags): level "none" (nothing
# re-checked since the lock), "one" (an entry re-checked), "batch" (a batch re-checked);
# flags: constants of the batched installs' nr variables (checkers/analyses/flags.py).
LOCKED = "locked"


class RecheckUnderLock(FunctionChecker):
    info = CheckerInfo(
        id="recheck-under-lock",
        symbol="RECHECK_UNDER_LOCK",
        severity=Severity.POSSIBLE_BUG,
        confidence=Confidence.MEDIUM,
        message="{what}",
        requires=("cfg", "dataflow"),
    )

    def triggers(self) -> frozenset[str]:
        return names("recheck", "snapshot_reads") | names("recheck", "snapshot_fields")

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        raw = unit.node.text or b""
        lockers = names("recheck", "map_locked") | frozenset(indices("recheck", "map_unlocked"))
        if not mentions(raw, lockers) or not mentions(raw, indices("recheck", "installs")):
            return []
        an = _Analysis(unit, tree)
        if not an.pointers:
            return []
        cfg = cfg_of(unit)
        sol = solve(cfg, an.transfer)
        found: dict[int, Finding] = {}
        for node in cfg.stmt_nodes():
            state = sol.before[node.id]
            if not state or node.ast is None or node.kind == "cond":
                continue
            for call in calls_in(node.ast):
                f = self._check_call(unit, an, call, state)
                if f is not None:
                    found.setdefault(f.line, f)
        return _first_per_lock(sorted(found.values(), key=lambda f: f.line))

    def _check_call(
        self, unit: FunctionUnit, an: _Analysis, call: Node, state: State
    ) -> Finding | None:
        name = call_name(call)
        installs = indices("recheck", "installs")
        args = call_args(call)
        if name in installs:
            idx = installs[name]
            if idx >= len(args):
                return None
            ptr = an.base_of(key(args[idx]))
            facts = [f for f in state if f[0] == LOCKED and f[1] == ptr]
        elif name in names("recheck", "updates"):
            facts = [f for f in state if f[0] == LOCKED]
        else:
            return None
        if not facts:
            return None
        ln = line(call)
        unchecked = [f for f in facts if f[3] == "none"]
        if unchecked:
            f = min(unchecked, key=lambda f: int(str(f[2])))
            locked = int(str(f[2]))
            return self.finding(
                unit,
                ln,
                Severity.POSSIBLE_BUG,
                message=(
                    f"{name}() at line {ln} acts on {f[1]} re-locked at line {locked}, but on "
                    f"this path nothing since the lock re-checks the entry that was read "
                    f"without it (pte_same(ptep_get({f[1]}), orig) or vmf_pte_changed()): it "
                    f"may have changed in between."
                ),
                evidence=(evidence(unit, locked, "re-locked"), evidence(unit, ln, "installs")),
                key=f"none:{name}:{f[1]}",
            )
        nr_idx = indices("recheck", "install_nr").get(name or "")
        if nr_idx is None or nr_idx >= len(args):
            return None
        nr = text(args[nr_idx]).strip()
        if nr == "1":
            return None
        single = [f for f in facts if f[3] == "one" and (nr, "1") not in _status(f)]
        if not single:
            return None
        f = single[0]
        locked = int(str(f[2]))
        return self.finding(
            unit,
            ln,
            Severity.QUESTION,
            message=(
                f"{name}() at line {ln} installs {nr} entries from {f[1]}, but on this path "
                f"only one entry was re-checked since the lock at line {locked}: were the other "
                f"entries of the batch re-validated (swap_pte_batch(), pte_range_none())?"
            ),
            evidence=(evidence(unit, locked, "re-locked"), evidence(unit, ln, "installs")),
            key=f"batch:{name}:{f[1]}",
        )


def _first_per_lock(findings: list[Finding]) -> list[Finding]:
    """One finding per re-lock and severity, at the first call it concerns; the
    later calls (the counter, the rmap, the install of one fault) are named in it."""
    groups: dict[tuple[int, Severity], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.evidence[0].line, f.severity), []).append(f)
    out = []
    for group in groups.values():
        first = group[0]
        if len(group) > 1:
            later = ", ".join(f"{f.message.split('(', 1)[0]}() at line {f.line}" for f in group[1:])
            first = replace(first, message=f"{first.message} So are {later}.")
        out.append(first)
    return sorted(out, key=lambda f: f.line)


class _Analysis:
    def __init__(self, unit: FunctionUnit, tree: TreeView) -> None:
        self.unit, self.tree = unit, tree
        self._helpers: dict[tuple[str, int], str | None] = {}
        self.locked = names("recheck", "map_locked")
        self.unlocked = indices("recheck", "map_unlocked")
        self.lock_calls = names("recheck", "lock_calls")
        self.revalidate = names("recheck", "revalidate")
        self.batch = names("recheck", "revalidate_batch")
        # pte pointers re-mapped here; lock variable -> pointer for *_nolock() maps;
        # alias -> pointer for pointers computed from one (folio_ptep = vmf->pte - idx);
        # variables holding a PTE read through one (pte = ptep_get(ptep)).
        self.pointers: set[str] = set()
        self.lock_of: dict[str, str] = {}
        self.alias: dict[str, str] = {}
        self.reads: dict[str, str] = {}
        # the nr of batched installs: a path where it is the constant 1 installs one entry
        nr_idx = indices("recheck", "install_nr")
        self.nr_vars = frozenset(
            key(call_args(c)[nr_idx[str(cname)]])
            for c in calls_in(unit.node)
            if (cname := call_name(c)) in nr_idx and nr_idx[cname] < len(call_args(c))
        )
        snap_calls = names("recheck", "snapshot_reads")
        snap_fields = names("recheck", "snapshot_fields")
        first_snapshot = None
        for target, value, _ in assignments(unit.node):
            if value is None:
                continue
            v = unwrap(value)
            name = call_name(v)
            tk = key(target)
            if name in self.locked:
                self.pointers.add(tk)
            elif name in self.unlocked:
                args = call_args(v)
                idx = self.unlocked[name]
                if idx < len(args):
                    self.pointers.add(tk)
                    self.lock_of[key(args[idx]).lstrip("&")] = tk
        body_text = unit.node.text or b""
        for name in snap_calls | snap_fields:
            pos = body_text.find(name.encode())
            if pos >= 0 and (first_snapshot is None or pos < first_snapshot):
                first_snapshot = pos
        self.has_snapshot = first_snapshot is not None
        if not self.has_snapshot:
            self.pointers = set()
            return
        for target, value, _ in assignments(unit.node):
            if value is None or not is_lvalue(target):
                continue
            v = unwrap(value)
            tk = key(target)
            if tk in self.pointers:
                continue
            src = v
            if v.type == "binary_expression" and _op(v) in ("+", "-"):
                src = unwrap(v.child_by_field_name("left") or v)
            if is_lvalue(src):
                base = self.base_of(key(src))
                if base in self.pointers:
                    self.alias[tk] = base
            elif call_name(v) in ("ptep_get", "ptep_get_lockless"):
                args = call_args(v)
                if args:
                    self.reads[tk] = key(args[0])

        # if / else-if chains that re-check on one of their branches (do_anonymous_page():
        # "nr == 1 && vmf_pte_changed()" / "nr > 1 && !pte_range_none()"): every path
        # through the chain's first condition counts as re-checked.
        self.chains: list[tuple[int, int, str, str]] = []
        body = unit.node.child_by_field_name("body")
        stack = [body] if body is not None else []
        while stack:
            n = stack.pop()
            stack.extend(n.named_children)
            if n.type != "if_statement" or (
                n.parent is not None and n.parent.type == "else_clause"
            ):
                continue
            cond = n.child_by_field_name("condition")
            if cond is None:
                continue
            for ptr in self.pointers:
                best = None
                for c in _chain_conditions(n):
                    lv = self._level(c, c.text or b"", ptr)
                    if lv == "batch" or (lv == "one" and best is None):
                        best = lv
                if best is not None:
                    self.chains.append((cond.start_byte, cond.end_byte, ptr, best))

        self._ops: dict[int, list[tuple[object, ...]]] = {}
        self._levels: dict[tuple[int, str], str | None] = {}
        words = self.pointers | set(self.alias) | set(self.nr_vars) | set(self.lock_of)
        words |= set(indices("recheck", "unmaps")) | names("recheck", "unlock_calls")
        words |= self.lock_calls
        self.words = tuple(w.split("->")[-1].encode() for w in words if w)

    def base_of(self, ptr: str) -> str:
        return self.alias.get(ptr, ptr)

    def transfer(self, node: CfgNode, state: State) -> State:
        ast = node.ast
        assert ast is not None
        if node.kind == "cond":
            return self._checked(node, state) if state else state
        ops = self._ops.get(node.id)
        if ops is None:
            ops = self._ops_of(ast)
            self._ops[node.id] = ops
        if not ops:
            return state
        out = set(state)
        for op in ops:
            kind, name = op[0], str(op[1])
            if kind == "nr":
                value = op[2]
                assert value is None or isinstance(value, Node)
                out = set(flags.assign(frozenset(out), name, value))
            elif kind == "map":
                out = {f for f in out if f[0] != LOCKED or f[1] != name}
                if op[2]:
                    snap = flags.snapshot(frozenset(out))
                    out.add((LOCKED, name, op[2], "none", snap))
            elif kind == "unmap":
                out = {f for f in out if f[0] != LOCKED or f[1] != name}
            elif kind == "lock":
                out = {f for f in out if f[0] != LOCKED or f[1] != name}
                out.add((LOCKED, name, op[2], "none", flags.snapshot(frozenset(out))))
        return frozenset(out)

    def _ops_of(self, ast: Node) -> list[tuple[object, ...]]:
        """What one statement does to the facts, read once: nr assignments,
        (re-)maps of a pointer, unmaps and unlocks, spin_lock() of a mapped lock."""
        raw = ast.text or b""
        if not any(w in raw for w in self.words):
            return []
        ops: list[tuple[object, ...]] = []
        for target, value, _ in assignments(ast):
            tk = key(target)
            if tk in self.nr_vars:
                ops.append(("nr", tk, value))
            if tk in self.pointers:
                v = unwrap(value) if value is not None else None
                locked = line(v) if v is not None and call_name(v) in self.locked else 0
                ops.append(("map", tk, locked))
        unmaps = indices("recheck", "unmaps")
        unlocks = names("recheck", "unlock_calls")
        for call in calls_in(ast):
            name = call_name(call)
            args = call_args(call)
            if name in unmaps and unmaps[name] < len(args):
                ops.append(("unmap", self.base_of(key(args[unmaps[name]]))))
            elif name in unlocks and args:
                ptr = self.lock_of.get(key(args[0]).lstrip("&"))
                if ptr is not None:
                    ops.append(("unmap", ptr))
            elif name in self.lock_calls and args:
                ptr = self.lock_of.get(key(args[0]).lstrip("&"))
                if ptr is not None:
                    ops.append(("lock", ptr, line(call)))
        return ops

    def _checked(self, node: CfgNode, state: State) -> State:
        """A condition that looks at the entry re-checks it (on both edges: the
        failing one leaves the install path)."""
        atom = node.ast
        assert atom is not None
        out = set(state)
        for f in state:
            if f[0] != LOCKED:
                continue
            ptr = str(f[1])
            ck = (node.id, ptr)
            if ck not in self._levels:
                level = self._level(atom, atom.text or b"", ptr)
                for start, end, cptr, clevel in self.chains:
                    if cptr == ptr and start <= atom.start_byte < end and level != "batch":
                        level = clevel
                self._levels[ck] = level
            level = self._levels[ck]
            if level is None:
                continue
            if level == "batch" or f[3] == "none":
                out.discard(f)
                out.add((f[0], f[1], f[2], level, f[4]))
        return frozenset(out)

    def _level(self, atom: Node, raw: bytes, ptr: str) -> str | None:
        names_in = {call_name(c): c for c in calls_in(atom)}
        root = ptr.split("->", maxsplit=1)[0]
        related = {ptr, *[a for a, b in self.alias.items() if b == ptr]}
        for name, call in names_in.items():
            if name is None:
                continue
            args_text = key(call)
            mentions_ptr = any(r in args_text for r in related) or (
                "->" in ptr and root in [key(a) for a in call_args(call)]
            )
            if name in self.batch and mentions_ptr:
                return "batch"
            if name in self.revalidate and (mentions_ptr or "ptep_get" in args_text):
                return "one"
            if name == "ptep_get" and mentions_ptr:
                return "one"
            if mentions_ptr:
                level = self._helper_level(name, call, related)
                if level is not None:
                    return level
        if any(r.encode() in raw for r, p in self.reads.items() if p in related):
            for r, p in self.reads.items():
                if p in related and _mentions_var(atom, r):
                    return "one"
        return None

    def _helper_level(self, name: str, call: Node, related: set[str]) -> str | None:
        """What a helper handed the pointer re-checks, from one level of its body
        (same file first, then the tree): a batch re-check (swap_pte_batch() of
        that parameter) or one entry (ptep_get() / pte_same() of it), else None.
        can_swapin_thp(vmf, ptep, nr) re-checks the whole range under the lock."""
        args = call_args(call)
        index = next((i for i, a in enumerate(args) if key(a) in related), -1)
        if index < 0:
            return None
        memo = (name, index)
        if memo in self._helpers:
            return self._helpers[memo]
        self._helpers[memo] = None  # recursion guard, and the answer when not found
        node = self.unit.file.functions().get(name)
        helper = (
            FunctionUnit(self.unit.file, name, node)
            if node is not None
            else self.tree.find_function(name)
        )
        params = helper_params(helper) if helper is not None else []
        if helper is None or index >= len(params) or not params[index]:
            return None
        param, level = params[index], None
        for c in calls_in(helper.node):
            cname = call_name(c)
            if not any(_mentions_var(a, param) for a in call_args(c)):
                continue
            if cname in self.batch:
                level = "batch"
                break
            if cname in self.revalidate or cname == "ptep_get":
                level = "one"
        self._helpers[memo] = level
        return level


def _status(fact: tuple[object, ...]) -> tuple[tuple[str, str], ...]:
    s = fact[4]
    assert isinstance(s, tuple)
    return s


def _chain_conditions(if_stmt: Node) -> list[Node]:
    out = []
    n: Node | None = if_stmt
    while n is not None and n.type == "if_statement":
        cond = n.child_by_field_name("condition")
        if cond is not None:
            out.append(cond)
        alt = n.child_by_field_name("alternative")
        n = None
        if alt is not None:
            inner = [c for c in alt.named_children if c.type == "if_statement"]
            n = inner[0] if inner else None
    return out


def _mentions_var(node: Node, var: str) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type in ("identifier", "field_expression") and key(n) == var:
            return True
        stack.extend(n.children)
    return False


def _op(node: Node) -> str:
    op = node.child_by_field_name("operator")
    return text(op) if op is not None else ""
