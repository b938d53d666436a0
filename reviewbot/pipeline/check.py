"""Run the checkers and keep only what the series introduces.

Each function the series touches (pre-image of removed lines, post-image of
added lines) is checked in the base and in every tree state.  A finding
counts when it is present at the end of the series and absent from the base
(a later patch may fix what an earlier one broke); it is attributed to the
first patch after which it appears, and its line is the one in the
end-of-series file.  Patch checkers (mail and diff format) run per patch.
In a state where nothing a function's check reads has changed, the previous
state's answer is reused (reviewbot/pipeline/incremental.py): a long series
costs what its changes cost, not states times functions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from checkers.engine import check_patch
from checkers.frontend import ParsedFile, parse
from reviewbot.models import Finding, Patch, Revision, Severity
from reviewbot.pipeline.apply import AppliedSeries, TreeState, parse_blob
from reviewbot.pipeline.callers import with_callers
from reviewbot.pipeline.incremental import IncrementalChecker
from reviewbot.pipeline.spans import SpanParser

C_SUFFIXES = (".c", ".h")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()
    # path -> the functions the series changes where it landed (the simulator's
    # gate): not the callers checked with them
    touched: dict[str, set[str]] = field(default_factory=dict)


def touched_functions(applied: AppliedSeries, revision: Revision) -> dict[str, set[str]]:
    """path -> names of the functions the applied patches change.

    The lines come from the applied result (the diff between consecutive
    tree states), not from the mail's ``@@`` numbers: a hunk that landed
    200 lines below where its author's tree had it still names its own
    function, and a hunk that did not land names none.
    """
    del revision  # the states say it all; kept for the callers' signature
    targets: dict[str, set[str]] = {}
    spans = SpanParser()
    for before, after in zip(applied.states, applied.states[1:], strict=False):
        overlay = after.view.overlay
        for change in overlay.changed_lines(before.view.tree, after.view.tree):
            if change.old_path and change.old_path.endswith(C_SUFFIXES):
                for name in _names_at(spans, before, change.old_path, change.removed):
                    targets.setdefault(change.new_path or change.old_path, set()).add(name)
            if change.new_path and change.new_path.endswith(C_SUFFIXES):
                for name in _names_at(spans, after, change.new_path, change.added):
                    targets.setdefault(change.new_path, set()).add(name)
    return targets


def _names_at(spans: SpanParser, state: TreeState, path: str, lines: set[int]) -> set[str]:
    from checkers.frontend import functions_in_lines

    if not lines:
        return set()
    data = state.view.read(path)
    if data is None:
        return set()
    return {u.name for u in functions_in_lines(spans.parse(data, path), lines)}


def _findings_in(
    state: TreeState,
    targets: dict[str, set[str]],
    renames: dict[str, str],
    checker: IncrementalChecker,
    full: bool,
) -> tuple[dict[str, Finding], list[str]]:
    def file_of(path: str) -> Callable[[], ParsedFile | None]:
        parsed: list[ParsedFile | None] = []

        def get() -> ParsedFile | None:
            if not parsed:
                data = state.view.read(path)
                if data is None and path in renames:  # the base still has the old name
                    data = state.view.read(renames[path])
                parsed.append(None if data is None else parse_blob(data, path))
            return parsed[0]

        return get

    order: list[tuple[str, str, Callable[[], ParsedFile | None]]] = []
    for path in sorted(targets):
        get = file_of(path)
        order.extend((path, name, get) for name in sorted(targets[path]))
    out, notes = checker.check_state(state.view, order, full)
    found: dict[str, Finding] = {}
    for f in out:
        found.setdefault(f.id, f)
    return found, notes


def _unanalysable(applied: AppliedSeries, revision: Revision) -> list[str]:
    """A changed C file the front end refuses (binary junk, 20 MB, 10,000
    nested parentheses) is said, not silently skipped."""
    final = applied.states[-1] if applied.states else None
    if final is None:
        return []
    out = []
    paths = {
        fd.new_path
        for p in revision.patches
        for fd in p.files
        if fd.new_path and fd.new_path.endswith(C_SUFFIXES) and not fd.is_binary
    }
    for path in sorted(paths):
        data = final.view.read(path)
        if data is None:
            continue
        pf = parse(data, path)
        if pf.refused:
            out.append(f"could not analyse {path}: {pf.refused}")
    return out


def _too_large(applied: AppliedSeries, revision: Revision) -> list[Finding]:
    """Files not read because they are over the size limit (reviewbot.git.BlobReader)."""
    if not applied.states:
        return []
    overlay = applied.states[0].view.overlay
    out = []
    for path, size in sorted(overlay.too_large.items()):
        patch = next(
            (p for p in revision.patches for fd in p.files if path in (fd.new_path, fd.old_path)),
            None,
        )
        out.append(
            Finding(
                checker="size-limit",
                severity=Severity.QUESTION,
                file=path,
                line=0,
                function="",
                message=f"{path} is {size} bytes, over the limit of {overlay.reader.limit}: "
                "reviewbot did not read it, so it is not reviewed",
                patch_index=patch.index if patch else None,
                patch_message_id=patch.message_id if patch else None,
                key=path,
            )
        )
    return out


def _landed(f: Finding, patch: Patch, shifts: tuple[tuple[int, int, int], ...]) -> Finding:
    """A patch checker's finding on a hunk line (trailing whitespace, say),
    moved to where that hunk landed in the end-of-series file."""
    if not f.line or not f.file:
        return f
    by_hunk = {(fi, hi): shift for fi, hi, shift in shifts}
    for fi, fd in enumerate(patch.files):
        if f.file != fd.new_path:
            continue
        for hi, hunk in enumerate(fd.hunks):
            if (fi, hi) in by_hunk and any(ln.new_lineno == f.line for ln in hunk.lines):
                d = by_hunk[(fi, hi)]
                moved = tuple(replace(e, line=e.line + d) if e.line else e for e in f.evidence)
                return replace(f, line=f.line + d, evidence=moved)
    return f


def _per_state(
    states: list[TreeState],
    targets: dict[str, set[str]],
    renames: dict[str, str],
    notes: list[str],
) -> list[dict[str, Finding]]:
    """The findings of the targets in every tree state, as far as attribution
    needs them.  A finding is attributed to the first state that has it, and
    only findings of the end state that the base lacks are attributed: so the
    base and the end state are checked whole, and the states in between only
    for the functions those new findings are in (every target when a finding
    names no function of the targets).  Notes are those of the states checked."""
    state_notes: list[list[str]] = [[] for _ in states]
    # Results are reused where what a function reads is unchanged (incremental.py).
    checker = IncrementalChecker()
    base, state_notes[0] = _findings_in(states[0], targets, renames, checker, True)
    final, state_notes[-1] = _findings_in(states[-1], targets, renames, checker, True)
    new = [f for fid, f in final.items() if fid not in base]
    middle: dict[str, set[str]] = {}
    for f in new:
        if f.function not in targets.get(f.file, ()):
            middle = targets
            break
        middle.setdefault(f.file, set()).add(f.function)
    per_state = [base]
    for i, state in enumerate(states[1:-1], start=1):
        found: dict[str, Finding] = {}
        if middle:
            found, state_notes[i] = _findings_in(state, middle, renames, checker, False)
        per_state.append(found)
    per_state.append(final)
    log.debug("check: %d function checks, %d reused", checker.checked, checker.reused)
    for batch in state_notes:  # in the order of the states
        notes.extend(n for n in batch if n not in notes)
    return per_state


def run(applied: AppliedSeries, revision: Revision) -> CheckResult:
    notes: list[str] = []
    findings: list[Finding] = list(applied.findings)
    touched = touched_functions(applied, revision)
    # Callers of a changed helper may break without being touched: checked,
    # but not "touched" (the simulator's gate runs on what the series changes).
    targets, caller_notes = with_callers(touched, applied)
    notes.extend(caller_notes)
    notes.extend(_unanalysable(applied, revision))
    renames = {
        fd.new_path: fd.old_path
        for p in revision.patches
        for fd in p.files
        if fd.is_rename and fd.new_path and fd.old_path
    }
    if targets and len(applied.states) > 1:
        per_state = _per_state(applied.states, targets, renames, notes)
        base_ids, final = per_state[0], per_state[-1]
        by_msgid = {p.index: p for p in revision.patches}
        for fid, finding in final.items():
            if fid in base_ids:
                continue
            first = next(i for i, found in enumerate(per_state) if fid in found)
            patch: Patch = by_msgid[applied.states[first].patch_index]
            findings.append(
                replace(finding, patch_index=patch.index, patch_message_id=patch.message_id)
            )
    shifts = {pa.index: pa.shifts for pa in applied.result.patches}
    for patch in revision.patches:
        out = check_patch(patch)
        findings.extend(_landed(f, patch, shifts.get(patch.index, ())) for f in out.findings)
        notes.extend(out.notes)
    findings.extend(_too_large(applied, revision))
    seen: set[str] = set()
    unique = []
    for f in sorted(findings, key=lambda f: (f.patch_index or 0, f.file, f.line, f.checker)):
        if f.id not in seen:
            seen.add(f.id)
            unique.append(f)
    return CheckResult(tuple(unique), tuple(notes), touched)
