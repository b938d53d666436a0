"""Check a function again only in the tree states where what it reads changed.

A 500-patch series has 501 tree states and a few hundred target functions;
running every checker on every target in every state is quadratic (a patch
changes one function, the other targets are as they were).  The checkers'
answer for a function depends on:

- its own text, the text of the same file's functions it names (following
  names from body to body), and the file's text outside all function bodies
  (declarations, macros);
- what it asks the tree view (``find_function()``, ``read()``), recorded
  through a proxy while it runs.

None of these is a line number, and a finding's id does not depend on its
line, so when all of them are unchanged the previous state's finding ids are
reused.  A function whose check gave a note ("could not analyse ...", whose
text may name lines) is always checked again; so is every function of the
base and of the final state, whose findings (lines included) are reported.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from checkers.base import TreeView
from checkers.engine import check_functions
from checkers.frontend import FunctionUnit, ParsedFile, all_functions
from reviewbot.models import Finding

_IDENT = re.compile(rb"[A-Za-z_]\w*")
# comments, strings and characters name no function a checker looks up
_NOT_CODE = re.compile(rb'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def _sha(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@dataclass(frozen=True)
class FileSummary:
    """What a file's functions may see of it, by content (not by line)."""

    outside: str  # digest of the text outside every function definition
    texts: dict[str, str]  # name -> digest of the definition find_function() picks
    names: dict[str, frozenset[str]]  # name -> the file's functions that definition names

    closures: dict[str, str] = field(default_factory=dict, compare=False)

    def closure(self, name: str) -> str:
        """Digest of the text of ``name`` and of the file's functions it
        reaches by naming them, transitively."""
        hit = self.closures.get(name)
        if hit is None:
            hit = self.closures[name] = self._closure(name)
        return hit

    def _closure(self, name: str) -> str:
        seen = {name}
        todo = [name]
        while todo:
            for other in self.names.get(todo.pop(), frozenset()):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        parts = sorted(f"{n}:{self.texts[n]}" for n in seen if n in self.texts)
        return _sha("\0".join(parts).encode())


_summaries: dict[tuple[str, int, str], FileSummary] = {}
# id(ParsedFile) -> (that file, its summary): the file is held so that its id
# cannot be reused while it is here
_recent: dict[int, tuple[ParsedFile, FileSummary]] = {}


def summary(pf: ParsedFile) -> FileSummary:
    recent = _recent.get(id(pf))
    if recent is not None and recent[0] is pf:
        return recent[1]
    k = (pf.path, len(pf.source), _sha(pf.source))
    hit = _summaries.get(k)
    if hit is None:
        if len(_summaries) > 4096:
            _summaries.clear()
        hit = _summaries[k] = _summarise(pf)
    if len(_recent) >= 16:
        del _recent[next(iter(_recent))]
    _recent[id(pf)] = (pf, hit)
    return hit


def _summarise(pf: ParsedFile) -> FileSummary:
    spans = sorted((u.node.start_byte, u.node.end_byte) for u in all_functions(pf))
    outside = hashlib.sha1()
    pos = 0
    for start, end in spans:
        if start >= pos:
            outside.update(pf.source[pos:start])
            outside.update(b"\0")
        pos = max(pos, end)
    outside.update(pf.source[pos:])
    texts: dict[str, str] = {}
    names: dict[str, frozenset[str]] = {}
    words: dict[str, set[bytes]] = {}
    for name, node in pf.functions().items():
        raw = pf.source[node.start_byte : node.end_byte]
        texts[name] = _sha(raw)
        words[name] = set(_IDENT.findall(_NOT_CODE.sub(b" ", raw)))
    defined = {name.encode(): name for name in texts}
    for name, found in words.items():
        names[name] = frozenset(defined[w] for w in found.intersection(defined))
    return FileSummary(outside.hexdigest(), texts, names)


def unit_key(pf: ParsedFile, name: str) -> tuple[object, ...]:
    s = summary(pf)
    return (pf.path, name, s.outside, s.closure(name))


Dep = tuple[str, str, object]  # ("fn" | "read", argument, what it gave)


def _answer(view: TreeView, dep_kind: str, arg: str) -> object:
    if dep_kind == "fn":
        unit: FunctionUnit | None = view.find_function(arg)
        return None if unit is None else unit_key(unit.file, unit.name)
    data: bytes | None = view.read(arg)
    return None if data is None else _sha(data)


class RecordingView:
    """A state's tree view that notes what each function's check asked it.

    One per state, kept for the whole check: some checkers cache by
    ``id(tree)``, which must stay the state's for as long as they run."""

    def __init__(self, view: TreeView) -> None:
        self.view = view
        self.deps: list[Dep] | None = None

    def read(self, path: str) -> bytes | None:
        data: bytes | None = self.view.read(path)
        if self.deps is not None:
            self.deps.append(("read", path, None if data is None else _sha(data)))
        return data

    def find_function(self, name: str) -> FunctionUnit | None:
        unit: FunctionUnit | None = self.view.find_function(name)
        if self.deps is not None:
            key = None if unit is None else unit_key(unit.file, unit.name)
            self.deps.append(("fn", name, key))
        return unit


@dataclass
class _Entry:
    key: tuple[object, ...]
    deps: list[Dep]
    findings: tuple[Finding, ...]


@dataclass
class IncrementalChecker:
    """Findings of the target functions, state after state."""

    entries: dict[tuple[str, str], _Entry] = field(default_factory=dict)
    # every state's recorder lives as long as the check (see RecordingView)
    recorders: list[RecordingView] = field(default_factory=list)
    checked: int = 0
    reused: int = 0

    def check_state(
        self,
        view: TreeView,
        targets: list[tuple[str, str, Callable[[], ParsedFile | None]]],
        full: bool,
    ) -> tuple[list[Finding], list[str]]:
        """(findings, notes) of the targets (path, name, their file) in one
        state, in the order ``check_functions()`` over them all gives.
        ``full``: check every target (its findings' lines are reported)."""
        recorder = RecordingView(view)
        self.recorders.append(recorder)
        answers: dict[tuple[str, str], object] = {}

        def answer(kind: str, arg: str) -> object:
            if (kind, arg) not in answers:
                answers[(kind, arg)] = _answer(view, kind, arg)
            return answers[(kind, arg)]

        findings: list[Finding] = []
        notes: list[str] = []
        for path, name, parsed in targets:
            pf = parsed()
            if pf is None:
                continue
            node = pf.functions().get(name)
            if node is None:
                self.entries.pop((path, name), None)
                continue
            key = unit_key(pf, name)
            entry = self.entries.get((path, name))
            if (
                not full
                and entry is not None
                and entry.key == key
                and all(answer(kind, arg) == got for kind, arg, got in entry.deps)
            ):
                self.reused += 1
                findings.extend(entry.findings)
                continue
            self.checked += 1
            recorder.deps = []
            out = check_functions([FunctionUnit(pf, name, node)], recorder)
            findings.extend(out.findings)
            notes.extend(out.notes)
            if out.notes:
                self.entries.pop((path, name), None)
            else:
                self.entries[(path, name)] = _Entry(key, recorder.deps, out.findings)
            recorder.deps = None
        return findings, notes
