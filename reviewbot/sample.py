"""The bundled sample: a mini kernel-style tree and a 3-revision patch series.

The demo, the checker tests and the simulator tests all need a git tree whose
base commit is the one named by the ``base-commit:`` trailer of the sample
mboxes.  That only works if building the tree from ``sample/tree/`` gives the
same commit hash on every machine, so the author, committer, dates and message
are fixed here, and the hash is also computed in Python (git's object format)
to decide, without running git, whether an existing tree can be reused.

    python -m reviewbot.sample DEST                 # prints the base commit hash
    python -m reviewbot.sample DEST --revision 2    # base + v2 applied, prints HEAD
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reviewbot.errors import TreeError, UsageError
from reviewbot.git import GitError, isolated_env, run_text

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample"
TREE_DIR = SAMPLE_DIR / "tree"
SERIES_DIR = SAMPLE_DIR / "series"
REVISIONS_DIR = SAMPLE_DIR / "revisions"
EXPECTED_TOML = SAMPLE_DIR / "expected.toml"
VERSIONS = (1, 2, 3)

BASE_AUTHOR = "Sample Tree"
BASE_EMAIL = "sample-tree@example.org"
BASE_DATE = "1793534400 +0000"  # 2026-11-01 12:00:00 UTC
BASE_BRANCH = "master"
BASE_MESSAGE = (
    "sample: mini mm tree for reviewbot\n"
    "\n"
    "A small kernel-style tree, written for reviewbot, with the swap-in fault\n"
    "path (mm/memory.c), the mm-private helpers (mm/internal.h), swap slot\n"
    "accounting (mm/swapfile.c) and the headers they use.  Not Linux.\n"
)
# Written into .git of a tree built here, so that a stale one may be replaced.
MARKER = "reviewbot-sample"


@dataclass(frozen=True)
class SeededBug:
    """One bug seeded in a revision of the sample series (sample/expected.toml)."""

    bug: str
    patch: int
    file: str
    line: int
    function: str
    text: str
    what: str
    evidence: tuple[tuple[str, int, str, str], ...] = ()  # (file, line, text, role)
    exposed_by: str = ""  # a fault that shows the bug happening


def series_mbox(version: int) -> Path:
    """The mbox of revision ``version`` (1, 2 or 3) of the sample series."""
    if version not in VERSIONS:
        raise UsageError(f"the sample series has revisions 1-3, not {version}")
    return SERIES_DIR / f"v{version}.mbox"


def load_expected() -> dict[str, Any]:
    with EXPECTED_TOML.open("rb") as fh:
        return tomllib.load(fh)


def expected_bugs(version: int) -> list[SeededBug]:
    """The bugs seeded in one revision, with their post-image line numbers."""
    series_mbox(version)  # validates the version
    bugs = []
    for entry in load_expected()[f"v{version}"].get("bugs", []):
        evidence = tuple(
            (e["file"], int(e["line"]), e["text"], e["role"]) for e in entry.get("evidence", [])
        )
        bugs.append(
            SeededBug(
                bug=entry["bug"],
                patch=int(entry["patch"]),
                file=entry["file"],
                line=int(entry["line"]),
                function=entry["function"],
                text=entry["text"],
                what=entry["what"],
                evidence=evidence,
                exposed_by=entry.get("exposed_by", ""),
            )
        )
    return bugs


# --- git's object format, so the base hash is known without running git ------


def _git_hash(kind: str, payload: bytes) -> bytes:
    return hashlib.sha1(kind.encode() + b" %d\0" % len(payload) + payload).digest()


def _tree_hash(directory: Path) -> bytes:
    entries: list[tuple[bytes, bytes]] = []  # (sort key, entry)
    for child in directory.iterdir():
        name = child.name.encode()
        if child.is_symlink():
            raise TreeError(f"sample tree holds a symlink: {child}")
        if child.is_dir():
            digest = _tree_hash(child)
            entries.append((name + b"/", b"40000 " + name + b"\0" + digest))
        else:
            mode = b"100755" if os.access(child, os.X_OK) else b"100644"
            digest = _git_hash("blob", child.read_bytes())
            entries.append((name, mode + b" " + name + b"\0" + digest))
    entries.sort()
    return _git_hash("tree", b"".join(entry for _key, entry in entries))


def _commit_payload(tree_hex: str) -> bytes:
    ident = f"{BASE_AUTHOR} <{BASE_EMAIL}> {BASE_DATE}"
    return f"tree {tree_hex}\nauthor {ident}\ncommitter {ident}\n\n{BASE_MESSAGE}".encode()


def sample_base_commit() -> str:
    """The hash that build_sample_tree() produces, computed from sample/tree/."""
    if not TREE_DIR.is_dir():
        raise TreeError(f"sample tree missing: {TREE_DIR}")
    tree_hex = _tree_hash(TREE_DIR).hex()
    return _git_hash("commit", _commit_payload(tree_hex)).hex()


# --- building the repository -------------------------------------------------


git_env = isolated_env  # an environment in which git ignores the user's and the system's config


def _git(
    cwd: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> str:
    try:
        return run_text(cwd, *args, input=stdin, env=env or git_env()).strip()
    except GitError as exc:
        err = exc.stderr.strip().splitlines()
        raise TreeError(f"git {args[0]} failed in {cwd}: {err[-1] if err else exc.code}") from None


def _is_reusable(dest: Path, commit: str) -> bool:
    if not (dest / ".git").is_dir():
        return False
    try:
        head = _git(dest, "rev-parse", "--verify", "-q", "HEAD")
        dirty = _git(dest, "status", "--porcelain", "--untracked-files=no")
    except TreeError:
        return False
    return head == commit and not dirty


def build_sample_tree(dest: Path) -> str:
    """Build (or reuse) the sample git repository at ``dest``; return its commit.

    A directory that is not empty and was not built here is never touched.
    """
    dest = Path(dest)
    commit = sample_base_commit()
    if dest.exists():
        if _is_reusable(dest, commit):
            return commit
        if (dest / ".git" / MARKER).exists():
            shutil.rmtree(dest)
        elif not dest.is_dir() or any(dest.iterdir()):
            raise UsageError(f"{dest} exists and is not the sample tree: remove it or pick another")
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(TREE_DIR, dest, dirs_exist_ok=True, copy_function=shutil.copyfile)
    _git(dest, "init", "-q", "-b", BASE_BRANCH)
    (dest / ".git" / MARKER).write_text(commit + "\n")
    _git(dest, "add", "-A", ".")
    tree = _git(dest, "write-tree")
    env = git_env()
    env.update(
        GIT_AUTHOR_NAME=BASE_AUTHOR,
        GIT_AUTHOR_EMAIL=BASE_EMAIL,
        GIT_AUTHOR_DATE=BASE_DATE,
        GIT_COMMITTER_NAME=BASE_AUTHOR,
        GIT_COMMITTER_EMAIL=BASE_EMAIL,
        GIT_COMMITTER_DATE=BASE_DATE,
    )
    built = _git(dest, "commit-tree", tree, stdin=BASE_MESSAGE.encode(), env=env)
    _git(dest, "update-ref", f"refs/heads/{BASE_BRANCH}", built)
    if built != commit:
        raise TreeError(f"sample tree built as {built}, expected {commit}: check file modes")
    return built


def build_revision_tree(dest: Path, version: int) -> str:
    """The sample tree with revision ``version`` of the series applied; return HEAD.

    One commit per patch, made by ``git am`` from the mbox (the cover letter is
    dropped), with fixed committer and dates: the hashes are the same on every
    machine.  The base commit is HEAD~3.  For tests that need the patched tree
    without going through the review pipeline.
    """
    dest = Path(dest)
    mbox = series_mbox(version)
    base = sample_base_commit()
    tag = f"v{version} {base}\n"
    marker = dest / ".git" / MARKER
    if marker.exists() and marker.read_text() == tag:
        try:
            below = _git(dest, "rev-parse", "--verify", "-q", "HEAD~3")
            dirty = _git(dest, "status", "--porcelain", "--untracked-files=no")
            if below == base and not dirty:
                return _git(dest, "rev-parse", "HEAD")
        except TreeError:
            pass
    build_sample_tree(dest)
    env = git_env()
    env.update(GIT_COMMITTER_NAME=BASE_AUTHOR, GIT_COMMITTER_EMAIL=BASE_EMAIL)
    _git(dest, "am", "-q", "--empty=drop", "--committer-date-is-author-date", str(mbox), env=env)
    marker.write_text(tag)
    return _git(dest, "rev-parse", "HEAD")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reviewbot.sample",
        description="Build the sample kernel tree as a git repository; print its HEAD.",
    )
    parser.add_argument("dest", type=Path, help="where to build it")
    parser.add_argument(
        "--revision",
        type=int,
        choices=VERSIONS,
        help="also apply this revision of the sample series (one commit per patch)",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.revision:
            print(build_revision_tree(args.dest, args.revision))
        else:
            print(build_sample_tree(args.dest))
    except UsageError as exc:
        print(f"reviewbot.sample: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
