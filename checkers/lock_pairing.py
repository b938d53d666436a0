"""lock-pairing: a lock taken while held, released twice, or kept on a return.

What it finds:
    On each path through a function, per lock (named by what the lock
    argument points to: ``spin_lock(ptl)`` and ``pte_offset_map_lock(...,
    &ptl)`` both take ``*ptl``):

    - the lock is taken while this function already holds it, including a
      lock that a ``pte_offset_map_lock()``-style helper returned held and a
      ``spin_lock_nested()`` of the same lock: a self-deadlock (``bug``);
    - it is released when this function already released it and did not
      take it again: a double unlock (``bug``);
    - a path returns while a lock this function took through a local
      variable is still held (``possible-bug``);
    - a call that needs the PTE lock (``[locks] requires_pte_lock``) is made
      through a pte pointer whose lock this function already dropped
      (``possible-bug``).

    Conditional locking is followed: a trylock holds the lock on its true
    edge only, a helper's lock only when its pte pointer is not NULL, and
    branches on the same condition (or a status variable such as ``locked``)
    are correlated.  A lock whose container is passed to a function that may
    take or drop it (``wp_page_reuse(vmf)``) is handed over: nothing more is
    said about it.  When a call this function cannot see into (not in this
    file, not ``[locks] neutral`` or ``neutral_prefixes``) comes between the
    two locks or unlocks, the finding is a ``question``: does it drop (or
    retake) the lock?  The tables are in ``[locks]`` of checkers/data/kernel.toml.

Why it matters:
    Kernel spinlocks do not nest: taking the PTE lock again spins forever.
    Converting ``pte_offset_map_nolock()`` + ``spin_lock()`` into
    ``pte_offset_map_lock()`` and forgetting the now redundant
    ``spin_lock()`` is the review finding this checker is named after; a
    second unlock corrupts the lock and preemption count, and a forgotten
    unlock hangs the next fault on that page table.

Example:
    vmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, vmf->address,
                                   &vmf->ptl);
    if (!vmf->pte)
            return 0;
    spin_lock(vmf->ptl);

Fix:
    The helper already holds the lock: drop the spin_lock(), or map with
    pte_offset_map_nolock() when the lock must be taken later.
    vmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, vmf->address,
                                   &vmf->ptl);
    if (!vmf->pte)
            return 0;
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

from tree_sitter import Node, Query, QueryCursor

from checkers.analyses import flags
from checkers.analyses import status as st
from checkers.analyses.cfg import Cfg, CfgNode
from checkers.analyses.context import cfg_of, evidence
from checkers.analyses.dataflow import Fact, State, solve
from checkers.analyses.syntax import (
    assignment_chain,
    call_args,
    call_name,
    declared_identifier,
    is_lvalue,
    key,
    line,
    text,
    unwrap,
    walk,
)
from checkers.analyses.tables import indices, names
from checkers.base import CheckerInfo, Confidence, FunctionChecker, TreeView
from checkers.frontend import C_LANGUAGE, FunctionUnit
from reviewbot.models import Finding, Severity

HELD, RELEASED, ASSUME = "held", "released", "assume"
_CALLED = re.compile(rb"\b([A-Za-z_]\w*)\s*\(")
_KEYWORDS = frozenset({b"if", b"while", b"for", b"switch", b"return", b"sizeof", b"typeof"})
_ITERATOR = re.compile(rb"\b\w*for_?each\w*\s*\(\s*&?(\w+)")
# What is known of a lock fact since it was made: nothing in the way; a call this function
# cannot see into came in between (a second lock or unlock is only a question); the lock
# was handed to a call that may take or drop it (nothing is reported).
CLEAR, OPAQUE, HANDED = 0, 1, 2
# A lock fact: (kind, lock, line, via, handed, status)
#   lock:   "*ptl", "mm->page_table_lock" (what the lock argument points to)
#   via:    the pte pointer (or lock pointer) whose non-NULL value means "held", or ""
#   handed: the lock was passed to a call that may take or drop it
#   status: constants of tested variables and outcomes of correlated tests since then
# An assumption: ("assume", atom, "T"/"F"): the outcome of a correlated test on this path.


@dataclass(frozen=True)
class _Tables:
    acquire: dict[str, int]
    trylock: dict[str, int]
    release: dict[str, int]
    via_out: dict[str, int]
    returns_lock: frozenset[str]
    returns_lock_or_null: frozenset[str]
    neutral: frozenset[str]
    neutral_prefixes: tuple[str, ...]
    requires: dict[str, int]
    container: dict[str, int]
    noreturn: frozenset[str]

    @property
    def lock_calls(self) -> frozenset[str]:
        return (
            frozenset((*self.acquire, *self.trylock, *self.release, *self.via_out))
            | self.returns_lock
            | self.returns_lock_or_null
        )


@cache
def _tables() -> _Tables:
    return _Tables(
        acquire=indices("locks", "acquire"),
        trylock=indices("locks", "trylock"),
        release=indices("locks", "release"),
        via_out=indices("locks", "returns_locked_via_out"),
        returns_lock=names("locks", "returns_lock"),
        returns_lock_or_null=names("locks", "returns_lock_or_null"),
        neutral=names("locks", "neutral"),
        neutral_prefixes=tuple(sorted(names("locks", "neutral_prefixes"))),
        requires=indices("locks", "requires_pte_lock"),
        container=indices("locks", "container_arg"),
        noreturn=names("locks", "noreturn"),
    )


@cache
def _call_pattern() -> re.Pattern[bytes]:
    words = sorted(_tables().lock_calls, key=len, reverse=True)
    return re.compile(rb"\b(?:" + b"|".join(re.escape(w.encode()) for w in words) + rb")\s*\(")


def _may_report(unit: FunctionUnit, calls: list[Node]) -> bool:
    """Whether the lock calls can make a finding at all: two acquisitions or two
    releases of one lock, or a lock kept in a local variable that is both taken
    and released (the only kind a return is checked for), or a release with a
    call that needs the PTE lock.  Most functions take one lock once and drop it
    once: the dataflow is not run for them."""
    t = _tables()
    taken: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for call in calls:
        name = call_name(call) or ""
        args = call_args(call)
        if name in t.acquire and t.acquire[name] < len(args):
            taken[lock_of(args[t.acquire[name]])] += 1
        elif name in t.trylock and t.trylock[name] < len(args):
            taken[lock_of(args[t.trylock[name]])] += 1
        elif name in t.via_out and t.via_out[name] < len(args):
            taken[lock_of_out(args[t.via_out[name]])] += 1
        elif name in t.returns_lock or name in t.returns_lock_or_null:
            target = _assigned_to(call).split("|")[0]
            taken["*" + target if target else "?"] += 1
        elif name in t.release and t.release[name] < len(args):
            dropped[lock_of(args[t.release[name]])] += 1
    if any(n > 1 for n in taken.values()) or any(n > 1 for n in dropped.values()):
        return True
    if any(lock in taken and "->" not in lock and "." not in lock for lock in dropped):
        return True
    raw = unit.node.text or b""
    return bool(dropped) and any(r.encode() in raw for r in t.requires)


def _lock_calls(body: Node, raw: bytes) -> list[Node]:
    """The lock calls of a body, found by a text search and mapped back to nodes
    (cheaper than walking or querying every call of the function)."""
    out = []
    names_ = _tables().lock_calls
    base = body.start_byte
    for m in _call_pattern().finditer(raw):
        node = body.descendant_for_byte_range(base + m.start(), base + m.start() + 1)
        while node is not None and node.type != "call_expression":
            if node.type in ("expression_statement", "compound_statement"):
                node = None
                break
            node = node.parent
        if node is not None and call_name(node) in names_:
            out.append(node)
    return out


@cache
def _decl_query() -> Query:
    return Query(
        C_LANGUAGE,
        """
        (declaration declarator: (identifier) @name)
        (declaration declarator: (init_declarator declarator: (identifier) @name))
        (declaration declarator: (pointer_declarator declarator: (identifier) @name))
        (declaration declarator: (init_declarator
            declarator: (pointer_declarator declarator: (identifier) @name)))
        """,
    )


def lock_of(arg: Node) -> str:
    """What a lock argument points to: ``&x`` -> ``x``, ``p`` -> ``*p``."""
    arg = unwrap(arg)
    if arg.type == "pointer_expression":
        op = arg.child_by_field_name("operator")
        inner = arg.child_by_field_name("argument")
        if op is not None and text(op) == "&" and inner is not None:
            return key(inner)
    return "*" + key(arg)


def _base(lock: str) -> str:
    """``*vmf->ptl`` -> ``vmf->ptl``; the expression the lock lives in."""
    return lock.lstrip("*&")


def _root(expr: str) -> str:
    for sep in ("->", ".", "["):
        expr = expr.split(sep, 1)[0]
    return expr.lstrip("*&(")


@dataclass
class _Report:
    line: int
    lock: str
    kind: str
    node: Node
    other: int  # line of the earlier acquisition / release
    how: str = ""


class LockPairing(FunctionChecker):
    info = CheckerInfo(
        id="lock-pairing",
        symbol="LOCK_PAIRING",
        severity=Severity.BUG,
        confidence=Confidence.MEDIUM,
        message="{what}",
        requires=("cfg", "dataflow"),
    )

    def triggers(self) -> frozenset[str]:
        # Every lock call of [locks] contains one of these (spin_lock_irqsave: "lock_irq",
        # get_locked_pte is added whole): few alternatives keep the engine's text test cheap.
        words = frozenset({"lock(", "lock_irq", "lock_bh", "lock_nested"})
        missed = [n for n in _tables().lock_calls if not any(w in n + "(" for w in words)]
        return words | frozenset(missed)

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        body = unit.node.child_by_field_name("body")
        raw = body.text if body is not None else None
        if body is None or raw is None or _call_pattern().search(raw) is None:
            return []
        if unit.has_error:
            return []  # a misparsed body (a macro tree-sitter cannot read) has no reliable paths
        calls = _lock_calls(body, raw)
        if len(calls) < 2 or not _may_report(unit, calls):
            return []  # nothing here can pair up into a finding
        cfg = cfg_of(unit)
        ctx = _Context.build(unit, cfg, calls)
        reports: dict[tuple[str, int, str], _Report] = {}

        def transfer(node: CfgNode, state: State) -> State:
            assert node.ast is not None
            return ctx.transfer(node, state, None)

        def refine(node: CfgNode, label: bool, state: State) -> State:
            return ctx.refine(node, label, state)

        sol = solve(cfg, transfer, refine)
        # Report from the fixpoint only: one more, reporting, pass over its states.
        for node in cfg.stmt_nodes():
            if ctx.may_report_at(node):
                ctx.transfer(node, sol.before[node.id], reports)
        self._returns(ctx, cfg, sol.after, reports)
        return [self._finding(unit, r) for r in sorted(reports.values(), key=lambda r: r.line)]

    def _returns(
        self,
        ctx: _Context,
        cfg: Cfg,
        after: list[State],
        reports: dict[tuple[str, int, str], _Report],
    ) -> None:
        if "lock" in ctx.name or "unlock" in ctx.name:
            return  # lock helpers return holding (or having dropped) a lock by design
        preds = cfg.preds()[cfg.exit]
        for p in preds:
            node = cfg.nodes[p]
            # what reaches the exit: a test's state refined by the outcome that leaves
            state = frozenset().union(
                *(
                    after[p] if label is None else ctx.refine(node, label, after[p])
                    for target, label in node.succ
                    if target == cfg.exit
                )
            )
            returned = text(node.ast) if node.ast is not None else ""
            for f in state:
                if f[0] != HELD or f[4] == HANDED:
                    continue
                lock = str(f[1])
                if lock in ctx.entered_held:
                    continue  # dropped and taken again: held on entry, held on return
                base_root = _base(lock)
                if base_root not in ctx.locals or base_root in _words(returned):
                    continue
                if any(v in _words(returned) for v in _vias(f)):
                    continue
                if any(f2[0] == HELD and f2[1] == lock and f2[4] == HANDED for f2 in state):
                    continue
                where = node.ast if node.ast is not None else ctx.fn
                ln = line(where) if node.ast is not None else ctx.end_line
                k = (lock, ln, "return")
                if k not in reports:
                    reports[k] = _Report(ln, lock, "return", where, int(str(f[2])))

    def _finding(self, unit: FunctionUnit, r: _Report) -> Finding:
        lock = r.lock
        if r.kind == "double-lock":
            sev = Severity.BUG
            what = (
                f"{lock} is taken at line {r.line} while this function already holds it "
                f"(taken at line {r.other}{r.how}): a spinlock does not nest, this deadlocks."
            )
            roles = (evidence(unit, r.other, "taken"), evidence(unit, r.line, "taken-again"))
        elif r.kind in ("double-lock?", "double-unlock?"):
            sev = Severity.QUESTION
            again = "taken" if r.kind == "double-lock?" else "released"
            harm = "deadlocks" if again == "taken" else "is a double unlock"
            did = "took" if again == "taken" else "released"
            what = (
                f"{lock} is {again} at line {r.line} although this function already {did} it "
                f"at line {r.other}, and in between it calls what it cannot see into "
                f"({r.how}): does one of them {'drop' if again == 'taken' else 'retake'} it? "
                f"Otherwise this {harm}."
            )
            roles = (evidence(unit, r.other, again), evidence(unit, r.line, f"{again}-again"))
        elif r.kind == "double-unlock":
            sev = Severity.BUG
            what = (
                f"{lock} is released at line {r.line} after this function already released it "
                f"at line {r.other}, with no lock in between: a double unlock."
            )
            roles = (evidence(unit, r.other, "released"), evidence(unit, r.line, "released-again"))
        elif r.kind == "return":
            sev = Severity.POSSIBLE_BUG
            what = (
                f"this path returns with {lock} held (taken at line {r.other}); every other "
                f"lock of it is paired with an unlock. Is the unlock missing?"
            )
            roles = (evidence(unit, r.other, "taken"), evidence(unit, r.line, "returns"))
        else:
            sev = Severity.POSSIBLE_BUG
            what = (
                f"{r.how}() at line {r.line} needs the PTE lock, but {lock} was released at "
                f"line {r.other} and not taken again."
            )
            roles = (evidence(unit, r.other, "released"), evidence(unit, r.line, "needs-lock"))
        return self.finding(
            unit,
            r.line,
            sev,
            message=what,
            evidence=roles,
            key=f"{r.kind}:{lock}",
        )


class _Context:
    """What the transfer functions of one function need to know."""

    def __init__(self) -> None:
        self.tables = _tables()
        self.correlated: frozenset[str] = frozenset()
        self.tested_vars: frozenset[str] = frozenset()
        self.locals: frozenset[str] = frozenset()
        self.words: tuple[bytes, ...] = ()
        self._atoms: dict[int, tuple[Node, bool, Node, bool, bool]] = {}
        self._effects: dict[
            int, tuple[list[tuple[str, Node | None, Node | None, str | None]], list[Node], bool]
        ] = {}
        self.name = ""
        self._helpers: dict[tuple[str, int], str] = {}
        self._touch_cache: dict[tuple[str, str], bool] = {}
        self._opaque_calls: dict[str, list[str]] = {}
        self._opaque_names: dict[int, list[str]] = {}
        self._plans: dict[int, tuple[object, ...]] = {}
        self.iterators: frozenset[str] = frozenset()
        self._counters: frozenset[str] | None = None
        # locks whose first touch on some path is an unlock: held on entry
        self.entered_held: set[str] = set()
        self.file_functions: dict[str, Node] = {}
        self._containers: dict[str, set[str]] = {}
        self.fn: Node
        self.end_line = 0

    @classmethod
    def build(cls, unit: FunctionUnit, cfg: Cfg, calls: list[Node]) -> _Context:
        ctx = cls()
        ctx.name = unit.name
        ctx.fn = unit.node
        ctx.file_functions = unit.file.functions()
        # hlist_for_each_entry(old, ...) re-assigns old on every turn, invisibly: a lock
        # named through an iterator is a different lock each time
        # (read from the original text: the normaliser turned the macro into a plain while)
        original = unit.file.source[unit.node.start_byte : unit.node.end_byte]
        ctx.iterators = frozenset(m.decode() for m in _ITERATOR.findall(original))
        ctx.end_line = unit.end_line
        counts: Counter[str] = Counter()
        tested: set[str] = set()
        for cn in cfg.nodes:
            if cn.kind != "cond" or cn.ast is None:
                continue
            counts[key(cn.ast)] += 1
            t = _tested(_tested_atom(unwrap(cn.ast), True)[0])
            if t is not None:
                tested.add(t[0])
        guarding = _guarding_atoms(calls)
        ctx.correlated = frozenset(k for k, c in counts.items() if c >= 2 and k in guarding)
        # Only variables given a constant right next to a lock call
        # (``spin_lock(l); locked = true;``, ``pte_unmap_unlock(pte, ptl);
        # pte = NULL;``) are status variables worth following for the lock.
        ctx.tested_vars = frozenset(tested & flags.flag_variables(calls))
        body = unit.node.child_by_field_name("body")
        local: set[str] = set()
        if body is not None:
            cursor = QueryCursor(_decl_query())
            for ident in cursor.captures(body).get("name", []):
                local.add(text(ident))
        ctx.locals = frozenset(local)
        roots: set[str] = set()
        for n in calls:
            for a in call_args(n):
                roots.add(_root(key(a)))
                # every name the lock is reached through (EXT4_SB(inode->i_sb)->lock:
                # a call given inode may drop it)
                roots.update(re.findall(r"(?<![>.])\b[a-z_]\w*\b", key(a)))
            parent = n.parent
            while parent is not None and parent.type in (
                "assignment_expression",
                "parenthesized_expression",
            ):
                left = parent.child_by_field_name("left")
                if left is not None:
                    roots.add(_root(key(left)))
                parent = parent.parent
            if parent is not None and parent.type == "init_declarator":
                roots.add(_root(_assigned_to(n).split("|")[0]))
        words = {w for w in roots | tested if w and re.fullmatch(r"\w+", w)}
        ctx.words = tuple(w.encode() for w in words)
        return ctx

    def may_report_at(self, node: CfgNode) -> bool:
        """Reports come from lock calls and calls that need the PTE lock only."""
        eff = self._effects.get(node.id)
        if eff is None:
            return True
        _, calls, locks = eff
        return locks or any(call_name(c) in self.tables.requires for c in calls)

    def relevant(self, raw: bytes) -> bool:
        return _call_pattern().search(raw) is not None or any(w in raw for w in self.words)

    # -- edges -----------------------------------------------------------------
    def refine(self, node: CfgNode, label: bool, state: State) -> State:
        if node.ast is None:
            return state
        info = self._atoms.get(node.id)
        if info is None:
            raw = unwrap(node.ast)
            tested, flip = _tested_atom(raw, True)
            k = key(tested)
            useful = (
                call_name(raw) in self.tables.trylock
                or k in self.correlated
                or k in self.tested_vars
                or any(w.decode() == k for w in self.words)
                or _tested(tested) is not None
            )
            info = (raw, useful, tested, flip, k in self.correlated)
            self._atoms[node.id] = info
        # (a correlated test is remembered even with nothing held yet: "if (ng)
        # spin_lock(l); ... if (ng) spin_unlock(l);" needs the first outcome)
        if not info[1] or (not state and not info[4]):
            return state
        atom = info[0]
        name = call_name(atom)
        if name in self.tables.trylock:
            args = call_args(atom)
            idx = self.tables.trylock[name]
            if label and idx < len(args):
                lock = lock_of(args[idx])
                kept = {f for f in state if f[0] == ASSUME or f[1] != lock}
                return frozenset(kept | {(HELD, lock, line(atom), "", CLEAR, self._guard(state))})
            return state
        atom = info[2]
        label = label if info[3] else not label
        out = set(state)
        changed = False
        if is_lvalue(atom) and not label:
            k = key(atom)
            for f in state:
                if f[0] == HELD and (k in _vias(f) or f[1] == "*" + k):
                    out.discard(f)
                    changed = True
        t = _tested(atom)
        if t is not None and t[0] in self.tested_vars:
            var, const, eq = t
            equal = eq if label else not eq
            for f in list(out):
                if f[0] in (HELD, RELEASED) and st.contradicts(_status(f), var, const, equal):
                    out.discard(f)
                    changed = True
        k = key(atom)
        if k in self.correlated:
            mark, other = ("T", "F") if label else ("F", "T")
            gk = "?" + k
            for f in list(out):
                if f[0] == ASSUME and f[1] == k:
                    out.discard(f)
                elif f[0] in (HELD, RELEASED):
                    s = _status(f)
                    if (gk, other) in s:
                        out.discard(f)
                    elif (gk, mark) not in s:
                        out.discard(f)
                        out.add((*f[:5], st.assign(s, gk, mark)))
            out.add((ASSUME, k, mark))
            changed = True
        return frozenset(out) if changed else state

    def _guard(self, state: State) -> st.Status:
        marks: dict[str, set[str]] = {}
        for f in state:
            if f[0] == ASSUME:
                marks.setdefault(str(f[1]), set()).add(str(f[2]))
        return tuple(sorted(("?" + k, next(iter(v))) for k, v in marks.items() if len(v) == 1))

    # -- statements --------------------------------------------------------------
    def transfer(
        self, node: CfgNode, state: State, reports: dict[tuple[str, int, str], _Report] | None
    ) -> State:
        ast = node.ast
        assert ast is not None
        if ast.type == "expression_statement" and ast.named_child_count:
            expr = ast.named_children[0]
            if call_name(expr) in self.tables.noreturn:
                return frozenset()
        eff = self._effects.get(node.id)
        if eff is None:
            eff = self._effects_of(ast)
            self._effects[node.id] = eff
        assigns, calls, locks = eff
        if not assigns and not calls:
            # a statement about nothing lock-related may still call what this
            # function cannot see into
            opaque = self._opaque_names.get(node.id)
            if opaque is None:
                opaque = [
                    n.decode()
                    for n in _CALLED.findall(ast.text or b"")
                    if n not in _KEYWORDS and not self._lock_free(n.decode())
                ]
                self._opaque_names[node.id] = opaque
            if opaque and any(f[0] in (HELD, RELEASED) and f[4] != HANDED for f in state):
                out = set(state)
                for name in opaque:
                    self._obscure(name, out)
                return frozenset(out)
            return state
        if not locks and not any(f[0] != ASSUME for f in state):
            return state
        out = set(state)
        for tk, value, final, fname in assigns:
            for f in list(out):
                if f[0] not in (HELD, RELEASED):
                    continue
                lock = str(f[1])
                if _root(_base(lock)) == tk or _base(lock) == tk:
                    if (
                        fname in self.tables.returns_lock
                        or fname in self.tables.returns_lock_or_null
                    ):
                        continue  # handled by the call
                    out.discard(f)
                elif tk in _vias(f) and value is not None:  # p++, p += n keep NULL-ness
                    out.discard(f)
                    rest = "|".join(v for v in _vias(f) if v != tk)
                    out.add((f[0], f[1], f[2], rest, f[4], f[5]))
                elif (
                    value is not None
                    and final is not None
                    and is_lvalue(final)
                    and (key(final) == _base(lock) or key(final) == lock)
                ):
                    # the lock escapes into another lvalue (*ptlp = ptl): handed over
                    out.discard(f)
                    out.add((f[0], f[1], f[2], f[3], HANDED, f[5]))
            if tk in self.tested_vars:
                c = _const(st.constant(value)) if value is not None else None
                for f in list(out):
                    if f[0] in (HELD, RELEASED):
                        ns = st.assign(_status(f), tk, c)
                        if ns != f[5]:
                            out.discard(f)
                            out.add((*f[:5], ns))
        for call in calls:
            self._call(call, out, reports)
        return frozenset(out)

    def _effects_of(
        self, ast: Node
    ) -> tuple[list[tuple[str, Node | None, Node | None, str | None]], list[Node], bool]:
        """(assignments, calls, whether a lock call is among them) of one statement."""
        raw = ast.text or b""
        if not self.relevant(raw):
            return [], [], False
        assigns = []
        calls = []
        # One walk for both (this runs for every statement that names a lock).
        for n in walk(ast):
            t = n.type
            if t == "call_expression":
                calls.append(n)
                continue
            target: Node | None = None
            value: Node | None = None
            if t == "assignment_expression":
                target = n.child_by_field_name("left")
                op = n.child_by_field_name("operator")
                if op is not None and text(op) == "=":
                    value = n.child_by_field_name("right")
            elif t == "init_declarator":
                decl = n.child_by_field_name("declarator")
                target = declared_identifier(decl) if decl is not None else None
                value = n.child_by_field_name("value")
            elif t == "update_expression":
                target = n.child_by_field_name("argument")
            if target is None:
                continue
            _, final = assignment_chain(value)
            fname = call_name(final) if final is not None else None
            assigns.append((key(target), value, final, fname))
        locks = _call_pattern().search(raw) is not None
        return assigns, calls, locks

    def _plan(self, call: Node) -> tuple[object, ...]:
        """What a call does, worked out once per call (the fixpoint visits it often):
        (kind, name, line, lock, via, how, pte pointer needing the lock, argument keys,
        defined in this file, known lock-free)."""
        plan = self._plans.get(call.id)
        if plan is not None:
            return plan
        t = self.tables
        name = call_name(call) or ""
        args = call_args(call)
        ln = line(call)
        kind, lock, via, how, needs = "other", "", "", "", ""
        if not name:
            kind = "none"
        elif name in t.acquire and t.acquire[name] < len(args):
            kind, lock = "acquire", lock_of(args[t.acquire[name]])
        elif name in t.via_out and t.via_out[name] < len(args):
            kind, lock = "acquire", lock_of_out(args[t.via_out[name]])
            via, how = _assigned_to(call), f" by {name}()"
        elif name in t.returns_lock or name in t.returns_lock_or_null:
            target = _assigned_to(call)
            kind = "acquire" if target else "none"
            lock, via, how = "*" + target.split("|")[0], target, f" by {name}()"
        elif name in t.release and t.release[name] < len(args):
            kind, lock = "release", lock_of(args[t.release[name]])
        elif name in t.trylock:
            kind = "none"
        elif name in t.requires and t.requires[name] < len(args):
            needs = key(args[t.requires[name]])
        keys = tuple(key(a) for a in args) if kind == "other" else ()
        plan = (
            kind, name, ln, lock, via, how, needs, keys,
            name in self.file_functions, kind == "other" and self._lock_free(name),
        )  # fmt: skip
        self._plans[call.id] = plan
        return plan

    def _call(
        self, call: Node, out: set[Fact], reports: dict[tuple[str, int, str], _Report] | None
    ) -> None:
        kind, name, ln, lock, via, how, needs, keys, in_file, lock_free = self._plan(call)
        assert isinstance(name, str) and isinstance(ln, int)
        if kind == "none":
            return
        if kind == "acquire":
            self._acquire(
                str(lock), str(via), ln=ln, call=call, out=out, reports=reports, how=str(how)
            )
            return
        if kind == "release":
            self._release(str(lock), ln, call, out, reports)
            return
        if needs and reports is not None:
            self._requires(name, str(needs), ln=ln, call=call, out=out, reports=reports)
        if name in self.tables.neutral or not any(
            f[0] in (HELD, RELEASED) and f[4] != HANDED for f in out
        ):
            return
        assert isinstance(keys, tuple)
        for k in keys:
            self._hand(str(k), out)
        if in_file:
            self._hand_to_callee(name, out)
        if not lock_free:
            self._obscure(name, out)

    def _acquire(
        self,
        lock: str,
        via: str,
        *,
        ln: int,
        call: Node,
        out: set[Fact],
        reports: dict[tuple[str, int, str], _Report] | None,
        how: str,
    ) -> None:
        held = [f for f in out if f[0] == HELD and f[1] == lock]
        released = [f for f in out if f[0] == RELEASED and f[1] == lock]
        self._report_again("double-lock", lock, ln, call, held, released, reports)
        for f in held + released:
            out.discard(f)
        state = HANDED if _conditional(call) or self._per_turn(lock) else CLEAR
        out.add((HELD, lock, ln, via, state, self._guard(frozenset(out))))
        if how:
            self._helpers[(lock, ln)] = how
        name = call_name(call) or ""
        idx = self.tables.container.get(name)
        args = call_args(call)
        if idx is not None and idx < len(args):
            self._containers.setdefault(lock, set()).add(key(args[idx]).lstrip("&"))

    def _report_again(  # noqa: PLR0917
        self,
        kind: str,
        lock: str,
        ln: int,
        call: Node,
        same: list[Fact],
        other: list[Fact],
        reports: dict[tuple[str, int, str], _Report] | None,
    ) -> None:
        """``lock`` taken (released) at ``ln`` while ``same`` says it is already
        held (released): ``kind`` when every earlier one was clear, ``kind?``
        (against the earliest opaque one) when something unseen ran between;
        nothing when a fact of ``same`` or ``other`` was handed over."""
        if reports is None or not same or any(f[4] == HANDED for f in same + other):
            return
        if not all(f[4] == CLEAR for f in same):
            kind += "?"
            same = [f for f in same if f[4] == OPAQUE]
        first = min(same, key=lambda f: int(str(f[2])))
        reports.setdefault(
            (lock, ln, kind),
            _Report(ln, lock, kind, call, int(str(first[2])), self._how_or_call(first)),
        )

    def _release(
        self,
        lock: str,
        ln: int,
        call: Node,
        out: set[Fact],
        reports: dict[tuple[str, int, str], _Report] | None,
    ) -> None:
        held = [f for f in out if f[0] == HELD and f[1] == lock]
        released = [f for f in out if f[0] == RELEASED and f[1] == lock]
        self._report_again("double-unlock", lock, ln, call, released, held, reports)
        if not held and not released:
            self.entered_held.add(lock)
        via = next((str(f[3]) for f in held if f[3]), "")
        for f in held + released:
            out.discard(f)
        state = HANDED if self._per_turn(lock) else CLEAR
        out.add((RELEASED, lock, ln, via, state, self._guard(frozenset(out))))

    def _per_turn(self, lock: str) -> bool:
        """A lock named through a loop's iterator or an element its counter
        indexes: another lock on every turn of the loop."""
        base = _base(lock)
        if _root(base) in self.iterators:
            return True
        indexes = re.findall(r"\[([^\]]*)\]", base)
        if not indexes:
            return False
        if self._counters is None:
            # for (i = 0; i < n; i++) spin_unlock(&v[i]->lock): an element indexed by
            # a loop counter is a different lock on every turn, as with an iterator
            self._counters = frozenset(
                key(n)
                for loop in walk(self.fn)
                if loop.type == "for_statement"
                and (update := loop.child_by_field_name("update")) is not None
                for n in walk(update)
                if n.type == "identifier"
            )
        return any(c in _words(index) for index in indexes for c in self._counters)

    def _requires(
        self,
        name: str,
        ptr: str,
        *,
        ln: int,
        call: Node,
        out: set[Fact],
        reports: dict[tuple[str, int, str], _Report],
    ) -> None:
        released = [f for f in out if f[0] == RELEASED and ptr in _vias(f) and f[4] != HANDED]
        if not released:
            return
        if any(f[0] == HELD and (ptr in _vias(f) or f[1] == released[0][1]) for f in out):
            return
        first = min(released, key=lambda f: int(str(f[2])))
        k = (str(first[1]), ln, "needs")
        reports.setdefault(k, _Report(ln, str(first[1]), "needs", call, int(str(first[2])), name))

    def _hand(self, arg: str, out: set[Fact]) -> None:
        a = arg.lstrip("&")
        for f in list(out):
            if f[0] not in (HELD, RELEASED) or f[4] == HANDED:
                continue
            base = _base(str(f[1]))
            if (
                a == base
                or base.startswith((a + "->", a + "."))
                or a in self._containers.get(str(f[1]), ())
                # a whole object the lock is reached through: EXT4_SB(inode->i_sb)->lock
                or (a.isidentifier() and a in _words(base))
            ):
                out.discard(f)
                out.add((f[0], f[1], f[2], f[3], HANDED, f[5]))

    def _how_or_call(self, fact: Fact) -> str:
        """The helper that took the lock (" by pte_offset_map_lock()"), or, for a
        fact a call was opaque to, that call's name."""
        if fact[4] == OPAQUE:
            calls = self._opaque_calls.get(str(fact[1]), [])
            return ", ".join(f"{c}()" for c in calls[-3:]) or "calls"
        return _how(fact, self)

    def _lock_free(self, name: str) -> bool:
        """Known not to take or drop a lock: neutral, a predicate or accessor by its
        prefix, or a function of this file whose body has no lock call."""
        if name.startswith(self.tables.neutral_prefixes):
            return True
        node = self.file_functions.get(name)
        return node is not None and _call_pattern().search(node.text or b"") is None

    def _obscure(self, name: str, out: set[Fact]) -> None:
        """A call this function cannot see into comes while a lock is held or
        after it was dropped: a second lock or unlock after it is a question."""
        for f in list(out):
            if f[0] not in (HELD, RELEASED) or f[4] == HANDED:
                continue
            if f[4] == CLEAR:
                out.discard(f)
                out.add((f[0], f[1], f[2], f[3], OPAQUE, f[5]))
            seen = self._opaque_calls.setdefault(str(f[1]), [])
            if name in seen:
                seen.remove(name)
            seen.append(name)  # the last ones are nearest to a second lock or unlock

    def _hand_to_callee(self, name: str, out: set[Fact]) -> None:
        """A function of the same file that takes or drops a lock of the same name
        (do_signal_stop() drops current->sighand->siglock) may do it to this one."""
        for f in list(out):
            if f[0] not in (HELD, RELEASED) or f[4] == HANDED:
                continue
            field = re.split(r"->|\.", _base(str(f[1])))[-1]
            if self._callee_touches(name, field):
                out.discard(f)
                out.add((f[0], f[1], f[2], f[3], HANDED, f[5]))

    def _callee_touches(self, name: str, field: str) -> bool:
        k = (name, field)
        hit = self._touch_cache.get(k)
        if hit is None:
            node = self.file_functions.get(name)
            raw = node.text or b"" if node is not None else b""
            hit = (
                bool(raw)
                and _call_pattern().search(raw) is not None
                and field in _words(raw.decode("utf-8", "replace"))
            )
            self._touch_cache[k] = hit
        return hit


@lru_cache(maxsize=4096)
def _words(expr: str) -> frozenset[str]:
    """The identifiers of an expression (and ``a->b`` chains as written)."""
    return frozenset(re.findall(r"[\w>-]+|\w+", expr)) | frozenset(re.findall(r"\w+", expr))


def _how(fact: Fact, ctx: _Context) -> str:
    return ctx._helpers.get((str(fact[1]), int(str(fact[2]))), "")


def lock_of_out(arg: Node) -> str:
    """The lock a helper stores through a ``spinlock_t **`` argument: ``&ptl`` -> ``*ptl``
    (what the argument points to, one level further)."""
    return "*" + lock_of(arg)


def _assigned_to(call: Node) -> str:
    """The lvalues a call's result is stored in, ``|``-joined (``start_pte = pte = f()``
    gives ``pte|start_pte``; ``pte_t *pte = f()`` gives ``pte``)."""
    out: list[str] = []
    p = call.parent
    while p is not None:
        if p.type == "parenthesized_expression":
            p = p.parent
            continue
        if p.type == "assignment_expression":
            op = p.child_by_field_name("operator")
            left = p.child_by_field_name("left")
            if op is None or text(op) != "=" or left is None or not is_lvalue(left):
                break
            out.append(key(left))
            p = p.parent
            continue
        if p.type == "init_declarator":
            d = p.child_by_field_name("declarator")
            d = declared_identifier(d) if d is not None else None
            if d is not None:
                out.append(text(d))
        break
    return "|".join(out)


def _vias(fact: Fact) -> list[str]:
    via = str(fact[3])
    return via.split("|") if via else []


def _conditional(call: Node) -> bool:
    """Whether a call runs only on some evaluations of its expression
    (``c ? lock(...) : other``, ``a && lock(...)``): then nothing is known."""
    p = call.parent
    while p is not None and not p.type.endswith("statement") and p.type != "declaration":
        if p.type == "conditional_expression":
            return True
        if p.type == "binary_expression":
            op = p.child_by_field_name("operator")
            if op is not None and text(op) in ("&&", "||"):
                return True
        p = p.parent
    return False


def _guarding_atoms(calls: list[Node]) -> set[str]:
    """Keys of the condition atoms of the ifs that enclose a lock call: the
    only tests whose outcome is worth correlating."""
    out: set[str] = set()
    for call in calls:
        p = call.parent
        while p is not None and p.type != "function_definition":
            if p.type == "if_statement":
                cond = p.child_by_field_name("condition")
                stack = [cond] if cond is not None else []
                while stack:
                    n = unwrap(stack.pop())
                    op = n.child_by_field_name("operator")
                    o = text(op) if op is not None else ""
                    if n.type == "binary_expression" and o in ("&&", "||"):
                        stack.extend(
                            c
                            for c in (n.child_by_field_name("left"), n.child_by_field_name("right"))
                            if c is not None
                        )
                    elif n.type == "unary_expression" and o == "!":
                        arg = n.child_by_field_name("argument")
                        if arg is not None:
                            stack.append(arg)
                    else:
                        out.add(key(n))
            p = p.parent
    return out


def _tested_atom(atom: Node, label: bool) -> tuple[Node, bool]:
    """``p++`` tests ``p`` (its old value, NULL or not); tree-sitter reads
    ``!p++`` as ``(!p)++``, so a ``!`` found inside flips the edge."""
    if atom.type == "update_expression":
        arg = atom.child_by_field_name("argument")
        if arg is not None and text(atom).endswith(("++", "--")):
            atom = unwrap(arg)
    while atom.type == "unary_expression" and text(atom).startswith("!"):
        arg = atom.child_by_field_name("argument")
        if arg is None:
            break
        atom, label = unwrap(arg), not label
    return atom, label


def _const(c: str | None) -> str | None:
    return {"NULL": "0", "false": "0", "true": "1"}.get(c, c) if c is not None else None


def _tested(atom: Node) -> tuple[str, str, bool] | None:
    t = st.tested(atom)
    if t is None:
        return None
    return t[0], _const(t[1]) or t[1], t[2]


def _status(fact: Fact) -> st.Status:
    s = fact[5]
    assert isinstance(s, tuple)
    return s
