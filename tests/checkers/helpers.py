"""Shared by the checker tests: run checkers over fixture files, read annotations."""

from __future__ import annotations

import re
from pathlib import Path

from checkers.base import FunctionChecker
from checkers.frontend import all_functions, parse
from checkers.treeview import DirectoryTreeView
from reviewbot.models import Finding

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
SNAPSHOTS = HERE / "snapshots"
_ANNOTATION = re.compile(r"//\s*(ruleid|ok):\s*([\w-]+)")


def run_checker(checker: FunctionChecker, path: Path) -> list[Finding]:
    view = DirectoryTreeView(path.parent)
    pf = parse(path.read_bytes(), path.name)
    view.add(pf)
    out: list[Finding] = []
    for unit in all_functions(pf):
        assert not unit.has_error, f"{path.name}: {unit.name} does not parse"
        out.extend(checker.check_function(unit, view))
    return sorted(out, key=lambda f: (f.line, f.message))


def annotations(path: Path, checker_id: str) -> tuple[set[int], set[int]]:
    """(lines marked ``// ruleid: ID``, lines marked ``// ok: ID``)."""
    bad, ok = set(), set()
    for n, text in enumerate(path.read_text().splitlines(), start=1):
        for kind, cid in _ANNOTATION.findall(text):
            if cid == checker_id:
                (bad if kind == "ruleid" else ok).add(n)
    return bad, ok


def render(findings: list[Finding]) -> str:
    lines = []
    for f in findings:
        lines.append(f"{f.line}: {f.severity.value}: [{f.checker}] {f.function}: {f.message}")
        for e in f.evidence:
            lines.append(f"    {e.role} @{e.line}: {e.text}")
        lines.append(f"    id {f.id}")
    return "\n".join(lines) + ("\n" if lines else "")
