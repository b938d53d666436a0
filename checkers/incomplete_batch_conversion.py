"""incomplete-batch-conversion: a batched function still calls a single-entry API.

What it finds:
    A function that handles a batch of ``nr`` PTEs (it passes a variable count
    to a batched call such as ``set_ptes(..., nr_pages)``) but still calls the
    single-entry counterpart of another batched API (``swap_free()`` instead of
    ``swap_free_nr()``, ``flush_icache_page()`` instead of
    ``flush_icache_pages()``).  The pairs are in checkers/data/kernel.toml.
    Single-entry calls on an ``nr == 1`` (or small folio) branch, and those
    whose batched partner is also called on the same objects (two deliberate
    paths), are left alone.

    Path conditions (checkers/analyses/batch_paths.py): a batch is formed
    only under conditions (``if (folio_test_anon(folio) &&
    !folio_test_swapbacked(folio) && ...) nr = folio_nr_pages(folio);``, or a
    wrapper's early ``return 1``), and a single-entry call on a path that
    excludes them (the swapbacked branch) handles the one entry there is: no
    finding.  Where ``nr`` may exceed 1 and the function has already
    committed to the batch on that path (a batched call with ``nr`` ran, or
    one runs at least as unconditionally as the single call), it is a
    possible bug; where ``nr`` may exceed 1 but nothing ties the single call
    to the batch, reviewbot asks (question) instead.

Why it matters:
    The single-entry call handles one entry of the ``nr`` the function mapped:
    swap entries leak, caches are flushed for one page, counters drift, arch
    state (MTE tags) is restored for one page only.

Example:
    set_ptes(vma->vm_mm, start_address, start_ptep, pte, nr_pages);
    swap_free(entry);                     /* frees one of nr_pages entries */

Fix:
    swap_free_nr(entry, nr_pages);
"""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from checkers.analyses.batch_paths import nr_argument, nr_paths
from checkers.analyses.context import evidence
from checkers.analyses.knowledge import knowledge
from checkers.analyses.syntax import (
    BRANCHING,
    assignments,
    call_args,
    call_name,
    calls_in,
    key,
    line,
    mentions,
    text,
    unwrap,
)
from checkers.base import CheckerInfo, Confidence, FunctionChecker, TreeView
from checkers.frontend import FunctionUnit
from reviewbot.models import Finding, Severity


class IncompleteBatchConversion(FunctionChecker):
    info = CheckerInfo(
        id="incomplete-batch-conversion",
        symbol="INCOMPLETE_BATCH_CONVERSION",
        severity=Severity.POSSIBLE_BUG,
        confidence=Confidence.MEDIUM,
        message=(
            "{function}() handles {nr} entries ({batched}() at line {batched_line}), but "
            "{single}() at line {single_line} still handles one; use {partner}(..., {nr})."
        ),
    )

    def triggers(self) -> frozenset[str]:
        return frozenset(knowledge().batched_nr_arg)

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        k = knowledge()
        nr_arg = k.batched_nr_arg
        raw = unit.node.text or b""
        if not mentions(raw, nr_arg):
            return []
        batched: list[tuple[Node, str]] = []  # (call, nr key)
        singles: list[Node] = []
        partner = {p.single: p.batched for p in k.pairs}
        for call in calls_in(unit.node):
            name = call_name(call) or ""
            if name in nr_arg:
                # nr, nr_pages, -nr: a run-time batch, not HPAGE_PMD_NR (a whole-PMD loop)
                nr = nr_argument(call)
                if nr is not None:
                    batched.append((call, nr))
            elif name in partner:
                singles.append(call)
        counters = _counters(unit.node, {n for _, n in batched})
        batched = [b for b in batched if b[1] not in counters]
        if not batched or not singles:
            return []
        # Name the install (set_ptes) when there is one: it is what maps the batch.
        first, nr_name = next((b for b in batched if call_name(b[0]) == "set_ptes"), batched[0])
        out = []
        all_calls = list(calls_in(unit.node))
        candidates = [
            c
            for c in singles
            if not _guarded_single(c, {n for _, n in batched})
            and not _partner_on_same_objects(c, partner[call_name(c) or ""], all_calls)
        ]
        if not candidates:
            return []
        paths = nr_paths(unit, tree, frozenset(n for _, n in batched))
        for call in candidates:
            big = paths.may_batch(call)
            if not big:
                continue  # nr is 1 on every path to this call
            name = call_name(call) or ""
            ln, bl = line(call), line(first)
            tied = paths.committed(call) or any(
                _as_unconditional(b, call) for b, n in batched if n in {f[1] for f in big}
            )
            if tied:
                severity = self.info.severity
                message = self.info.message.format(
                    function=unit.name,
                    nr=nr_name,
                    batched=call_name(first),
                    batched_line=bl,
                    single=name,
                    single_line=ln,
                    partner=partner[name],
                )
            else:
                severity = Severity.QUESTION
                formed = min(int(str(f[2])) for f in big)
                where = f"line {formed}" if formed else "its caller"
                message = (
                    f"can {nr_name} exceed 1 when {name}() at line {ln} runs? {unit.name}() "
                    f"handles {nr_name} entries ({call_name(first)}() at line {bl}; the batch is "
                    f"formed at {where}), and reviewbot could not tell whether the conditions "
                    f"on this path exclude it. If they do not, use {partner[name]}(..., "
                    f"{nr_name})."
                )
            out.append(
                self.finding(
                    unit,
                    ln,
                    severity,
                    message=message,
                    evidence=(evidence(unit, bl, "batched"), evidence(unit, ln, "single-entry")),
                    key=name,
                )
            )
        return out


def _counters(fn: Node, names: set[str]) -> set[str]:
    """Counts summed one entry at a time (``nr_ptes++`` in a per-entry loop,
    then ``add_mm_counter(mm, type, -nr_ptes)``): not a batch, and the
    per-entry calls in the loop are right."""
    assigned: dict[str, list[Node | None]] = {}
    for target, value, _ in assignments(fn):
        tk = key(target)
        if tk in names:
            assigned.setdefault(tk, []).append(value)
    out = set()
    for name, values in assigned.items():
        if any(v is None for v in values) and all(
            v is None or text(unwrap(v)) in ("0", "1") for v in values
        ):
            out.add(name)
    return out


def _conditional_ancestors(node: Node) -> set[int]:
    out = set()
    child, parent = node, node.parent
    while parent is not None and parent.type != "function_definition":
        if parent.type in BRANCHING and child is not parent.child_by_field_name("condition"):
            out.add(parent.start_byte)
        child, parent = parent, parent.parent
    return out


def _as_unconditional(batched: Node, single: Node) -> bool:
    """The batched call runs whenever the single one does (as far as the
    nesting tells): the function treats the same entries as a batch there."""
    return _conditional_ancestors(batched) <= _conditional_ancestors(single)


def _partner_on_same_objects(call: Node, partner: str, calls: list[Node]) -> bool:
    """The batched partner is also called on the same objects (``set_ptes(mm,
    addr, ptep, pte, nr)`` next to ``set_pte_at(mm, addr, ptep, pte)``): the
    function has both paths on purpose, this is not a forgotten conversion."""
    mine = {key(unwrap(a)) for a in call_args(call)}
    for other in calls:
        if call_name(other) == partner and mine <= {key(unwrap(a)) for a in call_args(other)}:
            return True
    return False


def _guarded_single(call: Node, nrs: set[str]) -> bool:
    """Inside ``if (nr == 1)`` or a non-large-folio branch: deliberate."""
    node = call.parent
    while node is not None and node.type != "function_definition":
        if node.type == "if_statement":
            cond = node.child_by_field_name("condition")
            t = "".join(text(cond).split()) if cond is not None else ""
            if any(f"{n}==1" in t or f"{n}<=1" in t for n in nrs) or "folio_test_large" in t:
                return True
        node = node.parent
    return False
