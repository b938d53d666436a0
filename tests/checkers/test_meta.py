"""Every registered checker explains itself and has fixtures (pylint's and
datasette's documentation tests): a new checker without them fails here."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest

from checkers.base import FunctionChecker, PatchChecker
from checkers.docgen import SECTIONS, generate, render, sections
from checkers.registry import all_checkers, function_checkers
from tests.checkers.helpers import FIXTURES, SNAPSHOTS

ROOT = Path(__file__).resolve().parents[2]
CHECKERS = all_checkers()


def test_ids_are_unique_and_kebab_case() -> None:
    ids = [c.info.id for c in CHECKERS]
    assert len(ids) == len(set(ids))
    for i in ids:
        assert i == i.lower() and " " not in i and "_" not in i, i


@pytest.mark.parametrize("checker", CHECKERS, ids=[c.info.id for c in CHECKERS])
def test_doc_sections(checker: FunctionChecker | PatchChecker) -> None:
    title, found = sections(checker)
    assert title.startswith(checker.info.id), "docstring title must open with the id"
    missing = [s for s in SECTIONS if not found.get(s, "").strip()]
    assert not missing, f"{checker.info.id} lacks doc sections {missing}"
    assert checker.info.symbol == checker.info.id.upper().replace("-", "_")


FUNCTION_CHECKERS = function_checkers()


@pytest.mark.parametrize("checker", FUNCTION_CHECKERS, ids=[c.info.id for c in FUNCTION_CHECKERS])
def test_fixtures_and_snapshots(checker: FunctionChecker) -> None:
    d = FIXTURES / checker.info.id
    bad = sorted(d.glob("bad_*.c"))
    good = sorted(d.glob("good_*.c"))
    assert len(bad) >= 3, f"{checker.info.id}: needs 3 bad fixtures, has {len(bad)}"
    assert len(good) >= 3, f"{checker.info.id}: needs 3 good fixtures, has {len(good)}"
    for f in bad + good:
        assert (SNAPSHOTS / checker.info.id / f"{f.stem}.txt").exists(), f"no snapshot for {f}"


def test_docs_are_generated_from_docstrings() -> None:
    outdir = ROOT / "docs" / "checkers"
    stale = [
        p.name for p, text in generate(outdir).items() if not p.exists() or p.read_text() != text
    ]
    assert not stale, f"run `python -m checkers.docgen docs/checkers`: {stale} out of date"


@pytest.mark.parametrize("checker", CHECKERS, ids=[c.info.id for c in CHECKERS])
def test_the_generated_page_drops_no_docstring_line(
    checker: FunctionChecker | PatchChecker,
) -> None:
    # A second "Fix:" once replaced the first, and an "Also, ...:" paragraph
    # ended up inside a code block or nowhere.
    doc = inspect.getdoc(sys.modules[type(checker).__module__]) or ""
    page = render(checker)
    lost = [
        text
        for text in (ln.strip().removesuffix(":") for ln in doc.splitlines()[1:])
        if text and text not in page
    ]
    assert not lost, f"{checker.info.id}: not on its page: {lost[:3]}"
