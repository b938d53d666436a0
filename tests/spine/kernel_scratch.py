"""Series on the real Linux 6.12 tree, made at test time, the tree untouched.

A *scratch repo* is an empty git repository that borrows the kernel tree's
objects as alternates: commits made in it (the author's series, a copy of the
tree with other code above a function, a tree with an arch header changed)
live in its own object store, in the test's temp dir.  Reviews run against
the scratch repo as the user's tree; nothing is ever written to the kernel
tree.  The edits are written here, in kernel style; none is copied.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from reviewbot.git import run_bytes, run_text

AUTHOR_ENV = {
    "GIT_AUTHOR_NAME": "A Developer",
    "GIT_AUTHOR_EMAIL": "dev@example.org",
    "GIT_COMMITTER_NAME": "A Developer",
    "GIT_COMMITTER_EMAIL": "dev@example.org",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass(frozen=True)
class Edit:
    """Replace ``anchor`` (quoted kernel text, must occur once) in ``path``."""

    path: str
    anchor: str
    replacement: str


class ScratchRepo:
    def __init__(self, kernel_tree: Path, where: Path):
        self.path = where
        self._git_raw("init", "-q", "-b", "master", str(where), cwd=where.parent)
        objects = self._git("rev-parse", "--git-common-dir").strip()
        kernel_objects = run_text(
            kernel_tree, "rev-parse", "--path-format=absolute", "--git-dir"
        ).strip()
        alternates = where / objects / "objects" / "info" / "alternates"
        alternates.write_text(f"{kernel_objects}/objects\n")
        self.kernel_head = run_text(kernel_tree, "rev-parse", "HEAD").strip()
        self._index = where.parent / f"{where.name}.index"

    def _git_raw(self, *args: str, cwd: Path, input: bytes | None = None) -> str:
        return run_text(cwd, *args, input=input, env=dict(os.environ, **AUTHOR_ENV))

    def _git(self, *args: str, input: bytes | None = None, index: bool = False) -> str:
        env = dict(os.environ, **AUTHOR_ENV)
        if index:
            env["GIT_INDEX_FILE"] = str(self._index)
        return run_text(self.path, *args, input=input, env=env)

    def read(self, commit: str, path: str) -> str:
        return self._git("cat-file", "blob", f"{commit}:{path}")

    def commit(
        self,
        parent: str | None,
        files: dict[str, str],
        message: str,
        *,
        tree_of: str | None = None,
        date: str = "2026-11-20T10:10:00+00:00",
        orphan: bool = False,
    ) -> str:
        """A commit of ``tree_of`` (default: the parent) with ``files`` replaced;
        no parent makes an orphan (a copy of a tree state, no history)."""
        self._git("read-tree", tree_of or parent or self.kernel_head, index=True)
        for path, text in files.items():
            sha = self._git("hash-object", "-w", "--stdin", input=text.encode()).strip()
            self._git("update-index", "--add", "--cacheinfo", f"100644,{sha},{path}", index=True)
        tree = self._git("write-tree", index=True).strip()
        parents = ["-p", parent] if parent and not orphan else []
        env = dict(os.environ, **AUTHOR_ENV, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        return run_text(self.path, "commit-tree", tree, *parents, "-m", message, env=env).strip()

    def edit(
        self,
        parent: str,
        edits: list[Edit],
        message: str,
        *,
        date: str = "2026-11-20T10:10:00+00:00",
        orphan: bool = False,
    ) -> str:
        """A commit on ``parent`` with ``edits`` made; ``orphan``: the same
        tree, without the parent (a copy of the tree state, no history)."""
        files: dict[str, str] = {}
        for e in edits:
            text = files.get(e.path) or self.read(parent, e.path)
            assert text.count(e.anchor) == 1, f"{e.path}: anchor not found once: {e.anchor!r}"
            files[e.path] = text.replace(e.anchor, e.replacement, 1)
        return self.commit(parent, files, message, date=date, orphan=orphan)

    def set_head(self, commit: str) -> None:
        self._git("update-ref", "refs/heads/master", commit)

    def series(self, base: str, tip: str, *extra: str) -> bytes:
        return run_bytes(
            self.path,
            "format-patch",
            "--stdout",
            "--no-signature",
            "--thread=shallow",
            "--to=linux-mm@kvack.org",
            *extra,
            f"{base}..{tip}",
            env=dict(os.environ, **AUTHOR_ENV),
        )


def signed(subject: str, body: str = "Explain the change.") -> str:
    return f"{subject}\n\n{body}\n\nSigned-off-by: A Developer <dev@example.org>"
