"""Fixtures for the spine: a mini kernel-style git tree and series made on it.

The tree (tests/spine/fixtures/tree) is written for these tests in kernel
style.  A series is made the way an author makes one: commits in a clone,
then ``git format-patch --base``; the reviewer's tree stays at the base.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from reviewbot.git import run_text
from tests.support.fixtures import public_inbox  # noqa: F401 - a fixture

FIXTURES = Path(__file__).parent / "fixtures"


def git(
    repo: Path, *args: str, date: str = "2026-11-20T10:10:10+00:00", input: bytes | None = None
) -> str:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="A Developer",
        GIT_AUTHOR_EMAIL="dev@example.org",
        GIT_COMMITTER_NAME="A Developer",
        GIT_COMMITTER_EMAIL="dev@example.org",
        GIT_AUTHOR_DATE=date,
        GIT_COMMITTER_DATE=date,
        GIT_CONFIG_GLOBAL="/dev/null",
        GIT_CONFIG_NOSYSTEM="1",
    )
    return run_text(repo, *args, input=input, env=env)


@pytest.fixture
def mini_tree(tmp_path: Path) -> Path:
    """A git repo holding the fixture tree, one commit, branch master."""
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURES / "tree", tree)
    git(tree, "init", "-q", "-b", "master")
    git(tree, "add", "-A")
    git(tree, "commit", "-q", "-m", "Initial tree")
    return tree


Edit = Callable[[Path], None]


@dataclass
class Commit:
    subject: str
    edit: Edit
    body: str = "Explain the change.\n\nSigned-off-by: A Developer <dev@example.org>"


def replace_in(path: str, old: str, new: str) -> Edit:
    def edit(root: Path) -> None:
        f = root / path
        text = f.read_text()
        assert old in text, f"{old!r} not in {path}"
        f.write_text(text.replace(old, new, 1))

    return edit


def make_series(
    tree: Path, commits: list[Commit], *, version: int = 1, cover: bool = True, day: int = 20
) -> bytes:
    """The mbox of a series of commits made on top of ``tree``'s HEAD."""
    author = tree.parent / f"author-v{version}-{day}"
    if author.exists():
        shutil.rmtree(author)
    git(tree.parent, "clone", "-q", str(tree), str(author))
    base = git(author, "rev-parse", "HEAD").strip()
    for n, c in enumerate(commits):
        c.edit(author)
        git(author, "add", "-A")
        git(
            author,
            "commit",
            "-q",
            "-m",
            f"{c.subject}\n\n{c.body}",
            date=f"2026-11-{day:02d}T10:{10 + n:02d}:10+00:00",
        )
    args = [
        "format-patch",
        "--stdout",
        "--thread=shallow",
        f"--base={base}",
        "--to=linux-mm@kvack.org",
        f"--subject-prefix=PATCH v{version}" if version > 1 else "--subject-prefix=PATCH",
    ]
    if cover:
        args += ["--cover-letter"]
    if len(commits) > 1 or cover:
        args.append("--numbered")
    args.append(f"{base}..HEAD")
    mbox = git(author, *args, date=f"2026-11-{day:02d}T11:00:00+00:00")
    # git names the cover after the current second: two revisions made in
    # one second would share its Message-ID.
    mbox = mbox.replace("<cover.", f"<cover-v{version}-{day}.")
    return mbox.replace("*** SUBJECT HERE ***", commits[0].subject).encode()
