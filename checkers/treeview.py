"""A TreeView over a plain directory: what ``reviewbot lint`` and the check
stage (on the applied worktree) give the checkers to look up helpers.

``find_function(name)`` looks first in the files already parsed, then in the
places a kernel helper is usually defined (mm/*.h, mm/*.c, include/linux/...),
reading each candidate file only when a cheap byte search says it could
contain the definition.  Results are cached per name.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from checkers.frontend import FunctionUnit, ParsedFile, find_function, parse, unanalysable

# Where helpers are defined, most likely first.
SEARCH_GLOBS = (
    "mm/*.h",
    "mm/*.c",
    "include/linux/*.h",
    "include/linux/*/*.h",
    "include/asm-generic/*.h",
    "mm/*/*.c",
    "mm/*/*.h",
)
MAX_FILE_BYTES = 4 * 1024 * 1024
# Parsed files and found functions kept alive (each holds a whole tree): bounded,
# so that linting a large directory does not hold every tree of it in memory.
MAX_PARSED = 64
MAX_FOUND = 1024


class DirectoryTreeView:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._parsed: OrderedDict[str, ParsedFile] = OrderedDict()
        self._found: OrderedDict[str, FunctionUnit | None] = OrderedDict()
        self._candidates: list[Path] | None = None
        self._contents: dict[Path, bytes] = {}  # candidate files, read once
        self._globbed = 0

    def read(self, path: str) -> bytes | None:
        p = (self.root / path).resolve()
        try:
            p.relative_to(self.root.resolve())
        except ValueError:
            return None  # outside the tree
        try:
            return p.read_bytes() if p.is_file() else None
        except OSError:
            return None

    def add(self, pf: ParsedFile) -> None:
        """Make an already parsed file the first place to look."""
        self._parsed[pf.path] = pf
        self._parsed.move_to_end(pf.path)
        while len(self._parsed) > MAX_PARSED:
            self._parsed.popitem(last=False)

    def parsed(self, path: str) -> ParsedFile | None:
        pf = self._parsed.get(path)
        if pf is not None:
            return pf
        data = self.read(path)
        if data is None or unanalysable(data) is not None:
            return None
        pf = parse(data, path)
        self.add(pf)
        return pf

    def find_function(self, name: str) -> FunctionUnit | None:
        if name in self._found:
            self._found.move_to_end(name)
            return self._found[name]
        unit = None
        for pf in reversed(list(self._parsed.values())):  # the most recent first
            unit = find_function(pf, name)
            if unit is not None:
                break
        if unit is None:
            unit = self._search(name)
        self._found[name] = unit
        while len(self._found) > MAX_FOUND:
            self._found.popitem(last=False)
        return unit

    def _search(self, name: str) -> FunctionUnit | None:
        # "name(" at the start of a line or after a return type: a definition shape.
        pattern = re.compile(rb"(?m)^[^\s#/*].*\b" + re.escape(name.encode()) + rb"\s*\(")
        needle = name.encode()
        for path in self._candidate_files():
            rel = path.relative_to(self.root).as_posix()
            if rel in self._parsed:
                continue
            data = self._contents.get(path)
            if data is None:
                try:
                    data = path.read_bytes() if path.stat().st_size <= MAX_FILE_BYTES else b""
                except OSError:
                    data = b""
                self._contents[path] = data
            if needle not in data or pattern.search(data) is None:
                continue
            pf = self.parsed(rel)
            if pf is None:
                continue
            unit = find_function(pf, name)
            if unit is not None:
                return unit
        return None

    def _candidate_files(self) -> Iterator[Path]:
        """Candidate files, one glob at a time (most searches end in mm/*.h)."""
        if self._candidates is None:
            self._candidates = []
            self._globbed = 0
        yield from list(self._candidates)
        while self._globbed < len(SEARCH_GLOBS):
            glob = SEARCH_GLOBS[self._globbed]
            self._globbed += 1
            seen = set(self._candidates)
            fresh = [p for p in sorted(self.root.glob(glob)) if p not in seen]
            self._candidates.extend(fresh)
            yield from fresh
