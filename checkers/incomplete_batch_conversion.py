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

from checkers.analyses.context import evidence
from checkers.analyses.knowledge import knowledge
from checkers.analyses.syntax import (
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
                args = call_args(call)
                idx = nr_arg[name]
                if idx < len(args):
                    nr = unwrap(args[idx])
                    # nr, nr_pages: a run-time batch, not HPAGE_PMD_NR (a whole-PMD loop)
                    if nr.type == "identifier" and not text(nr).isupper():
                        batched.append((call, key(nr)))
            elif name in partner:
                singles.append(call)
        if not batched or not singles:
            return []
        # Name the install (set_ptes) when there is one: it is what maps the batch.
        first, nr_name = next((b for b in batched if call_name(b[0]) == "set_ptes"), batched[0])
        out = []
        all_calls = list(calls_in(unit.node))
        for call in singles:
            if _guarded_single(call, {n for _, n in batched}):
                continue
            if _partner_on_same_objects(call, partner[call_name(call) or ""], all_calls):
                continue
            name = call_name(call) or ""
            ln, bl = line(call), line(first)
            out.append(
                Finding(
                    checker=self.info.id,
                    severity=self.info.severity,
                    file=unit.file.path,
                    line=ln,
                    function=unit.name,
                    message=self.info.message.format(
                        function=unit.name,
                        nr=nr_name,
                        batched=call_name(first),
                        batched_line=bl,
                        single=name,
                        single_line=ln,
                        partner=partner[name],
                    ),
                    evidence=(evidence(unit, bl, "batched"), evidence(unit, ln, "single-entry")),
                    key=name,
                )
            )
        return out


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
