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
"""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

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
        return frozenset(knowledge().batched_nr_arg)

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
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
