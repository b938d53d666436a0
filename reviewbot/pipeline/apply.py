"""Apply a revision, patch by patch, without touching the user's tree.

``applied(tree, revision, base)`` yields the ApplyResult and one readable
tree state per step (base, after patch 1, ..., after the last patch that
applied).  The work happens in a git overlay (reviewbot.git.Overlay): a
temporary index holding only the files the series touches and a temporary
object store, so a full kernel tree is never checked out and the user's
branch, HEAD, index, status and worktree list never change.

A patch that does not apply whole is applied hunk by hunk (partial.py):
the hunks that land are reviewed, each one that does not is named with its
cause, and the later patches go on on top of that state; one is skipped
only when it needs a hunk that did not land.  A diff whose path leaves the
tree (``../``, absolute, ``.git/``) or goes through a symlink is refused
before git sees it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from checkers.frontend import FunctionUnit, ParsedFile, find_function, parse
from reviewbot.errors import TreeError
from reviewbot.git import Overlay, Repo
from reviewbot.mail import diff_paths
from reviewbot.models import (
    ApplyResult,
    ApplyStatus,
    Finding,
    Patch,
    PatchApply,
    Revision,
    Severity,
)
from reviewbot.pipeline.hunks import split_diff
from reviewbot.pipeline.landing import hunk_shifts
from reviewbot.pipeline.partial import Lost, Outcome, apply_patch

APPLY_CHECKER = "apply"
SYMLINK_MODE = "120000"


class GitTreeView:
    """One tree state as the checkers see it (``read``, ``find_function``).

    Files the series touches are read from this state's tree; every other
    file is unchanged by the series and read from the base commit.
    """

    def __init__(self, overlay: Overlay, base: str, tree: str, touched: frozenset[str], label: str):
        self.overlay = overlay
        self.base = base
        self.tree = tree
        self.touched = touched
        self.label = label
        self._functions: dict[str, FunctionUnit | None] = {}

    def read(self, path: str) -> bytes | None:
        if refusal(path):
            return None
        source = self.tree if path in self.touched else self.base
        return self.overlay.read_blob(source, path)

    def find_function(self, name: str) -> FunctionUnit | None:
        if name not in self._functions:
            self._functions[name] = self._find(name)
        return self._functions[name]

    def _find(self, name: str) -> FunctionUnit | None:
        touched_c = sorted(p for p in self.touched if p.endswith((".c", ".h")))
        for path in touched_c:
            unit = self._in_file(path, name)
            if unit is not None:
                return unit
        # A full-tree grep of a kernel commit takes ~20 s: look near the
        # touched files and in include/ first.
        near = sorted({str(Path(p).parent) + "/" for p in touched_c if "/" in p} | {"include/"})
        candidates = self.overlay.grep_definitions(self.base, name, near)
        if not candidates and self.overlay.repo.is_small():
            candidates = self.overlay.grep_definitions(self.base, name, ["*.c", "*.h"])
        for path in candidates:
            if path not in self.touched:
                unit = self._in_file(path, name)
                if unit is not None:
                    return unit
        return None

    def _in_file(self, path: str, name: str) -> FunctionUnit | None:
        data = self.read(path)
        if data is None:
            return None
        return find_function(parse_blob(data, path), name)


# path -> (the bytes last parsed for it, their parse).  The overlay hands out
# one bytes object per blob while it caches it, so a hit by identity spares
# hashing the file (``parse()``'s cache key) on every look-up of every state.
_last_parse: dict[str, tuple[bytes, ParsedFile]] = {}


def parse_blob(data: bytes, path: str) -> ParsedFile:
    """``checkers.frontend.parse(data, path)``, remembered for the same bytes object."""
    hit = _last_parse.get(path)
    if hit is not None and hit[0] is data:
        return hit[1]
    pf = parse(data, path)
    if len(_last_parse) >= 16:
        del _last_parse[next(iter(_last_parse))]
    _last_parse[path] = (data, pf)
    return pf


@dataclass(frozen=True)
class TreeState:
    label: str  # "base", "1/3", ...
    patch_index: int  # 0 for the base
    view: GitTreeView


@dataclass
class AppliedSeries:
    result: ApplyResult
    states: list[TreeState]
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    touched: frozenset[str] = frozenset()


def refusal(path: str) -> str | None:
    """Why a diff path may not be written, or None when it is fine."""
    if not path or path.startswith("/") or "\\" in path or "\0" in path:
        return f"path {path!r} is absolute or malformed"
    parts = path.split("/")
    if ".." in parts or "." in parts or "" in parts:
        return f"path {path} leaves the tree"
    if parts[0].lower() == ".git" or any(p.lower() == ".git" for p in parts):
        return f"path {path} writes into .git"
    return None


GUESS_LIMIT = 500  # commits touching the series' files, newest first


def choose_base(
    repo: Repo,
    revision: Revision,
    base: str | None,
    *,
    base_from: str = "--base",
    guess: bool = True,
) -> tuple[str, str, list[str]]:
    """(commit, where it came from, notes): the base-commit: trailer when the
    tree has it; else the commit whose files are the diffs' pre-images (their
    ``index`` lines, b4's guess-base); else ``base`` (named ``base_from``:
    --base or --range); else HEAD.  The notes say why a rule did not hold.

    ``--range A..B`` names its base: no guess is made over it.
    """
    notes: list[str] = []
    # A base the user named is checked whichever rule wins: a typo is said,
    # not hidden behind a trailer or a guess that happened to hold.
    named = repo.resolve(base) if base else None
    if base and named is None:
        raise TreeError(f"{base_from} {base}: not a commit of {repo.path}")
    unused = f"{base_from} {base} not used: " if base and base_from == "--base" else ""
    if revision.base_commit:
        sha = repo.resolve(revision.base_commit)
        if sha:
            if unused and sha != named:
                notes.append(f"{unused}the base-commit: trailer names {sha[:12]}")
            return sha, "trailer", notes
        notes.append(f"base-commit {revision.base_commit[:12]} is not in the tree")
    if guess and base_from != "--range":
        images = pre_images(revision)
        found = repo.find_base(images, GUESS_LIMIT) if images else None
        if found:
            if unused and found != named:
                notes.append(f"{unused}the diffs' index lines match {found[:12]}")
            return found, "index", notes
        if images:
            notes.append(
                f"no commit of {repo.path} (HEAD and its last {GUESS_LIMIT} changes to the "
                "series' files) has the blobs of the diffs' index lines"
            )
    if named is not None:
        return named, base_from, notes
    return repo.head(), "HEAD", notes


def pre_images(revision: Revision) -> dict[str, str]:
    """path -> the blob id its first diff in the series starts from ("" for a
    file the series creates); {} when a diff has no ``index`` line."""
    images: dict[str, str] = {}
    for patch in revision.patches:
        for section in split_diff(patch.diff_text):
            path = section.old_path or section.new_path
            if not path or path in images or (section.new_path in images):
                continue
            m = re.search(r"^index ([0-9a-f]{7,64})\.\.", section.header, re.M)
            if m is None:
                return {}
            blob = m.group(1)
            images[path] = "" if set(blob) == {"0"} else blob
    return images


def _symlinked(overlay: Overlay, commit: str, path: str, index_modes: dict[str, str]) -> bool:
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts))]
    if any(index_modes.get(p) == SYMLINK_MODE for p in prefixes):
        return True
    entries = overlay.entries(commit, prefixes) if prefixes else {}
    return any(mode == SYMLINK_MODE for mode, _ in entries.values())


def _finding(patch: Patch, severity: Severity, path: str, message: str) -> Finding:
    return Finding(
        checker=APPLY_CHECKER,
        severity=severity,
        file=path,
        line=0,
        function="",
        message=message,
        patch_index=patch.index,
        patch_message_id=patch.message_id,
        key=f"{patch.index}:{message}",
    )


@contextmanager
def applied(
    tree: Path | str | Repo,
    revision: Revision,
    base: str | None = None,
    *,
    already_applied: bool = False,
    base_from: str = "--base",
    guess_base: bool = True,
) -> Iterator[AppliedSeries]:
    """Apply ``revision`` on its base; see the module docstring.

    ``already_applied``: the base already contains the series (an author
    checking their own branch, ``b4 prep --check``): the series is reversed
    out of it first to obtain the state before it.
    """
    repo = tree if isinstance(tree, Repo) else Repo(tree)
    base_sha, base_source, notes = choose_base(
        repo, revision, base, base_from=base_from, guess=guess_base
    )
    touched = frozenset(p for patch in revision.patches for p in diff_paths(patch.diff_text))
    safe_touched = frozenset(p for p in touched if refusal(p) is None)
    with Overlay(repo) as overlay:
        overlay.load(base_sha, safe_touched)
        if already_applied:
            for patch in reversed(revision.patches):
                ok, message = overlay.apply(patch.diff_text, reverse=True)
                if not ok:
                    raise TreeError(
                        f"patch {patch.index} is neither applicable to nor "
                        f"contained in {base_sha[:12]}: {message.strip()}"
                    )
            notes.append(
                f"the series is already in {base_sha[:12]}; reviewed as reversed out of it"
            )
        base_tree = overlay.write_tree()
        states = [
            TreeState("base", 0, GitTreeView(overlay, base_sha, base_tree, safe_touched, "base"))
        ]
        statuses: dict[int, PatchApply] = {
            m: PatchApply(m, ApplyStatus.MISSING, "never arrived") for m in revision.missing
        }
        findings: list[Finding] = []
        lost: list[Lost] = []
        landed: dict[int, frozenset[tuple[str, int]]] = {}
        for patch in revision.patches:
            status, finding, outcome = _apply_one(overlay, base_sha, patch, lost)
            if finding is not None:
                findings.append(finding)
            if outcome is not None:
                lost.extend(outcome.lost)
                landed[patch.index] = outcome.landed
            if status.status.reviewed:
                label = f"{patch.index}/{patch.total}"
                states.append(
                    TreeState(
                        label,
                        patch.index,
                        GitTreeView(overlay, base_sha, overlay.write_tree(), safe_touched, label),
                    )
                )
            statuses[patch.index] = status
        statuses = _with_shifts(statuses, revision, landed, states[-1].view)
        result = ApplyResult(
            base=base_sha,
            base_source=base_source,
            patches=tuple(statuses[k] for k in sorted(statuses)),
        )
        yield AppliedSeries(result, states, findings, notes, safe_touched)


def _with_shifts(
    statuses: dict[int, PatchApply],
    revision: Revision,
    landed: dict[int, frozenset[tuple[str, int]]],
    final: GitTreeView,
) -> dict[int, PatchApply]:
    """Each reviewed patch's hunks, located in the end-of-series files."""
    cache: dict[str, list[str] | None] = {}

    def lines(path: str) -> list[str] | None:
        if path not in cache:
            data = final.read(path)
            text = data.decode("utf-8", "replace") if data is not None else None
            cache[path] = [ln.rstrip() for ln in text.splitlines()] if text is not None else None
        return cache[path]

    out = dict(statuses)
    for patch in revision.patches:
        pa = statuses.get(patch.index)
        if pa is None or not pa.status.reviewed:
            continue
        done = landed.get(patch.index, frozenset())

        def hit(
            fi: int, hi: int, patch: Patch = patch, done: frozenset[tuple[str, int]] = done
        ) -> bool:
            fd = patch.files[fi]
            return (fd.new_path or fd.old_path or "", hi) in done

        out[patch.index] = replace(pa, shifts=hunk_shifts(patch, lines, hit))
    return out


def _apply_one(
    overlay: Overlay, base: str, patch: Patch, lost: list[Lost]
) -> tuple[PatchApply, Finding | None, Outcome | None]:
    if not patch.diff_text.strip():
        msg = "this mail carries no diff"
        return (
            PatchApply(patch.index, ApplyStatus.FAILED, msg),
            _finding(patch, Severity.QUESTION, "", f"{msg}: was the patch lost?"),
            None,
        )
    index_modes = {p: m for p, (m, _) in overlay.entries_in_index().items()}
    for path in sorted(diff_paths(patch.diff_text)):
        why = refusal(path)
        if why is None and _symlinked(overlay, base, path, index_modes):
            why = f"path {path} goes through a symbolic link"
        if why is not None:
            detail = f"refused: {why}"
            return (
                PatchApply(patch.index, ApplyStatus.FAILED, detail),
                _finding(
                    patch, Severity.BUG, path, f"{why}; reviewbot refused to apply this patch"
                ),
                None,
            )
    outcome = apply_patch(overlay, base, patch, lost)
    return PatchApply(patch.index, outcome.status, outcome.detail, outcome.failed), None, outcome
