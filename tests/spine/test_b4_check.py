"""``reviewbot b4-check`` plugged into b4 0.16 for real.

``b4 am -k`` runs ``am-perpatch-check-cmd`` (checkpatch-style lines, our
``--terse``); ``b4 review`` runs ``review-perpatch-check-cmd`` through
``b4.review.checks.run_perpatch_checks`` and reads our JSON array.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from reviewbot.git import Repo
from tests.spine.conftest import Commit, git, make_series, replace_in
from tests.spine.test_cli_check import ROOT, reviewbot

B4 = Path(sys.executable).parent / "b4"

TRAILING_WS = Commit(
    "mm: demo: count two pages", replace_in("mm/memory.c", "int nr = 1;", "int nr = 2; ")
)
NO_PREFIX = Commit(
    "count swap-in events",
    replace_in(
        "mm/memory.c",
        "\tadd_mm_counter(mm, MM_SWAPENTS, -nr);\n",
        "\tadd_mm_counter(mm, MM_SWAPENTS, -nr);\n\tcount_vm_events(PSWPIN, nr);\n",
    ),
)


def _wrapper(tmp_path: Path, *flags: str) -> Path:
    """An executable named reviewbot, as an installed one would be."""
    path = tmp_path / "bin" / "reviewbot"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        f"#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -m reviewbot "
        f"b4-check {' '.join(flags)}\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _patches(mbox: bytes) -> list[bytes]:
    chunks = mbox.split(b"\nFrom ")
    mails = [chunks[0]] + [b"From " + c for c in chunks[1:]]
    return [m for m in mails if b"diff --git" in m]


@pytest.mark.slow
def test_b4_am_runs_it_as_a_check_command(mini_tree: Path, tmp_path: Path) -> None:
    mbox = tmp_path / "series.mbox"
    mbox.write_bytes(make_series(mini_tree, [TRAILING_WS, NO_PREFIX]))
    before = Repo(mini_tree).snapshot()
    cmd = _wrapper(tmp_path, "--terse")
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), HOME=str(tmp_path))
    out = subprocess.run(
        [
            str(B4),
            "--offline-mode",
            "-c",
            f"b4.am-perpatch-check-cmd={cmd}",
            "-c",
            "b4.attestation-policy=off",
            "am",
            "-k",
            "-m",
            str(mbox),
            "-o",
            str(tmp_path / "am"),
        ],
        cwd=mini_tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "Request to" not in log  # --offline-mode: b4 stayed off the network
    assert "reviewbot: mm/memory.c:28: CHECK: nit: trailing whitespace." in log
    assert 'reviewbot: commit-message:0: CHECK: nit: the subject "count swap-in events"' in log
    assert Repo(mini_tree).snapshot() == before


def test_b4_review_reads_its_json(
    mini_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import b4
    from b4.review import checks

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cmd = _wrapper(tmp_path)
    b4._setup_main_config(None, topdir=str(mini_tree))
    patches = []
    for raw in _patches(make_series(mini_tree, [TRAILING_WS, NO_PREFIX])):
        msg = email.message_from_bytes(raw.split(b"\n", 1)[1], policy=email.policy.default)
        patches.append((str(msg["Message-ID"]).strip("<>"), msg))
    results = checks.run_perpatch_checks(patches, [str(cmd)], str(mini_tree))
    first, second = (results[mid] for mid, _ in patches)
    assert [(r["tool"], r["status"]) for r in first] == [("reviewbot", "warn")]
    assert "trailing whitespace" in first[0]["summary"]
    assert "mm/memory.c:28" in first[0]["details"]
    assert any("subsystem prefix" in r["summary"] for r in second)


def test_prep_check_on_the_authors_own_branch(mini_tree: Path, tmp_path: Path) -> None:
    """b4 prep --check: the patch is already committed on HEAD."""
    TRAILING_WS.edit(mini_tree)
    git(
        mini_tree,
        "commit",
        "-q",
        "-am",
        "mm: demo: count two pages\n\nWhy.\n\nSigned-off-by: A Developer <dev@example.org>",
    )
    patch = git(mini_tree, "format-patch", "--stdout", "-1", "HEAD").encode()
    before = Repo(mini_tree).snapshot()
    out = reviewbot("b4-check", "--terse", cwd=mini_tree, stdin=patch)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("mm/memory.c:28: CHECK: nit: trailing whitespace.")
    assert Repo(mini_tree).snapshot() == before


def test_clean_patch_passes_and_bad_stdin_fails(mini_tree: Path) -> None:
    good = make_series(
        mini_tree,
        [
            Commit(
                "mm: demo: count two pages", replace_in("mm/memory.c", "int nr = 1;", "int nr = 2;")
            )
        ],
        cover=False,
    )
    out = reviewbot("b4-check", cwd=mini_tree, stdin=good)
    assert out.returncode == 0, out.stderr
    (entry,) = json.loads(out.stdout)
    assert {k: v for k, v in entry.items() if k != "details"} == {
        "tool": "reviewbot",
        "status": "pass",
        "summary": "no findings",
        "url": "",
    }
    # "no findings" says what was not run: here the simulator (the mini tree has
    # no simulated path, or the change touches none)
    assert entry["details"].startswith("simulator: "), entry["details"]
    terse = reviewbot("b4-check", "--terse", cwd=mini_tree, stdin=good)
    assert terse.returncode == 0 and terse.stdout == ""
    bad = reviewbot("b4-check", cwd=mini_tree, stdin=b"Subject: hello\n\nno patch here\n")
    assert bad.returncode == 2 and "carries no patch" in bad.stderr


@pytest.mark.slow
def test_b4_prep_check_runs_it_on_the_prep_branch(mini_tree: Path, tmp_path: Path) -> None:
    env = dict(
        os.environ,
        HOME=str(tmp_path),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        GIT_CONFIG_NOSYSTEM="1",
    )
    git(mini_tree, "config", "user.name", "A Developer")
    git(mini_tree, "config", "user.email", "dev@example.org")

    def b4(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(B4), "--offline-mode", *args],
            cwd=mini_tree,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    created = b4("prep", "-n", "demo")
    assert created.returncode == 0, created.stderr
    TRAILING_WS.edit(mini_tree)
    git(
        mini_tree,
        "commit",
        "-q",
        "-am",
        "mm: demo: count two pages\n\nWhy.\n\nSigned-off-by: A Developer <dev@example.org>",
    )
    # b4 itself rewrites the index on every run (it was measured with a check
    # command that does nothing): compare all but the index's mtime here;
    # test_prep_check_on_the_authors_own_branch compares that too.
    index = mini_tree / ".git" / "index"
    mtime = index.stat().st_mtime
    b4("-c", "b4.prep-perpatch-check-cmd=true", "prep", "--check")
    assert index.stat().st_mtime != mtime
    before = replace(Repo(mini_tree).snapshot(), index_mtime=None)
    cmd = _wrapper(tmp_path, "--terse")
    out = b4("-c", f"b4.prep-perpatch-check-cmd={cmd}", "prep", "--check")
    log = out.stdout + out.stderr
    assert out.returncode == 0, log
    assert "reviewbot: mm/memory.c:28: CHECK: nit: trailing whitespace." in log
    assert "Warning: 1, Error: 0" in log
    assert replace(Repo(mini_tree).snapshot(), index_mtime=None) == before
