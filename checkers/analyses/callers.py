"""Who calls what across mm/ and include/: a reverse call index of a tree.

When a patch changes what a helper guarantees (a batch helper that now
ignores a bit, a lookup that may now return NULL), what becomes wrong shows
in its callers, which the patch does not touch.  The check stage asks this
index for the callers of every function a series changes and checks them
too (reviewbot/pipeline/check.py).

The index is built from text, not from a parse: kernel style puts a
function's opening and closing braces in column 0, so a definition is a
header ending in ``)`` followed by a line ``{`` and its body ends at the
next line ``}``.  Calls are the identifiers followed by ``(`` in a body
(macros included, which is what a reviewer wants: ``pte_batch_*``-style
helpers are often macros' callees).  Building it for mm/ and the include/
directories where helpers live reads about 2,700 files (23 MB of Linux
6.12) in well under 2 s; it is cached per tree: in memory, and on disk under
``$REVIEWBOT_CACHE_DIR`` (default ``$XDG_CACHE_HOME/reviewbot`` or
``~/.cache/reviewbot``), keyed by the tree's commit or, for a directory, by
the paths, sizes and modification times of its files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Where callers of mm helpers live (the same places the TreeView searches).
INDEX_GLOBS = (
    "mm/*.c",
    "mm/*.h",
    "mm/*/*.c",
    "mm/*/*.h",
    "include/linux/*.h",
    "include/linux/*/*.h",
    "include/asm-generic/*.h",
)
INDEX_DIRS = ("mm", "include/linux", "include/asm-generic")
VERSION = 1

_DEF = re.compile(
    rb"(?m)^(?:[A-Za-z_][^\n;{}#]*?[\s*])?([A-Za-z_]\w*)\((?:[^;{}()]|\([^;{}()]*\))*\)"
    rb"[^;{}()]*?\n\{\n"
)
_CALL = re.compile(rb"\b([A-Za-z_]\w*)\s*\(")
_KEYWORDS = frozenset({b"if", b"for", b"while", b"switch", b"return", b"sizeof", b"do"})


@dataclass
class CallerIndex:
    callers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # callee -> (path, fn)
    files: int = 0
    functions: int = 0

    def of(self, name: str) -> list[tuple[str, str]]:
        """(path, function) of every function whose body calls ``name``."""
        return list(self.callers.get(name, ()))

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": VERSION,
                "files": self.files,
                "functions": self.functions,
                "callers": self.callers,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> CallerIndex | None:
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            return None
        callers = {k: [(str(p), str(f)) for p, f in v] for k, v in doc["callers"].items()}
        return cls(callers, int(doc["files"]), int(doc["functions"]))


def build(files: Iterable[tuple[str, bytes]]) -> CallerIndex:
    rev: dict[str, set[tuple[str, str]]] = {}
    index = CallerIndex()
    for path, data in files:
        index.files += 1
        for m in _DEF.finditer(data):
            start = m.end()
            end = data.find(b"\n}\n", start - 1)
            if end < 0:
                continue
            name = m.group(1).decode()
            index.functions += 1
            for callee in set(_CALL.findall(data, start, end)):
                if callee not in _KEYWORDS:
                    rev.setdefault(callee.decode(), set()).add((path, name))
    index.callers = {k: sorted(v) for k, v in rev.items()}
    return index


def cache_dir() -> Path:
    env = os.environ.get("REVIEWBOT_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "reviewbot"


_memory: dict[str, CallerIndex] = {}


def _cached(key: str) -> CallerIndex | None:
    hit = _memory.get(key)
    if hit is not None:
        return hit
    path = cache_dir() / "callers" / f"{key}.json"
    try:
        hit = CallerIndex.from_json(path.read_text())
    except OSError:
        hit = None
    if hit is not None:
        _memory[key] = hit
    return hit


def _store(key: str, index: CallerIndex) -> None:
    _memory[key] = index
    path = cache_dir() / "callers" / f"{key}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(index.to_json())
        tmp.replace(path)
    except OSError:
        pass  # a read-only home: the memory cache still holds it


def for_directory(root: Path) -> CallerIndex:
    """The index of a kernel tree on disk (``reviewbot lint``'s tree)."""
    root = Path(root).resolve()
    paths = [p for g in INDEX_GLOBS for p in sorted(root.glob(g))]
    sig = hashlib.sha1(str(root).encode())
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            continue
        sig.update(f"{p.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    key = "dir-" + sig.hexdigest()
    hit = _cached(key)
    if hit is not None:
        return hit

    def files() -> Iterable[tuple[str, bytes]]:
        for p in paths:
            try:
                yield p.relative_to(root).as_posix(), p.read_bytes()
            except OSError:
                continue

    index = build(files())
    _store(key, index)
    return index


def for_commit(
    commit: str,
    list_files: Callable[[], list[str]],
    read_files: Callable[[list[str]], Iterable[tuple[str, bytes]]],
) -> CallerIndex:
    """The index of a commit: ``list_files()`` gives its paths under
    INDEX_DIRS, ``read_files(paths)`` their (path, bytes)."""
    key = "git-" + commit
    hit = _cached(key)
    if hit is not None:
        return hit
    paths = [p for p in list_files() if p.endswith((".c", ".h")) and _indexed(p)]
    index = build(read_files(paths))
    _store(key, index)
    return index


def _indexed(path: str) -> bool:
    """The same files INDEX_GLOBS selects (one or two levels under mm/,
    include/linux/; one under include/asm-generic/)."""
    parts = path.split("/")
    if parts[0] == "mm":
        return 2 <= len(parts) <= 3
    if parts[:2] == ["include", "linux"]:
        return 3 <= len(parts) <= 4
    return parts[:2] == ["include", "asm-generic"] and len(parts) == 3
