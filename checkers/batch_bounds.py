"""batch-bounds: a batch computed from a folio is installed without range checks.

What it finds:
    A batch whose start address is derived from a folio's position
    (``start = vmf->address - idx * PAGE_SIZE``, ``end = start + nr * PAGE_SIZE``)
    and is then installed with a batched call (``set_ptes()``,
    ``folio_add_anon_rmap_ptes()``, ...) while no condition of the function
    compares it with the VMA (``vma->vm_start``/``vm_end``) or with the PMD
    (``PMD_MASK``, ``pmd_addr_end()``).

Why it matters:
    A large folio in the swap cache (or page cache) need not be mapped where
    the fault happened in a naturally aligned way: its first page may lie
    before ``vm_start`` (mremap, a split VMA) or in the previous page table.
    Installing the whole batch then writes PTEs outside the VMA, or past the
    end of the page table page.

Example:
    unsigned long folio_start = vmf->address - idx * PAGE_SIZE;
    ...
    set_ptes(vma->vm_mm, folio_start, folio_ptep, pte, nr);

Fix:
    if (folio_start < max(vmf->address & PMD_MASK, vma->vm_start) ||
        folio_end > pmd_addr_end(vmf->address, vma->vm_end))
            goto fallback;               /* map one page */

Also, for any batch helper of the data file (checkers/analyses/batch_facts.py):
    The ``max_nr`` given to ``folio_pte_batch()``, ``swap_pte_batch()`` or a
    wrapper of them must keep the scan inside the page table that holds the
    starting ``ptep``.  A ``max_nr`` taken from the folio's size
    (``folio_nr_pages()``) is a finding unless it is clamped to the PMD
    (``pmd_addr_end()``, ``PTRS_PER_PTE``, ``PMD_MASK`` in its derivation or in a
    condition on it): the ``ptep`` need not be the folio's first entry, and even
    the first entry of a folio may sit in the last slot of a table (after
    ``mremap()``), so the helper reads past the table.  ``(end - addr) >>
    PAGE_SHIFT`` inside a walk of one PMD, or a ``max_nr`` the function is
    given, is left alone.

    int max_nr = folio_nr_pages(folio);          /* not clamped */
    nr = folio_pte_batch(folio, addr, ptep, pte, max_nr, 0, NULL, NULL, NULL);

    Fix: end = pmd_addr_end(addr, vma->vm_end);
         max_nr = (end - addr) >> PAGE_SHIFT;
"""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from checkers.analyses.batch_facts import FOLIO_SIZES, TABLE_TOKENS, batch_sites
from checkers.analyses.context import evidence
from checkers.analyses.knowledge import knowledge
from checkers.analyses.syntax import (
    assignment_chain,
    assignments,
    call_args,
    call_name,
    calls_in,
    key,
    line,
    mentions,
    text,
    unwrap,
    walk,
)
from checkers.base import CheckerInfo, Confidence, FunctionChecker, TreeView
from checkers.frontend import FunctionUnit
from reviewbot.models import Finding, Severity


class BatchBounds(FunctionChecker):
    info = CheckerInfo(
        id="batch-bounds",
        symbol="BATCH_BOUNDS",
        severity=Severity.POSSIBLE_BUG,
        confidence=Confidence.MEDIUM,
        message=(
            "{start} is computed from the folio's index at line {line} and installed by "
            "{call}() at line {used}, but nothing keeps the batch inside {missing}. Check "
            "{start} >= max(address & PMD_MASK, vma->vm_start) and the batch end <= "
            "pmd_addr_end(address, vma->vm_end) before installing it."
        ),
    )

    def triggers(self) -> frozenset[str]:
        return frozenset(knowledge().batched_nr_arg) | knowledge().batch_helpers

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        out = list(self._folio_starts(unit))
        if not out:  # the same missing bound, said once
            out.extend(self._helper_max_nr(unit, tree))
        return out

    def _helper_max_nr(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        """A batch helper's max_nr taken from the folio's size, not clamped to the PMD."""
        k = knowledge()
        raw = unit.node.text or b""
        if not mentions(raw, k.batch_helpers) or not mentions(raw, FOLIO_SIZES):
            return []
        out = []
        conds = _condition_texts(unit.node)
        for site in batch_sites(unit, tree):
            if site.max_nr is None:
                continue
            size = _folio_sized(unit.node, site.max_nr)
            if size is None:
                continue
            group = _derived_group(unit.node, {key(unwrap(site.max_nr))})
            clamps = _derivation_texts(unit.node, group)
            if any(t in c for c in clamps for t in TABLE_TOKENS):
                continue
            if any(
                any(t in c for t in TABLE_TOKENS) and any(_mentions(c, v) for v in group)
                for c in conds
            ):
                continue
            ln = line(site.call)
            ptep = text(site.ptep) if site.ptep is not None else "the starting entry"
            first = _checks_first_entry(unit.node)
            start = (
                "even at the folio's first entry the folio may be mapped across a page table "
                "boundary (mremap())"
                if first
                else f"{ptep} need not be the folio's first entry, and the folio may be mapped "
                "across a page table boundary (mremap())"
            )
            via = f"{site.wrapper}() -> {site.helper}()" if site.wrapper else f"{site.helper}()"
            out.append(
                Finding(
                    checker=self.info.id,
                    severity=self.info.severity,
                    file=unit.file.path,
                    line=ln,
                    function=unit.name,
                    message=(
                        f"{via} at line {ln} may scan {text(site.max_nr)} entries from {ptep}: "
                        f"that is the folio's size ({call_name(size)}() at line {line(size)}), "
                        f"and nothing clamps it to the page table: {start}, so the scan can "
                        "read past the end of the PTE table. Clamp it: end = "
                        "pmd_addr_end(addr, vma->vm_end); max_nr = (end - addr) >> PAGE_SHIFT."
                    ),
                    evidence=(
                        evidence(unit, line(size), "folio-size"),
                        evidence(unit, ln, "batch"),
                    ),
                    key=f"max_nr:{site.helper}:{key(unwrap(site.max_nr))}",
                )
            )
        return out

    def _folio_starts(self, unit: FunctionUnit) -> Iterable[Finding]:
        k = knowledge()
        raw = unit.node.text or b""
        if not mentions(raw, k.page_size_tokens):
            return []
        batched = k.batched_nr_arg
        if not mentions(raw, batched):
            return []
        starts: list[tuple[str, Node]] = []
        derived: dict[str, str] = {}  # var -> the start var it comes from
        for target, value, _ in assignments(unit.node):
            if value is None:
                continue
            _, final = assignment_chain(value)
            if final is None:
                continue
            tk = key(target)
            if _is_folio_start(final, k.page_size_tokens):
                starts.append((tk, final))
                derived[tk] = tk
            else:
                for var in _idents(final):
                    if var in derived and tk not in derived:
                        derived[tk] = derived[var]
        if not starts:
            return []
        conds = _condition_texts(unit.node)
        out = []
        for start, node in starts:
            group = {v for v, s in derived.items() if s == start}
            use = _batched_use(unit.node, group, batched)
            if use is None:
                continue
            relevant = [c for c in conds if any(_mentions(c, v) for v in group)]
            missing = []
            if not any(any(t in c for t in k.vma_tokens) for c in relevant):
                missing.append("the VMA")
            if not any(any(t in c for t in k.pmd_tokens) for c in relevant):
                missing.append("the PMD")
            if not missing:
                continue
            ln = line(node)
            out.append(
                Finding(
                    checker=self.info.id,
                    severity=self.info.severity,
                    file=unit.file.path,
                    line=ln,
                    function=unit.name,
                    message=self.info.message.format(
                        start=start,
                        line=ln,
                        call=call_name(use),
                        used=line(use),
                        missing=" or ".join(missing),
                    ),
                    evidence=(evidence(unit, ln, "start"), evidence(unit, line(use), "installed")),
                    key=start + ":" + ",".join(missing),
                )
            )
        return out


def _is_folio_start(expr: Node, page_tokens: tuple[str, ...]) -> bool:
    """``address - idx * PAGE_SIZE`` or ``address - (idx << PAGE_SHIFT)``."""
    expr = unwrap(expr)
    if expr.type != "binary_expression":
        return False
    op = expr.child_by_field_name("operator")
    right = expr.child_by_field_name("right")
    if op is None or right is None or text(op) != "-":
        return False
    r = unwrap(right)
    if r.type != "binary_expression":
        return False
    rop = r.child_by_field_name("operator")
    if rop is None or text(rop) not in ("*", "<<"):
        return False
    rt = text(r)
    if not any(t in rt for t in page_tokens):
        return False
    # a variable count, not "addr - 2 * PAGE_SIZE"
    return any(n.type == "identifier" and text(n) not in page_tokens for n in walk(r))


def _idents(expr: Node) -> set[str]:
    out = {key(n) for n in walk(expr) if n.type in ("identifier", "field_expression")}
    return out


def _mentions(cond: str, var: str) -> bool:
    import re

    return re.search(r"(?<![\w>.])" + re.escape(var) + r"(?!\w)", cond) is not None


def _condition_texts(fn: Node) -> list[str]:
    out = []
    for n in walk(fn):
        if n.type in (
            "if_statement",
            "while_statement",
            "for_statement",
            "do_statement",
            "conditional_expression",
        ):
            c = n.child_by_field_name("condition")
            if c is not None:
                out.append("".join(text(c).split()))
        elif n.type == "expression_statement" and n.named_child_count:
            call = n.named_children[0]
            if call_name(call) in (
                "BUG_ON",
                "VM_BUG_ON",
                "VM_WARN_ON",
                "WARN_ON",
                "VM_WARN_ON_ONCE",
                "WARN_ON_ONCE",
            ):
                out.append("".join(text(call).split()))
    return out


def _batched_use(fn: Node, group: set[str], batched: dict[str, int]) -> Node | None:
    """The batched call installing the batch (set_ptes() first: it writes the PTEs)."""
    calls = sorted(calls_in(fn), key=lambda c: call_name(c) != "set_ptes")
    for call in calls:
        name = call_name(call)
        if name not in batched:
            continue
        args = call_args(call)
        idx = batched[name]
        if idx < len(args) and text(unwrap(args[idx])) in ("1", "1UL"):
            continue
        if any(key(unwrap(a)) in group for a in args):
            return call
    return None


def _folio_sized(fn: Node, max_nr: Node) -> Node | None:
    """The folio-size call max_nr comes from (directly or through a local)."""
    expr = unwrap(max_nr)
    for c in calls_in(expr):
        if call_name(c) in FOLIO_SIZES:
            return c
    if expr.type != "identifier":
        return None
    name = key(expr)
    found = None
    for target, value, _ in assignments(fn):
        if key(target) != name or value is None:
            continue
        calls = [c for c in calls_in(value) if call_name(c) in FOLIO_SIZES]
        if not calls:
            return None  # another derivation on some path: not this rule's business
        found = found or calls[0]
    return found


def _derived_group(fn: Node, names: set[str]) -> set[str]:
    """names and the locals computed from them (folio_end = start + nr * PAGE_SIZE)."""
    group = set(names)
    for _ in range(2):
        for target, value, _ in assignments(fn):
            if value is not None and _idents(value) & group:
                group.add(key(target))
    return group


def _derivation_texts(fn: Node, group: set[str]) -> list[str]:
    return [
        "".join(text(value).split())
        for target, value, _ in assignments(fn)
        if value is not None and key(target) in group
    ]


def _checks_first_entry(fn: Node) -> bool:
    """pte_pfn(pte) != folio_pfn(folio): the batch starts at the folio's first page."""
    return any("pte_pfn(" in c and "folio_pfn(" in c for c in _condition_texts(fn)) or (
        b"folio_pfn(" in (fn.text or b"") and b"pte_pfn(" in (fn.text or b"")
    )
