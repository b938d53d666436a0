"""The bundled sample series: every checker over each revision's post-image
files gives exactly the bugs seeded in sample/expected.toml (checker, file,
line, function), nothing else; v3 gets nothing of severity bug or possible-bug
and the batch-bit-uniformity note says why its batch is safe."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from reviewbot.commands.lint import lint
from reviewbot.models import Finding, Severity

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample"
EXPECTED = tomllib.loads((SAMPLE / "expected.toml").read_text())


def _findings(version: str) -> list[Finding]:
    result = lint([SAMPLE / "revisions" / version])
    assert result.notes == []
    return result.findings


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_exactly_the_seeded_findings(version: str) -> None:
    expected = sorted(
        (b["bug"], b["file"], b["line"], b["function"]) for b in EXPECTED[version]["bugs"]
    )
    got = sorted(
        (f.checker, f.file, f.line, f.function)
        for f in _findings(version)
        if f.severity is not Severity.NOTE
    )
    assert got == expected


def test_v3_batch_bits_are_explained_not_flagged() -> None:
    findings = _findings("v3")
    assert not [f for f in findings if f.severity.blocking]
    (note,) = [f for f in findings if f.checker == "batch-bit-uniformity"]
    assert note.severity is Severity.NOTE
    assert "That is safe: swap_pte_batch() (mm/internal.h:" in note.message
    assert "soft-dirty" in note.message and "uffd-wp" in note.message


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_evidence_matches_the_seeded_story(version: str) -> None:
    seeded = {b["bug"]: b for b in EXPECTED[version]["bugs"]}
    by_checker = {f.checker: f for f in _findings(version)}

    stale = by_checker["stale-pointer"]
    roles = {e.role: e.line for e in stale.evidence}
    want = {e["role"]: e["line"] for e in seeded["stale-pointer"]["evidence"]}
    assert roles["copied"] == want["copy"] and roles["re-obtained"] == want["re-obtained"]

    null = by_checker["unchecked-null-pte"]
    roles = {e.role: e.line for e in null.evidence}
    want = {e["role"]: e["line"] for e in seeded["unchecked-null-pte"]["evidence"]}
    assert roles["may-be-null"] == want["may return NULL"]
    assert roles["checked"] == want["NULL check"]

    bits = by_checker["batch-bit-uniformity"]
    assert bits.severity is Severity.POSSIBLE_BUG
    assert "clears soft-dirty" in bits.message and "uffd-wp (pte_swp_clear_uffd_wp()" in (
        bits.message
    )
    # Evidence texts are whitespace-normalised source lines without line numbers.
    for f in by_checker.values():
        for e in f.evidence:
            assert e.text and e.text == " ".join(e.text.split())
            assert f"{e.line}" not in e.role


def test_v1_and_v2_ids_are_stable_where_the_code_did_not_change() -> None:
    # v2 renamed start_pte -> start_ptep: a new id; the NULL use moved by 9 lines
    # but kept its text: the same id, so "still there in v2" can be said.
    ids = {v: {f.checker: f.id for f in _findings(v)} for v in ("v1", "v2")}
    assert ids["v1"]["unchecked-null-pte"] == ids["v2"]["unchecked-null-pte"]
    assert ids["v1"]["stale-pointer"] != ids["v2"]["stale-pointer"]
