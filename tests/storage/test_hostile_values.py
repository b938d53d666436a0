"""Values nobody should write are stored cleaned, and database errors are one line.

Runs on SQLite and on the real PostgreSQL (``db_url``): PostgreSQL is the one
that refused NULs, lone surrogates and ids longer than their VARCHAR.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from reviewbot.storage.clean import MAX_ID, clean_id
from reviewbot.storage.db import normalize_url
from reviewbot.storage.models import MessageRow, PatchRow, RevisionRow, SeriesRow

ROOT = Path(__file__).resolve().parents[2]


def _reviewbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("REVIEWBOT_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "reviewbot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_rows_with_nul_surrogates_and_long_ids_are_stored_cleaned(session: Session) -> None:
    long_id = "m" * 600 + "@evil.example"
    series = SeriesRow(title="mm: a\x00b \udcff", author="Eve\x00 <e@x>", change_id="c" * 300)
    rev = RevisionRow(
        series=series, version=1, subject="s\x00", message_id=long_id, total=1, mbox="x\x00y"
    )
    rev.patches.append(
        PatchRow(index=1, total=1, subject="p", message_id=long_id, author="a", date="d" * 300)
    )
    session.add_all([series, rev, MessageRow(message_id=long_id, inbox_url="u", raw="r\x00")])
    session.commit()
    session.expire_all()
    got = session.scalars(select(RevisionRow)).one()
    assert got.subject == "s" and got.mbox == "xy"
    assert got.message_id == clean_id(long_id) and len(got.message_id) <= MAX_ID
    assert got.patches[0].message_id == got.message_id  # one id, one form: threads match
    assert got.series.title.startswith("mm: ab ") and "\x00" not in got.series.author
    assert len(got.series.change_id or "") <= MAX_ID
    msg = session.scalars(select(MessageRow)).one()
    assert msg.message_id == got.message_id and msg.raw == "r"


@pytest.mark.slow
def test_check_database_with_a_nul_in_the_subject_is_no_traceback(
    db_url: str, tmp_path: Path
) -> None:
    from reviewbot.sample import build_sample_tree, series_mbox

    tree = tmp_path / "tree"
    build_sample_tree(tree)
    text = Path(series_mbox(1)).read_text()
    hostile = text.replace(
        "Subject: [PATCH 1/3]", "Subject: =?utf-8?q?[PATCH_1/3]_=00=1B]0;owned=07?=", 1
    )
    assert hostile != text
    mbox = tmp_path / "hostile.mbox"
    mbox.write_text(hostile)
    proc = _reviewbot(
        "check", "--tree", str(tree), "--mbox", str(mbox), "--no-simulate", "--format", "json",
        "--outbox", str(tmp_path / "out"), "--database", db_url, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr


def test_postgres_urls_as_users_write_them() -> None:
    assert normalize_url("postgres://u@h/db").startswith("postgresql")
    url = normalize_url("postgresql://u:pw@h:5432/db?options=-c%20x")
    assert url.startswith("postgresql") and "pw" in url and "options" in url
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.services
def test_plain_postgresql_url_opens(tmp_path: Path) -> None:
    for scheme in ("postgresql", "postgres"):
        proc = _reviewbot(
            "link", "--database", f"{scheme}://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dnone_here",
            "a", "b", cwd=tmp_path,
        )  # fmt: skip
        # it reaches the server (no "no driver"): the schema does not exist there
        assert proc.returncode == 2 and "no driver" not in proc.stderr, proc.stderr
        assert "cannot open database" in proc.stderr and len(proc.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bob:s3cr3tpw@127.0.0.1:1/db",
        "postgresql+psycopg2://bob:s3cr3tpw@127.0.0.1:5432/no_such_db",
        "mysql://bob:s3cr3tpw@127.0.0.1/db",
        "post gres://bob:s3cr3tpw@x/db",
        "sqlite:////proc/no/such/dir/x.db",
    ],
)
def test_database_errors_are_one_line_exit_2_without_the_password(url: str, tmp_path: Path) -> None:
    for argv in (["link", "--database", url, "a", "b"], ["serve", "--database", url]):
        proc = _reviewbot(*argv, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "s3cr3tpw" not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
