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

from checkers.analyses.batch_facts import (
    FOLIO_SIZES,
    TABLE_TOKENS,
    batch_sites,
    condition_texts,
    folio_batches,
    idents,
    mentions_var,
)
from checkers.analyses.context import evidence
from checkers.analyses.knowledge import knowledge
from checkers.analyses.syntax import (
    assignments,
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
        if not mentions(raw, k.batch_helpers | {"batch"}) or not mentions(raw, FOLIO_SIZES):
            return []
        out = []
        conds = condition_texts(unit.node)
        for site in batch_sites(unit, tree):
            if site.max_nr is None or site.clamps_to_table:
                continue
            size = _folio_sized(unit.node, site.max_nr)
            if size is None:
                continue
            group = _derived_group(unit.node, {key(unwrap(site.max_nr))})
            clamps = _derivation_texts(unit.node, group)
            if any(t in c for c in clamps for t in TABLE_TOKENS):
                continue
            if any(
                any(t in c for t in TABLE_TOKENS) and any(mentions_var(c, v) for v in group)
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
                self.finding(
                    unit,
                    ln,
                    self.info.severity,
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
        out = []
        for batch in folio_batches(unit):
            missing = [
                label
                for bound, label in (("vma", "the VMA"), ("pmd", "the PMD"))
                if bound not in batch.bounded
            ]
            if not missing:
                continue
            ln, use = line(batch.node), batch.install
            out.append(
                self.finding(
                    unit,
                    ln,
                    self.info.severity,
                    message=self.info.message.format(
                        start=batch.start,
                        line=ln,
                        call=call_name(use),
                        used=line(use),
                        missing=" or ".join(missing),
                    ),
                    evidence=(evidence(unit, ln, "start"), evidence(unit, line(use), "installed")),
                    key=batch.start + ":" + ",".join(missing),
                )
            )
        return out


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
            if value is not None and idents(value) & group:
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
    return any("pte_pfn(" in c and "folio_pfn(" in c for c in condition_texts(fn)) or (
        b"folio_pfn(" in (fn.text or b"") and b"pte_pfn(" in (fn.text or b"")
    )
