"""Fetching from lore: a real public-inbox on loopback, b4 pointed at it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reviewbot.devtools.publicinbox import PublicInbox
from reviewbot.git import Repo
from tests.spine.conftest import Commit, make_series, replace_in
from tests.spine.test_cli_check import reviewbot

pytestmark = [pytest.mark.services, pytest.mark.slow]


def _first_patch_id(mbox: bytes) -> str:
    for line in mbox.decode().splitlines():
        if line.lower().startswith("message-id:") and "cover" not in line:
            return line.split("<", 1)[1].rstrip(">").strip()
    raise AssertionError("no patch in mbox")


@pytest.fixture
def lore(public_inbox: PublicInbox, mini_tree: Path) -> tuple[PublicInbox, str]:
    v1 = make_series(
        mini_tree,
        [
            Commit(
                "mm: demo: count two pages", replace_in("mm/memory.c", "int nr = 1;", "int nr = 2;")
            ),
        ],
        version=1,
        day=20,
    )
    v2 = make_series(
        mini_tree,
        [
            Commit(
                "mm: demo: count two pages",
                replace_in("mm/memory.c", "int nr = 1;", "int nr = 2;"),
                body="Count two pages, v2 explains why.\n\n"
                "Signed-off-by: A Developer <dev@example.org>",
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
        version=2,
        day=22,
    )
    public_inbox.import_mbox(v1 + v2)
    return public_inbox, _first_patch_id(v1)


def test_msgid_reviews_the_newest_revision(
    lore: tuple[PublicInbox, str], mini_tree: Path, tmp_path: Path
) -> None:
    pi, msgid = lore
    before = Repo(mini_tree).snapshot()
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path / "home")}
    out = reviewbot(
        "check",
        msgid,
        "--lore",
        pi.url,
        "--tree",
        str(mini_tree),
        "--format",
        "json",
        "--outbox",
        str(tmp_path / "o"),
        env=env,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["revision"]["version"] == 2
    assert [p["subject"] for p in data["patches"]] == [
        "mm: demo: count two pages",
        "mm: demo: count swap-in events",
    ]
    assert data["revision"]["applied"] is True
    older = reviewbot(
        "check",
        "-v",
        "1",
        msgid,
        "--lore",
        pi.url,
        "--tree",
        str(mini_tree),
        "--format",
        "json",
        "--outbox",
        str(tmp_path / "o"),
        env=env,
    )
    assert older.returncode == 0, older.stderr
    assert json.loads(older.stdout)["revision"]["version"] == 1
    url = reviewbot(
        "check",
        f"{pi.url}/{msgid}/",
        "--tree",
        str(mini_tree),
        "--format",
        "json",
        "--outbox",
        str(tmp_path / "o"),
        env=env,
    )
    assert url.returncode == 0, url.stderr
    assert json.loads(url.stdout)["revision"]["version"] == 2
    assert Repo(mini_tree).snapshot() == before


def test_unknown_msgid_exits_2(
    lore: tuple[PublicInbox, str], mini_tree: Path, tmp_path: Path
) -> None:
    pi, _ = lore
    out = reviewbot(
        "check",
        "nobody-sent-this@example.org",
        "--lore",
        pi.url,
        "--tree",
        str(mini_tree),
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert out.returncode == 2
    assert "nobody-sent-this@example.org" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
