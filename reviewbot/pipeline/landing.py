"""Where each hunk of a patch sits in the end-of-series file.

A series written on mm-unstable lands on the user's tree at an offset: the
mail says ``@@ -4415,6 +4415,7 @@`` and the change sits at line 4535.
Findings carry end-of-series lines; the reply quotes the mail's hunk lines.
This module finds, for each hunk that landed, how far it moved, by looking
for its post-image (context and added lines) in the end-of-series file,
nearest to where the previous hunk's move puts it.  A hunk that a later
patch rewrote is not found and gets no shift (the reply then matches a
finding to its hunk line by text only).
"""

from __future__ import annotations

from collections.abc import Callable

from reviewbot.models import Hunk, Patch


def post_image(hunk: Hunk) -> tuple[int, list[str]]:
    """(mail line of the first post-image line, the post-image lines)."""
    lines = [ln for ln in hunk.lines if ln.kind != "-"]
    first = next((ln.new_lineno for ln in lines if ln.new_lineno), hunk.new_start)
    return first, [ln.text.rstrip() for ln in lines]


def find_block(lines: list[str], block: list[str], near: int) -> int | None:
    """The 1-based line where ``block`` occurs in ``lines``, nearest ``near``."""
    if not block:
        return None
    best: int | None = None
    head = block[0]
    for i, text in enumerate(lines):
        if text != head or lines[i : i + len(block)] != block:
            continue
        if best is None or abs(i + 1 - near) < abs(best - near):
            best = i + 1
    return best


def hunk_shifts(
    patch: Patch,
    final_lines: Callable[[str], list[str] | None],
    landed: Callable[[int, int], bool],
) -> tuple[tuple[int, int, int], ...]:
    """(file index, hunk index, shift) for each hunk of ``patch`` that landed
    and is still whole in the end-of-series file."""
    out: list[tuple[int, int, int]] = []
    for fi, fd in enumerate(patch.files):
        path = fd.new_path
        if not path or fd.is_binary:
            continue
        lines = final_lines(path)
        if lines is None:
            continue
        shift = 0
        for hi, hunk in enumerate(fd.hunks):
            if not landed(fi, hi):
                continue
            first, block = post_image(hunk)
            at = find_block(lines, block, first + shift)
            if at is None:
                continue
            shift = at - first
            out.append((fi, hi, shift))
    return tuple(out)
