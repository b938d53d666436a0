"""ptep-naming (nit): a pte_t * variable whose name does not say it is a pointer.

What it finds:
    A local ``pte_t *`` variable named like a PTE value (``start_pte``,
    ``batch_start``) rather than a pointer to one (``start_ptep``).  The plain
    names the kernel uses everywhere (``pte``, ``ptep``) are left alone.

Why it matters:
    mm code handles a PTE value (``pte_t pte``) and a pointer into the page
    table (``pte_t *ptep``) side by side; a pointer named like a value is how
    ``ptep_get(pte)``-style confusions and stale copies slip through review
    (the seed review: "nit: rename start_pte -> start_ptep ?").

Example:
    pte_t *start_pte = vmf->pte;

Fix:
    pte_t *start_ptep = vmf->pte;

Noise:
    In a review, only names a patch introduces are reported (the check stage
    drops what the base tree already has).  ``reviewbot lint`` has no patch:
    there a name the linted code uses for a pte_t * in several functions
    (``src_pte``, ``start_pte``, ``mapped_pte``) is that code's convention, not a
    slip, and is left alone.  Names that already say "pte" other than at their
    end (``ptem``) get no proposal: ``ptem_ptep`` would be nonsense.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tree_sitter import Node

from checkers.analyses.context import evidence
from checkers.analyses.knowledge import knowledge
from checkers.analyses.syntax import line, text
from checkers.base import CheckerInfo, Confidence, FunctionChecker, TreeView
from checkers.frontend import FunctionUnit
from reviewbot.models import Finding, Severity


class PtepNaming(FunctionChecker):
    info = CheckerInfo(
        id="ptep-naming",
        symbol="PTEP_NAMING",
        severity=Severity.NIT,
        confidence=Confidence.HIGH,
        message="{name} is a pte_t *; {better} would say so.",
    )

    def triggers(self) -> frozenset[str]:
        return frozenset({"pte_t"})

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        body = unit.node.child_by_field_name("body")
        if body is None or b"pte_t" not in (body.text or b""):
            return []
        k = knowledge()
        out = []
        for n in _declarations(body):
            typ = n.child_by_field_name("type")
            if typ is None or text(typ) != "pte_t":
                continue
            for decl in n.children_by_field_name("declarator"):
                target = (
                    decl.child_by_field_name("declarator")
                    if decl.type == "init_declarator"
                    else decl
                )
                if target is None or target.type != "pointer_declarator":
                    continue
                ident = target.child_by_field_name("declarator")
                if ident is None or ident.type != "identifier":
                    continue  # pte_t **, arrays: not this rule
                name = text(ident)
                if name in k.conventional_names or name.endswith(k.pointer_suffixes):
                    continue
                better = _better(name)
                if better is None:
                    continue
                ln = line(ident)
                out.append(
                    self.finding(
                        unit,
                        ln,
                        self.info.severity,
                        message=self.info.message.format(name=name, better=better),
                        evidence=(evidence(unit, ln, "declared"),),
                        key=name,
                    )
                )
        return out


# Where a declaration can sit: statements and their blocks, never inside an
# expression (so expressions, the bulk of a body, are not walked).
_HOLDERS = frozenset(
    {
        "compound_statement",
        "if_statement",
        "else_clause",
        "for_statement",
        "while_statement",
        "do_statement",
        "switch_statement",
        "case_statement",
        "labeled_statement",
        "preproc_if",
        "preproc_ifdef",
        "preproc_else",
        "preproc_elif",
        "preproc_elifdef",
    }
)


def _declarations(body: Node) -> Iterator[Node]:
    stack = [body]
    while stack:
        n = stack.pop()
        if n.type == "declaration":
            yield n
        elif n.type in _HOLDERS:
            stack.extend(reversed(n.named_children))


def _better(name: str) -> str | None:
    if name.endswith("pte"):
        return name + "p"
    if "pte" in name:
        return None  # ptem, ptent_p...: it already says pte; nothing sensible to propose
    if "_" in name:
        return name.rsplit("_", 1)[0] + "_ptep"
    return name + "_ptep"


IDIOM_FUNCTIONS = 2


def without_idioms(findings: list[Finding]) -> list[Finding]:
    """Lint's filter (no patch to attribute to): drop naming nits for names
    that the linted code uses in IDIOM_FUNCTIONS or more functions."""
    users: dict[str, set[tuple[str, str]]] = {}
    for f in findings:
        if f.checker == PtepNaming.info.id:
            users.setdefault(f.key, set()).add((f.file, f.function))
    return [
        f
        for f in findings
        if f.checker != PtepNaming.info.id or len(users[f.key]) < IDIOM_FUNCTIONS
    ]
