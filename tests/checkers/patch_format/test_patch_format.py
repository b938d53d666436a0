"""patch-format over its fixtures: each mail says what it expects (X-Expect:)."""

from __future__ import annotations

from pathlib import Path

import pytest

from checkers.patch_format import PatchFormatChecker
from reviewbot import mail
from reviewbot.models import Severity

FIXTURES = Path(__file__).parent / "fixtures"
MAILS = sorted(FIXTURES.glob("*.eml"))


def _read(path: Path) -> tuple[mail.MailItem, set[str]]:
    (msg,) = mail.split_mbox(path.read_bytes())
    item = mail.message_to_item(msg)
    assert item is not None, path
    expect = set(str(msg["X-Expect"]).split()) - {"none"}
    return item, expect


@pytest.mark.parametrize("path", MAILS, ids=[p.stem for p in MAILS])
def test_fixture(path: Path) -> None:
    item, expect = _read(path)
    findings = list(PatchFormatChecker().check_patch(item.patch))
    assert {f.key.split(":")[0] for f in findings} == expect
    assert path.stem.startswith("good_") == (not expect)
    for f in findings:
        assert f.severity is Severity.NIT and f.checker == "patch-format"
        assert f.message.strip()


def test_fixtures_cover_good_and_bad() -> None:
    assert len([p for p in MAILS if p.stem.startswith("good_")]) >= 3
    assert len([p for p in MAILS if p.stem.startswith("bad_")]) >= 3


def test_trailing_whitespace_points_at_the_added_line() -> None:
    item, _ = _read(FIXTURES / "bad_trailing_ws.eml")
    (f,) = PatchFormatChecker().check_patch(item.patch)
    assert (f.file, f.line) == ("mm/memory.c", 28)


def test_ids_do_not_depend_on_line_numbers() -> None:
    item, _ = _read(FIXTURES / "bad_trailing_ws.eml")
    (a,) = PatchFormatChecker().check_patch(item.patch)
    moved = item.patch.diff_text.replace("@@ -25,7 +25,7 @@", "@@ -35,7 +35,7 @@")
    from dataclasses import replace

    patch = replace(item.patch, diff_text=moved, files=mail.parse_diff(moved))
    (b,) = PatchFormatChecker().check_patch(patch)
    assert b.line == 38 and a.id == b.id


def test_cover_letter_is_not_checked() -> None:
    item, _ = _read(FIXTURES / "bad_everything.eml")
    from dataclasses import replace

    assert list(PatchFormatChecker().check_patch(replace(item.patch, index=0))) == []
