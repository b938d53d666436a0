"""stale-pointer: a copy of a pte pointer outlives the re-mapping of its source.

What it finds:
    A local copy of a pointer-valued lvalue (``start_pte = vmf->pte``) taken
    before that lvalue is re-obtained (``vmf->pte = pte_offset_map_lock(...)``)
    and still used after it, on some path, without being re-assigned.  Only
    re-obtaining calls (checkers/data/kernel.toml, ``[reobtain]``) count as the
    source changing: mm is full of deliberate save-the-old-value copies.

Why it matters:
    ``pte_offset_map_lock()`` may map a different page table page (or none): the
    old pointer may point into an unmapped or freed table, and at best it is not
    the entry the lock now protects.  Installing PTEs through it corrupts memory.

Example:
    pte_t *start_pte = vmf->pte;
    ...
    vmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, vmf->address, &vmf->ptl);
    if (large)
            start_pte = folio_ptep;
    ...
    set_ptes(vma->vm_mm, start_address, start_pte, pte, nr_pages);

Fix:
    Take the copy after the re-map (in an else branch, or right before use):
    vmf->pte = pte_offset_map_lock(...);
    ...
    start_pte = large ? folio_ptep : vmf->pte;

Also, state carried across a retry (checkers/analyses/retry_state.py):
    A variable reset to a constant *before* a label that a later ``goto``
    jumps back to, and set (conditionally, or accumulated) inside the retried
    section before that ``goto``: the next pass starts with the previous
    pass's value (a "must break" or "force flush" flag, a count).  Reset after
    the label and it is quiet.  A flag read only on the pass that does not
    jump back (under ``addr == end`` while the ``goto`` is under ``addr !=
    end``, as ``can_reclaim_pt`` in zap_pte_range()) sums up every pass on
    purpose; if a lock is dropped before the ``goto`` the question is whether
    that sum still holds, and the remedy offered is a recheck under the lock,
    not a reset.  Sticky state is as common on purpose
    ("once seen, stays": qspinlock's sleepy, isofs' truncate) as by mistake,
    and nothing in the code tells them apart: this is a question, never a
    claim.

    bool force_break = false;
    retry:
    ...
            if (need_break)
                    force_break = true;
    ...
    if (addr != end)
            goto retry;

Fix:
    retry:
            force_break = false;

And a flag computed under a lock that is dropped and taken again
(checkers/analyses/lock_state.py): ``large = folio_test_large(folio)``
under ptl, ptl dropped (to split the folio) and re-taken, then ``if
(large)`` decides on the old answer.  Recomputed after the re-take, or
computed before the lock (a caller's request), it is quiet.
"""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from checkers.analyses.cfg import CfgNode
from checkers.analyses.context import cfg_of, evidence
from checkers.analyses.dataflow import State, solve
from checkers.analyses.knowledge import knowledge
from checkers.analyses.lock_state import stale_flags
from checkers.analyses.retry_state import RETRY_WORDS, carried_state, describe
from checkers.analyses.syntax import (
    assignment_chain,
    assignments,
    call_name,
    is_lvalue,
    key,
    line,
    mentions,
)
from checkers.analyses.uses import uses_in
from checkers.base import CheckerInfo, Confidence, FunctionChecker, TreeView
from checkers.frontend import FunctionUnit
from reviewbot.models import Finding, Severity

# A fact: ("copy", copy var, source lvalue, copy line, reobtain line (0: fresh), callee)


class StalePointer(FunctionChecker):
    info = CheckerInfo(
        id="stale-pointer",
        symbol="STALE_POINTER",
        severity=Severity.POSSIBLE_BUG,
        confidence=Confidence.HIGH,
        message=(
            "{copy} is a copy of {src} taken at line {copied}, but {src} is re-obtained by "
            "{callee}() at line {reobtained} and {copy} is still used by {use} at line {used} "
            "{path}. Take the copy after the re-map instead."
        ),
        requires=("cfg", "dataflow"),
    )

    def triggers(self) -> frozenset[str]:
        return knowledge().reobtain | RETRY_WORDS | {"unlock"}

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        out = self._carried(unit) + self._under_dropped_lock(unit)
        return sorted([*out, *self._copies(unit)], key=lambda f: f.line)

    def _under_dropped_lock(self, unit: FunctionUnit) -> list[Finding]:
        out = []
        for s in stale_flags(unit.node):
            used = line(s.used)
            out.append(
                self.finding(
                    unit,
                    used,
                    self.info.severity,
                    message=(
                        f"{s.var} is computed at line {line(s.computed)} while {s.lock} is "
                        f"held, but {s.lock} is dropped at line {line(s.dropped)} and taken "
                        f"again at line {line(s.retaken)}: line {used} decides on the old "
                        f"answer. Compute {s.var} again once {s.lock} is held again."
                    ),
                    evidence=(
                        evidence(unit, line(s.computed), "computed"),
                        evidence(unit, line(s.dropped), "dropped"),
                        evidence(unit, line(s.retaken), "re-taken"),
                        evidence(unit, used, "used"),
                    ),
                    key=f"lock:{s.var}:{s.lock}",
                )
            )
        return out

    def _carried(self, unit: FunctionUnit) -> list[Finding]:
        out = []
        for c in carried_state(unit.node):
            used = line(c.used)
            out.append(
                self.finding(
                    unit,
                    line(c.set_at),
                    # Carried state is as often meant (sticky "seen", events gathered
                    # over passes) as not: the code does not say which, so ask.
                    Severity.QUESTION,
                    message=describe(c),
                    evidence=(
                        evidence(unit, line(c.reset), "reset"),
                        evidence(unit, line(c.label_node), "label"),
                        evidence(unit, line(c.set_at), "set"),
                        evidence(unit, line(c.goto), "retried"),
                        evidence(unit, used, "used"),
                    ),
                    key=f"retry:{c.var}:{c.label}",
                )
            )
        return out

    def _copies(self, unit: FunctionUnit) -> list[Finding]:
        reobtain = knowledge().reobtain
        raw = unit.node.text or b""
        if not mentions(raw, reobtain):
            return []
        sources = _reobtained_lvalues(unit.node, reobtain)
        if not sources:
            return []
        cfg = cfg_of(unit)

        def transfer(node: CfgNode, state: State) -> State:
            assert node.ast is not None
            return _transfer(node.ast, state, sources, reobtain)

        sol = solve(cfg, transfer)
        first: dict[tuple[str, int], tuple[Node, str, tuple[object, ...]]] = {}
        for node in cfg.stmt_nodes():
            stale = [f for f in sol.before[node.id] if f[4] != 0]
            if not stale or node.ast is None:
                continue
            for use in uses_in(node.ast, {str(f[1]) for f in stale}, any_call=True):
                for f in stale:
                    if f[1] != use.var:
                        continue
                    k = (str(f[1]), int(str(f[3])))
                    prev = first.get(k)
                    if prev is None or use.node.start_byte < prev[0].start_byte:
                        first[k] = (use.node, use.describe, f)
        return sorted(
            (self._finding(unit, n, how, f) for n, how, f in first.values()),
            key=lambda f: f.line,
        )

    def _finding(
        self, unit: FunctionUnit, use: Node, how: str, fact: tuple[object, ...]
    ) -> Finding:
        copy, src = str(fact[1]), str(fact[2])
        copied, reobtained, callee = int(str(fact[3])), int(str(fact[4])), str(fact[5])
        used = line(use)
        msg = self.info.message.format(
            copy=copy,
            src=src,
            copied=copied,
            callee=callee,
            reobtained=reobtained,
            use=how,
            used=used,
            path=_path_phrase(unit.node, copy, use),
        )
        return self.finding(
            unit,
            used,
            self.info.severity,
            message=msg,
            evidence=(
                evidence(unit, copied, "copied"),
                evidence(unit, reobtained, "re-obtained"),
                evidence(unit, used, "used"),
            ),
            key=f"{copy}={src}",
        )


def _path_phrase(fn: Node, copy: str, use: Node) -> str:
    """Where the stale value flows from: past the block that re-assigns the
    copy ("on the path that skips the block at line 145"), or nowhere."""
    blocks = []
    for target, value, whole in assignments(fn):
        if value is None or key(target) != copy or whole.start_byte > use.start_byte:
            continue
        node = whole.parent
        while node is not None and node.type != "function_definition":
            if node.type == "if_statement" and node.end_byte < use.start_byte:
                blocks.append(node)
                break
            node = node.parent
    if blocks:
        return f"on the path that skips the block at line {line(blocks[-1])}"
    return "on a path that does not re-assign it"


def _reobtained_lvalues(fn: Node, reobtain: frozenset[str]) -> set[str]:
    out = set()
    for target, value, _ in assignments(fn):
        if value is None:
            continue
        _, final = assignment_chain(value)
        if final is not None and call_name(final) in reobtain and is_lvalue(target):
            out.add(key(target))
    return out


def _transfer(ast: Node, state: State, sources: set[str], reobtain: frozenset[str]) -> State:
    for target, value, _ in assignments(ast):
        tk = key(target)
        state = frozenset(f for f in state if f[1] != tk)
        if value is None:
            continue
        _, final = assignment_chain(value)
        if final is None:
            continue
        name = call_name(final)
        if name in reobtain and tk in sources:
            ln = line(final)
            state = frozenset(
                (f[0], f[1], f[2], f[3], ln, name) if f[2] == tk and f[4] == 0 else f for f in state
            )
        elif is_lvalue(final) and key(final) in sources and target.type == "identifier":
            src = key(final)
            if src != tk:
                state = state | {("copy", tk, src, line(final), 0, "")}
    return state
