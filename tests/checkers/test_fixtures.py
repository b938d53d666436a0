"""Every checker against its own bad_*/good_* fixtures and snapshot files.

Fixture lines carry semgrep-style annotations: ``// ruleid: ID`` where a
finding of checker ID must be reported, ``// ok: ID`` where it must not.  The
rendered findings are compared with ``snapshots/ID/NAME.txt``; regenerate
them with ``REVIEWBOT_UPDATE_SNAPSHOTS=1`` after an intended change, and read
the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from checkers.base import FunctionChecker
from checkers.registry import function_checkers
from tests.checkers.helpers import FIXTURES, SNAPSHOTS, annotations, render, run_checker


def _cases() -> list[tuple[FunctionChecker, Path]]:
    out = []
    for checker in function_checkers():
        d = FIXTURES / checker.info.id
        for path in sorted(d.glob("*.c")) if d.is_dir() else []:
            out.append((checker, path))
    return out


CASES = _cases()


@pytest.mark.parametrize(
    ("checker", "path"), CASES, ids=[f"{c.info.id}/{p.stem}" for c, p in CASES]
)
def test_fixture(checker: FunctionChecker, path: Path) -> None:
    findings = run_checker(checker, path)
    bad, ok = annotations(path, checker.info.id)
    got = {f.line for f in findings}
    assert got == bad, f"{path.name}: findings at {sorted(got)}, annotated {sorted(bad)}"
    assert not got & ok
    if path.name.startswith("good_"):
        assert not [f for f in findings if f.severity.blocking], render(findings)
    else:
        assert findings, f"{path.name} is a bad fixture without findings"

    snap = SNAPSHOTS / checker.info.id / (path.stem + ".txt")
    text = render(findings)
    if os.environ.get("REVIEWBOT_UPDATE_SNAPSHOTS"):
        snap.parent.mkdir(parents=True, exist_ok=True)
        snap.write_text(text)
    assert snap.exists(), f"no snapshot {snap}: run with REVIEWBOT_UPDATE_SNAPSHOTS=1"
    assert text == snap.read_text()


@pytest.mark.parametrize(
    ("checker", "path"), CASES, ids=[f"{c.info.id}/{p.stem}" for c, p in CASES]
)
def test_finding_ids_survive_line_shifts(
    checker: FunctionChecker, path: Path, tmp_path: Path
) -> None:
    shifted = tmp_path / path.name
    shifted.write_text("/* three\n * new\n * lines */\n" + path.read_text())
    before, after = run_checker(checker, path), run_checker(checker, shifted)
    assert [f.line + 3 for f in before] == [f.line for f in after]
    assert [f.id for f in before] == [f.id for f in after]
