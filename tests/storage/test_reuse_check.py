"""``reviewbot check --database``: an identical resend takes the recorded results.

The real pipeline on the bundled sample: v1 is checked and recorded; a
resend of it (new version number and message-ids, same base and patches)
is not reviewed again; one whose patch 3 changed is, and records patches
1-2 as unchanged since v1.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from reviewbot.cli import main
from reviewbot.storage.models import ReviewRow, RevisionRow

pytestmark = pytest.mark.slow

COMMENT = "/* A large folio in the swap cache: try to map all of it at once. */"


@pytest.fixture(scope="module")
def sample_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reviewbot.sample import build_sample_tree

    tree = tmp_path_factory.mktemp("sample") / "tree"
    build_sample_tree(tree)
    return tree


def _resend(tmp_path: Path, version: int, *, change_patch3: bool = False) -> Path:
    from reviewbot.sample import series_mbox

    text = series_mbox(1).read_text()
    text = text.replace("[PATCH ", f"[PATCH v{version} ").replace("4101-", f"41{version:02d}-")
    if change_patch3:
        assert text.count(COMMENT) == 1
        text = text.replace(COMMENT, "/* Map the whole large folio found in the swap cache. */")
    out = tmp_path / f"v{version}.mbox"
    out.write_text(text)
    return out


def _check(tree: Path, mbox: Path, db_url: str, tmp_path: Path) -> int:
    return main(
        [
            "check",
            "--tree",
            str(tree),
            "--mbox",
            str(mbox),
            "--database",
            db_url,
            "--no-simulate",
            "--outbox",
            str(tmp_path / "outbox"),
        ]
    )


def _latest(db: sessionmaker[Session], version: int) -> ReviewRow:
    with db() as s:
        rev = s.scalars(select(RevisionRow).where(RevisionRow.version == version)).one()
        row = s.scalars(
            select(ReviewRow).where(ReviewRow.revision_id == rev.id).order_by(ReviewRow.id.desc())
        ).first()
        assert row is not None
        row.findings  # noqa: B018 (load before the session closes)
        s.expunge(row)
        return row


@pytest.fixture
def pipeline_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The versions ``reviewbot check`` really reviewed (its pipeline seam, counted)."""
    from reviewbot.commands import check

    calls: list[int] = []
    real = check.review_revision

    def counting(*args: object, **kw: object) -> object:
        calls.append(args[1].version)  # type: ignore[attr-defined]
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(check, "review_revision", counting)
    return calls


def test_check_reuses_an_identical_recorded_revision(
    sample_tree: Path,
    db_url: str,
    tmp_path: Path,
    pipeline_calls: list[int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from reviewbot.sample import series_mbox
    from reviewbot.storage.db import open_db

    db = open_db(db_url)
    calls = pipeline_calls
    status1 = _check(sample_tree, series_mbox(1), db_url, tmp_path)
    first_out = capsys.readouterr().out
    assert calls == [1]

    status2 = _check(sample_tree, _resend(tmp_path, 2), db_url, tmp_path)
    out = capsys.readouterr().out
    assert calls == [1]  # not reviewed again
    assert status2 == status1
    assert "v2 is identical to v1 (same base and patch-ids): results of v1" in out
    first, second = _latest(db, 1), _latest(db, 2)
    assert second.result["reused_from"] == 1
    assert second.base == first.base and second.applied == first.applied
    assert sorted(f.finding_id for f in second.findings) == sorted(
        f.finding_id for f in first.findings
    )
    assert any(f.patch_index for f in second.findings)
    assert {f.patch_message_id for f in second.findings if f.patch_index} <= {
        f"20261102093000.4102-{i}-ada@example.org" for i in (2, 3, 4)
    }
    # the same findings, line for line, in the text summary
    findings = [line for line in first_out.splitlines() if line.startswith("  ")]
    assert findings and all(line in out for line in findings)

    _check(sample_tree, _resend(tmp_path, 3, change_patch3=True), db_url, tmp_path)
    assert calls == [1, 3]  # patch 3 changed: reviewed
    third = _latest(db, 3)
    assert "reused_from" not in third.result
    assert third.result["unchanged_since"] == {"1": 1, "2": 1}


def test_an_mbox_read_from_a_pipe_is_stored_whole(
    sample_tree: Path, db_url: str, tmp_path: Path
) -> None:
    """``--mbox <(b4 mbox ...)``: fetch reads the pipe once; storage keeps those bytes."""
    import subprocess
    import sys

    from reviewbot.sample import series_mbox
    from reviewbot.storage.db import open_db

    data = Path(series_mbox(1)).read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "reviewbot", "check", "--tree", str(sample_tree),
         "--mbox", "/dev/stdin", "--database", db_url, "--no-simulate",
         "--outbox", str(tmp_path / "outbox")],
        input=data, capture_output=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    with open_db(db_url)() as s:
        rev = s.scalars(select(RevisionRow).where(RevisionRow.version == 1)).one()
        assert rev.mbox and "mm: swap: introduce swap_free_nr()" in rev.mbox
