"""Reading stored unified diffs: touched paths, hunks, code context.

The web and storage only hold the diff text of each patch (no git tree), so
the few things they need from a diff are read here, tolerant of anything:
a mangled diff yields fewer hunks, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_DIFF_GIT = re.compile(r"^diff --git a/(.+?) b/(.+)$")
# more than 10 digits is no line number (int() refuses 4300 digits): no hunk
_HUNK = re.compile(r"^@@ -(\d{1,10})(?:,(\d{1,10}))? \+(\d{1,10})(?:,(\d{1,10}))? @@(.*)$")


@dataclass
class DiffLine:
    kind: str  # " ", "+", "-"
    text: str
    old: int | None
    new: int | None


@dataclass
class DiffHunk:
    path: str
    header: str
    lines: list[DiffLine] = field(default_factory=list)


def _strip_prefix(path: str) -> str | None:
    path = path.strip()
    if path == "/dev/null":
        return None
    if path[:2] in ("a/", "b/"):
        return path[2:]
    return path


def paths(diff: str) -> list[str]:
    """Files a diff touches (post-image name, pre-image for deletions)."""
    seen: dict[str, None] = {}
    old: str | None = None
    for line in diff.splitlines():
        m = _DIFF_GIT.match(line)
        if m:
            seen.setdefault(m.group(2), None)
        elif line.startswith("--- "):
            old = _strip_prefix(line[4:].split("\t")[0])
        elif line.startswith("+++ "):
            new = _strip_prefix(line[4:].split("\t")[0])
            name = new or old
            if name:
                seen.setdefault(name, None)
    return list(seen)


def hunks(diff: str) -> list[DiffHunk]:
    """Every hunk with its line numbers (old and new side)."""
    out: list[DiffHunk] = []
    path = ""
    cur: DiffHunk | None = None
    old_no = new_no = 0
    old_left = new_left = 0
    for line in diff.splitlines():
        if cur is not None and (old_left > 0 or new_left > 0):
            kind = line[:1] if line[:1] in ("+", "-", " ") else " "
            if line.startswith("\\"):
                continue
            text = line[1:] if line[:1] in ("+", "-", " ") else line
            if kind == "+":
                cur.lines.append(DiffLine(kind, text, None, new_no))
                new_no += 1
                new_left -= 1
            elif kind == "-":
                cur.lines.append(DiffLine(kind, text, old_no, None))
                old_no += 1
                old_left -= 1
            else:
                cur.lines.append(DiffLine(kind, text, old_no, new_no))
                old_no += 1
                new_no += 1
                old_left -= 1
                new_left -= 1
            continue
        m = _DIFF_GIT.match(line)
        if m:
            path = m.group(2)
            continue
        if line.startswith("+++ "):
            path = _strip_prefix(line[4:].split("\t")[0]) or path
            continue
        h = _HUNK.match(line)
        if h:
            old_no, new_no = int(h.group(1)), int(h.group(3))
            old_left = int(h.group(2)) if h.group(2) is not None else 1
            new_left = int(h.group(4)) if h.group(4) is not None else 1
            cur = DiffHunk(path, line)
            out.append(cur)
    return out


def context(diff: str, path: str, line: int, radius: int = 3) -> list[dict[str, object]]:
    """The hunk lines within ``radius`` of post-image ``line`` of ``path``.

    Each is ``{"old", "new", "kind", "text", "target"}``; empty when no hunk
    of the diff covers that line.
    """
    for hunk in hunks(diff):
        if hunk.path != path:
            continue
        news = [i for i, dl in enumerate(hunk.lines) if dl.new == line]
        if not news:
            continue
        at = news[0]
        lo, hi = max(0, at - radius), min(len(hunk.lines), at + radius + 1)
        return [
            {
                "old": dl.old,
                "new": dl.new,
                "kind": dl.kind,
                "text": dl.text,
                "target": i == at,
            }
            for i, dl in enumerate(hunk.lines[lo:hi], start=lo)
        ]
    return []
