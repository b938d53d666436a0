"""A patch's diff as units git can apply one at a time: files and hunks.

``git apply --reject`` would apply what it can, but with ``--cached`` it
writes ``*.rej`` files into the user's worktree and leaves the index alone;
so a patch that does not apply whole is cut here into one small patch per
hunk (per file for creations, deletions, renames, mode changes and binary
files, which git applies whole), each applied to the throwaway index on
its own.  This module only reads text: it never runs git.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

# "@@ -40,3 +40,3 @@ vm_fault_t demo_swap_fault(...)": counts default to 1; a
# number of more than 10 digits is no line number (int() refuses 4300 digits)
_HUNK_RE = re.compile(r"^@@ -(\d{1,10})(?:,(\d{1,10}))? \+(\d{1,10})(?:,(\d{1,10}))? @@")
# A line that many places of a file have ("}", "\treturn 0;") votes for at
# most this many of them.
MAX_COPIES = 2000
# Header lines after which git applies the file as one unit.
_WHOLE_FILE = (
    "new file mode",
    "deleted file mode",
    "rename from",
    "copy from",
    "old mode",
    "GIT binary patch",
    "Binary files",
)


@dataclass(frozen=True)
class FileSection:
    header: str  # "diff --git ...", "index ...", "--- a/x", "+++ b/x"
    old_path: str | None  # None for a created file
    new_path: str | None  # None for a deleted file
    hunks: tuple[str, ...]  # each from its "@@" line, newline-terminated
    whole: bool  # applied as one unit

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""

    def text(self) -> str:
        return self.header + "".join(self.hunks)

    def hunk_patch(self, i: int) -> str:
        return self.header + self.hunks[i]

    def hunk_header(self, i: int) -> str:
        return self.hunks[i].split("\n", 1)[0]


def _path(line: str, prefix: str) -> str | None:
    p = line[len(prefix) :].split("\t", maxsplit=1)[0].strip()
    if p == "/dev/null":
        return None
    return p[2:] if p.startswith(("a/", "b/")) else p


def split_diff(diff: str) -> list[FileSection]:
    """The file sections of a diff, in order, each with its hunks."""
    lines = diff.splitlines(keepends=True)
    sections: list[FileSection] = []
    header: list[str] = []
    hunks: list[list[str]] = []
    remaining = (0, 0)  # old and new lines still expected in the current hunk

    def flush() -> None:
        # a hunk cut short by the next file ends with its file: its count lied
        nonlocal remaining
        remaining = (0, 0)
        if not header and not hunks:
            return
        old = new = None
        text = "".join(header)
        for ln in header:
            if ln.startswith("--- "):
                old = _path(ln, "--- ")
            elif ln.startswith("+++ "):
                new = _path(ln, "+++ ")
        if old is None and new is None and header and header[0].startswith("diff --git "):
            parts = header[0].split()
            old = new = _path(parts[3], "") if len(parts) > 3 else None
            # a binary or mode-only section names its paths in git's header only
            if any(ln.startswith("new file mode") for ln in header):
                old = None
            if any(ln.startswith("deleted file mode") for ln in header):
                new = None
        whole = not hunks or any(ln.startswith(_WHOLE_FILE) for ln in header)
        sections.append(FileSection(text, old, new, tuple("".join(h) for h in hunks), whole))
        header.clear()
        hunks.clear()

    for i, ln in enumerate(lines):
        in_hunk = remaining[0] > 0 or remaining[1] > 0
        if in_hunk and ln[:1] in (" ", "-", "+", "\n"):
            old_left, new_left = remaining
            if ln[:1] in (" ", "\n"):
                remaining = (old_left - 1, new_left - 1)
            elif ln[:1] == "-":
                remaining = (old_left - 1, new_left)
            else:
                remaining = (old_left, new_left - 1)
            hunks[-1].append(ln)
            continue
        if ln.startswith("\\") and hunks:  # "\ No newline at end of file"
            hunks[-1].append(ln)
            continue
        starts_file = ln.startswith("diff --git ") or (
            ln.startswith("--- ")
            and i + 1 < len(lines)
            and lines[i + 1].startswith("+++ ")
            and (hunks or not any(h.startswith("--- ") for h in header))
            and not (header and header[0].startswith("diff --git ") and not hunks)
        )
        if starts_file:
            flush()
            header.append(ln)
        elif m := _HUNK_RE.match(ln):
            remaining = (int(m.group(2) or 1), int(m.group(4) or 1))
            hunks.append([ln])
        elif hunks:
            # text after the last hunk of a section (a stray line): ignored
            continue
        else:
            header.append(ln)
    flush()
    return [s for s in sections if s.old_path or s.new_path]


def significant(text: str) -> bool:
    """A line whose presence says something (not "}", "", "return 0;")."""
    t = text.strip()
    return len(t) >= 8 and bool(re.search(r"[A-Za-z_]\w{2,}", t))


def pre_image(hunk: str) -> list[str]:
    """The lines a hunk expects in the file (context and removed), without
    their one-character prefix."""
    out = []
    for ln in hunk.splitlines()[1:]:
        if ln[:1] in (" ", "-"):
            out.append(ln[1:])
        elif ln == "":
            out.append("")
    return out


def added(hunk: str) -> list[str]:
    return [ln[1:] for ln in hunk.splitlines()[1:] if ln.startswith("+")]


def old_start(hunk: str) -> int:
    m = _HUNK_RE.match(hunk)
    return int(m.group(1)) if m else 1


def first_difference(file_lines: list[str], expected: list[str], near: int) -> tuple[int, str, str]:
    """Where ``expected`` (a hunk's pre-image) best matches the file, and the
    first line there that differs: (1-based line, expected text, file text).

    The best position is the one with the most equal lines, the nearest to
    ``near`` among equals; line 0 when no line of it is in the file.  Each
    non-blank expected line votes for the positions its copies imply, so a
    hunk of any size costs its matches, not file lines times hunk lines.
    """
    if not expected:
        return 0, "", ""
    stripped = [ln.rstrip() for ln in file_lines]
    want = [ln.rstrip() for ln in expected]
    where: dict[str, list[int]] = {}
    for i, text in enumerate(stripped):
        where.setdefault(text, []).append(i)
    votes: Counter[int] = Counter()
    for k, text in enumerate(want):
        copies = where.get(text, []) if text.strip() else []
        for i in copies[:MAX_COPIES]:
            if i >= k:
                votes[i - k] += 1
    if not votes:
        return 0, want[0], ""
    best_at = min(votes, key=lambda pos: (-votes[pos], abs(pos + 1 - near)))
    for k, text in enumerate(want):
        line = best_at + k
        if line >= len(stripped):
            return line + 1, text, "(end of file)"
        if stripped[line] != text:
            return line + 1, text, stripped[line]
    return best_at + 1, want[0], stripped[best_at]
