"""Where a file's functions are, state after state, for ``touched_functions()``.

Naming the functions a patch changes needs every state's function spans,
one parse per changed file per state, in a pass before the checkers run.
A patch changes a few lines, so the previous state's tree of the same path
is edited and tree-sitter reparses only what changed (the same tree as a
parse from scratch, a few times faster).  These trees serve only the spans:
the checkers get theirs from ``checkers.frontend.parse()``.
"""

from __future__ import annotations

from tree_sitter import Parser, Point, Tree

from checkers.frontend import C_LANGUAGE, ParsedFile, normalise, unanalysable


def _point(data: bytes, offset: int) -> Point:
    row = data.count(b"\n", 0, offset)
    col = offset - (data.rfind(b"\n", 0, offset) + 1)
    return Point(row, col)


class SpanParser:
    """Parses successive versions of files, reusing each path's last tree."""

    def __init__(self) -> None:
        self._parser = Parser(C_LANGUAGE)
        self._last: dict[str, tuple[bytes, bytes, Tree]] = {}  # path -> source, normalised, tree
        self._files: dict[bytes, ParsedFile] = {}  # source -> its file, for the last two

    def parse(self, data: bytes, path: str) -> ParsedFile:
        """``data`` as ``frontend.parse()`` would read it (functions and lines)."""
        known = self._files.get(data)
        if known is not None and known.path == path:
            return known
        last = self._last.get(path)
        refused = unanalysable(data)
        if refused is not None:
            pf = ParsedFile(path, data, b"", self._parser.parse(b""), refused)
            self._keep(path, data, pf)
            return pf
        norm = normalise(data)
        tree = self._parser.parse(norm) if last is None else self._reparse(last[1], last[2], norm)
        pf = ParsedFile(path=path, source=data, normalised=norm, tree=tree)
        self._last[path] = (data, norm, tree)
        self._keep(path, data, pf)
        return pf

    def _keep(self, path: str, data: bytes, pf: ParsedFile) -> None:
        if pf.refused is not None:
            self._last.pop(path, None)
        self._files[data] = pf
        while len(self._files) > 2 * max(len(self._last), 1) + 2:
            del self._files[next(iter(self._files))]

    def _reparse(self, old: bytes, old_tree: Tree, new: bytes) -> Tree:
        start = _common_prefix(old, new)
        tail = _common_suffix(old[start:], new[start:])
        end_old, end_new = len(old) - tail, len(new) - tail
        edited = old_tree.copy()  # the previous state's file keeps its own tree
        edited.edit(
            start_byte=start,
            old_end_byte=end_old,
            new_end_byte=end_new,
            start_point=_point(old, start),
            old_end_point=_point(old, end_old),
            new_end_point=_point(new, end_new),
        )
        return self._parser.parse(new, edited)


def _common_prefix(a: bytes, b: bytes) -> int:
    """Length of the common prefix (a binary search of slice comparisons)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: bytes, b: bytes) -> int:
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo
