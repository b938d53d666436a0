"""``reviewbot check`` as a user runs it: exit statuses, formats, outbox, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reviewbot.git import Repo
from tests.spine.conftest import Commit, git, make_series, replace_in

ROOT = Path(__file__).resolve().parents[2]
MAIL = Path(__file__).parent / "fixtures" / "mail"


def reviewbot(
    *args: str,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    proc = subprocess.run(
        [sys.executable, "-m", "reviewbot", *args],
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        check=False,
    )
    return subprocess.CompletedProcess(
        proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode()
    )


@pytest.fixture
def series(mini_tree: Path) -> Path:
    mbox = make_series(
        mini_tree,
        [
            Commit(
                "mm: demo: count two pages",
                replace_in("mm/memory.c", "int nr = 1;", "int nr = 2; "),
            ),
            Commit(
                "mm: demo: count swap-in events",
                replace_in(
                    "mm/memory.c",
                    "\tadd_mm_counter(mm, MM_SWAPENTS, -nr);\n",
                    "\tadd_mm_counter(mm, MM_SWAPENTS, -nr);\n\tcount_vm_events(PSWPIN, nr);\n",
                ),
            ),
        ],
    )
    path = mini_tree.parent / "series.mbox"
    path.write_bytes(mbox)
    return path


def test_mbox_text_json_email_and_outbox(mini_tree: Path, series: Path, tmp_path: Path) -> None:
    before = Repo(mini_tree).snapshot()
    outbox = tmp_path / "outbox"
    text = reviewbot(
        "check", "--tree", str(mini_tree), "--mbox", str(series), "--outbox", str(outbox)
    )
    assert text.returncode == 0, text.stderr
    assert "[1/2] applied" in text.stdout and "trailing whitespace" in text.stdout
    assert "Traceback" not in text.stderr
    (reply,) = list((outbox / "new").iterdir())
    js = reviewbot(
        "check",
        "--tree",
        str(mini_tree),
        "--mbox",
        str(series),
        "--format",
        "json",
        "--outbox",
        str(outbox),
    )
    data = json.loads(js.stdout)
    assert data["series"]["title"] == "mm: demo: count two pages"
    assert data["revision"]["applied"] is True and data["revision"]["version"] == 1
    assert [p["index"] for p in data["patches"]] == [1, 2]
    assert all(p["files_not_read"] == [] for p in data["patches"])
    assert data["not_reviewed"] == []
    # the simulator either ran or the JSON says why not: never both, never neither
    assert (data["simulation"] is None) == isinstance(data["simulation_not_run"], str)
    (finding,) = data["findings"]
    assert finding["checker"] == "patch-format" and finding["patch_index"] == 1
    assert set(finding) >= {
        "id",
        "checker",
        "severity",
        "file",
        "line",
        "function",
        "message",
        "patch_index",
        "patch_message_id",
    }
    # the same review files the same reply again, not a second one
    assert list((outbox / "new").iterdir()) == [reply]
    em = reviewbot(
        "check",
        "--tree",
        str(mini_tree),
        "--mbox",
        str(series),
        "--format",
        "email",
        "--outbox",
        str(outbox),
    )
    assert em.stdout.startswith("From: reviewbot")
    assert "Subject: Re: [PATCH 1/2] mm: demo: count two pages" in em.stdout
    assert Repo(mini_tree).snapshot() == before


def test_range_reviews_commits_before_sending(mini_tree: Path, tmp_path: Path) -> None:
    replace_in("mm/memory.c", "int nr = 1;", "int nr = 4;")(mini_tree)
    git(mini_tree, "commit", "-q", "-am", "count four pages")
    before = Repo(mini_tree).snapshot()
    out = reviewbot(
        "check",
        "--tree",
        str(mini_tree),
        "--range",
        "HEAD~1..HEAD",
        "--format",
        "json",
        "--outbox",
        str(tmp_path / "o"),
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["revision"]["applied"] is True
    # the range names its base: not a guess, not "from --base"
    assert (data["revision"]["base_source"], data["revision"]["base_reason"]) == (
        "--range",
        "from --range",
    )
    messages = " ".join(f["message"] for f in data["findings"])
    assert "no Signed-off-by" in messages and "subsystem prefix" in messages
    assert Repo(mini_tree).snapshot() == before


def test_blocking_finding_exits_1(mini_tree: Path, tmp_path: Path) -> None:
    out = reviewbot(
        "check",
        "--tree",
        str(mini_tree),
        "--mbox",
        str(MAIL / "dotdot.eml"),
        "--outbox",
        str(tmp_path / "o"),
    )
    assert out.returncode == 1, out.stderr
    assert "leaves the tree" in out.stdout
    assert not (mini_tree.parent / "outside.c").exists()


def test_patch_that_does_not_apply_still_completes(mini_tree: Path, tmp_path: Path) -> None:
    out = reviewbot(
        "check",
        "--tree",
        str(mini_tree),
        "--mbox",
        str(MAIL / "noapply.mbox"),
        "--format",
        "json",
        "--outbox",
        str(tmp_path / "o"),
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [p["apply_status"] for p in data["patches"]] == ["partial", "applied"]
    (hunk,) = data["patches"][0]["failed_hunks"]
    assert hunk["file"] == "mm/memory.c" and hunk["header"].startswith("@@ -40,3 +40,3 @@")
    assert "applies in reverse" in hunk["cause"]
    assert data["patches"][1]["failed_hunks"] == []


def test_missing_patches_are_named(mini_tree: Path, tmp_path: Path) -> None:
    out = reviewbot(
        "check",
        "--tree",
        str(mini_tree),
        "--mbox",
        str(MAIL / "partial-3of5.mbox"),
        "--outbox",
        str(tmp_path / "o"),
    )
    assert out.returncode == 0, out.stderr
    assert "patch 3/5 is missing" in out.stdout and "patch 5/5 is missing" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mbox", str(MAIL / "empty.mbox")], "empty"),
        (["--mbox", str(MAIL / "thread-no-patches.mbox")], "no patches"),
        (["--mbox", str(MAIL / "malformed.eml")], "no mail found"),
        (["--mbox", "/nonexistent/file.mbox"], "No such file"),
        (["--mbox", str(MAIL / "qp.eml"), "-v", "3"], "no v3"),
        (["--range", "nope..HEAD"], "not a commit"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    mini_tree: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    before = Repo(mini_tree).snapshot()
    out = reviewbot("check", "--tree", str(mini_tree), *args, "--outbox", str(tmp_path / "o"))
    assert out.returncode == 2
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr
    assert Repo(mini_tree).snapshot() == before


@pytest.mark.parametrize("tree", ["missing", "plain-dir"])
def test_missing_or_non_git_tree_exits_2(tmp_path: Path, tree: str) -> None:
    path = tmp_path / tree
    if tree == "plain-dir":
        path.mkdir()
    out = reviewbot("check", "--tree", str(path), "--mbox", str(MAIL / "qp.eml"))
    assert out.returncode == 2 and out.stderr.startswith("reviewbot: tree ")


@pytest.mark.parametrize("name", ["qp.eml", "base64.eml", "latin1.eml", "badcharset.eml"])
def test_encoded_mails_are_reviewed(mini_tree: Path, tmp_path: Path, name: str) -> None:
    out = reviewbot(
        "check",
        "--tree",
        str(mini_tree),
        "--mbox",
        str(MAIL / name),
        "--format",
        "json",
        "--outbox",
        str(tmp_path / "o"),
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["revision"]["applied"] is True


def test_a_newer_revision_says_what_was_fixed(mini_tree: Path, tmp_path: Path) -> None:
    def both(ws: str) -> Commit:
        return Commit(
            "mm: demo: count two pages",
            lambda r: (
                replace_in("mm/memory.c", "int nr = 1;", f"int nr = 2;{ws}")(r),
                replace_in("mm/memory.c", "vm_fault_t ret = 0;", "vm_fault_t ret = 0; ")(r),
            ),
        )

    v1 = make_series(mini_tree, [both(" ")], version=1, day=20)
    v2 = make_series(mini_tree, [both("")], version=2, day=22)
    mbox = tmp_path / "both.mbox"
    mbox.write_bytes(v1 + v2)
    out = reviewbot(
        "check",
        "--tree",
        str(mini_tree),
        "--mbox",
        str(mbox),
        "--format",
        "email",
        "--outbox",
        str(tmp_path / "o"),
    )
    assert out.returncode == 0, out.stderr
    flat = " ".join(out.stdout.split())
    assert "Subject: Re: [PATCH v2 1/1] mm: demo: count two pages" in out.stdout
    assert "nit: trailing whitespace. (still present since v1)" in flat
    assert "Fixed since v1: trailing whitespace (v1 1/1, id " in flat


def test_send_with_smtp_down_keeps_the_outbox(
    mini_tree: Path, series: Path, tmp_path: Path
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = reviewbot(
        "check",
        "--tree",
        str(mini_tree),
        "--mbox",
        str(series),
        "--send",
        "--outbox",
        str(tmp_path / "o"),
        env={"REVIEWBOT_SMTP_HOST": "127.0.0.1", "REVIEWBOT_SMTP_PORT": str(port)},
    )
    assert out.returncode == 2
    assert out.stderr.startswith("reviewbot: SMTP 127.0.0.1:") and "Traceback" not in out.stderr
    assert len(list((tmp_path / "o" / "new").iterdir())) == 1


def test_unreachable_lore_exits_2(mini_tree: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = reviewbot(
        "check",
        "someone@example.org",
        "--lore",
        f"http://127.0.0.1:{port}/linux-mm",
        "--tree",
        str(mini_tree),
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert out.returncode == 2
    assert out.stderr == (
        f"reviewbot: someone@example.org: http://127.0.0.1:{port}/linux-mm cannot be reached\n"
    )


def test_lore_that_is_no_url_exits_2(mini_tree: Path, tmp_path: Path) -> None:
    # b4 used to turn "lore.kernel.org/all" into "No connection adapters ... '://...'"
    out = reviewbot(
        "check",
        "someone@example.org",
        "--lore",
        "lore.kernel.org/all",
        "--tree",
        str(mini_tree),
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert out.returncode == 2
    assert out.stderr == "reviewbot: --lore lore.kernel.org/all: not an http(s) URL\n"


def test_database_records_the_review(mini_tree: Path, series: Path, tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "reviews.db"
    for _ in range(2):  # recording the same review twice stores it once
        out = reviewbot(
            "check",
            "--tree",
            str(mini_tree),
            "--mbox",
            str(series),
            "--database",
            f"sqlite:///{db}",
            "--outbox",
            str(tmp_path / "o"),
        )
        assert out.returncode == 0, out.stderr
    with sqlite3.connect(db) as conn:
        (reviews,) = conn.execute("select count(*) from reviews").fetchone()
        (findings,) = conn.execute("select count(*) from findings").fetchone()
        (title,) = conn.execute("select title from series").fetchone()
    assert (reviews, findings, title) == (1, 1, "mm: demo: count two pages")


def test_nothing_reviewed_exits_2_with_one_line(mini_tree: Path, tmp_path: Path) -> None:
    mbox = make_series(
        mini_tree,
        [
            Commit(
                "mm: demo: count two pages", replace_in("mm/memory.c", "int nr = 1;", "int nr = 2;")
            )
        ],
        cover=False,
    )
    # the author's tree had other context around the change
    broken = mbox.replace(b" \tvm_fault_t ret = 0;\n", b" \tvm_fault_t ret = 1;\n")
    assert broken != mbox
    path = tmp_path / "other-tree.mbox"
    path.write_bytes(broken)
    out = reviewbot(
        "check", "--tree", str(mini_tree), "--mbox", str(path), "--outbox", str(tmp_path / "o")
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith(
        "reviewbot: nothing of the series could be reviewed: no hunk of a C file applies"
    )
    # the report still says which hunk and why
    assert "[1/1] FAILED" in out.stdout
    assert "context differs at line 27 of mm/memory.c" in out.stdout


def test_email_without_a_reply_still_says_what_was_not_reviewed(
    mini_tree: Path, tmp_path: Path
) -> None:
    out = reviewbot(
        "check",
        "--tree",
        str(mini_tree),
        "--mbox",
        str(MAIL / "partial-3of5.mbox"),
        "--format",
        "email",
        "--outbox",
        str(tmp_path / "o"),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert "reviewbot: not reviewed: patch 3/5 never reached reviewbot" in out.stderr
    assert "reviewbot: not reviewed: patch 5/5 never reached reviewbot" in out.stderr
