"""Range-diff between two revisions, from stored patch text only.

``b4 diff`` shows how v(N) differs from v(N-1) with ``git range-diff``: each
patch of one revision is paired with its counterpart in the other and the
two diffs are diffed.  The dashboard does the same without a git tree:
pairs by git patch-id (unchanged), then by subject, then by position, and a
unified diff of the two patches' diff text for each changed pair.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# Line numbers move between revisions for reasons that say nothing about the
# patch itself (a rebase); range-diff hides them, so do we.
_HUNK_NUMBERS = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")
_INDEX = re.compile(r"^index [0-9a-f]+\.\.[0-9a-f]+")
MAX_LINES = 20_000


class PatchLike(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def subject(self) -> str: ...
    @property
    def patch_id(self) -> str | None: ...
    @property
    def diff(self) -> str: ...


class PairKind(enum.Enum):
    SAME = "="  # identical patch-id
    CHANGED = "!"
    ADDED = ">"  # only in the newer revision
    DROPPED = "<"  # only in the older revision


@dataclass(frozen=True)
class RangeDiffPair:
    kind: PairKind
    old_index: int | None
    new_index: int | None
    subject: str
    lines: tuple[str, ...] = ()  # the unified diff of the two diffs


def _normalise(diff: str) -> list[str]:
    out = []
    for line in diff.splitlines():
        if _INDEX.match(line):
            continue
        out.append(_HUNK_NUMBERS.sub("@@", line))
    return out


def _pair(
    old: Sequence[PatchLike], new: Sequence[PatchLike]
) -> list[tuple[int | None, int | None]]:
    left = dict(enumerate(old))
    right = dict(enumerate(new))
    pairs: list[tuple[int | None, int | None]] = []

    def match(field: str) -> None:
        for j, pn in list(right.items()):
            for i, po in list(left.items()):
                a, b = getattr(po, field), getattr(pn, field)
                if a and a == b:
                    pairs.append((i, j))
                    del left[i], right[j]
                    break

    match("patch_id")
    match("subject")
    for i, j in zip(sorted(left), sorted(right), strict=False):
        pairs.append((i, j))
    paired_old = {i for i, _ in pairs}
    paired_new = {j for _, j in pairs}
    pairs += [(i, None) for i in left if i not in paired_old]
    pairs += [(None, j) for j in right if j not in paired_new]
    return pairs


def range_diff(
    old: Sequence[PatchLike],
    new: Sequence[PatchLike],
    old_label: str = "old",
    new_label: str = "new",
) -> list[RangeDiffPair]:
    """Pairs in the newer revision's order, dropped patches last."""
    out: list[RangeDiffPair] = []
    for i, j in _pair(old, new):
        po = old[i] if i is not None else None
        pn = new[j] if j is not None else None
        if po is None and pn is not None:
            out.append(RangeDiffPair(PairKind.ADDED, None, pn.index, pn.subject))
            continue
        if pn is None and po is not None:
            out.append(RangeDiffPair(PairKind.DROPPED, po.index, None, po.subject))
            continue
        assert po is not None and pn is not None
        a, b = _normalise(po.diff), _normalise(pn.diff)
        same = (po.patch_id and po.patch_id == pn.patch_id) or a == b
        if same and po.subject == pn.subject:
            out.append(RangeDiffPair(PairKind.SAME, po.index, pn.index, pn.subject))
            continue
        if len(a) + len(b) > MAX_LINES:
            # difflib is quadratic on unlike input: a tree-wide rename would stall a page
            lines = [f"(not shown: {len(a)} and {len(b)} lines of diff)"]
            out.append(
                RangeDiffPair(PairKind.CHANGED, po.index, pn.index, pn.subject, tuple(lines))
            )
            continue
        lines = list(
            difflib.unified_diff(
                a, b, f"{old_label} {po.index}", f"{new_label} {pn.index}", n=3, lineterm=""
            )
        )
        if po.subject != pn.subject:
            lines = [f"-Subject: {po.subject}", f"+Subject: {pn.subject}", *lines]
        out.append(RangeDiffPair(PairKind.CHANGED, po.index, pn.index, pn.subject, tuple(lines)))
    out.sort(key=lambda p: (p.new_index is None, p.new_index or 0, p.old_index or 0))
    return out
