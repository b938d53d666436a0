"""Apply what can be applied of a patch, and say why the rest could not.

A real series meets a tree it was not written on: one hunk of an arch
header or of Kconfig has other context, or the tree already carries a
backport of part of it.  A reviewer still reviews the mm/ hunks, so this
module applies a patch whole when it can, and else hunk by hunk (file by
file for creations, deletions, renames and binary files), into the
throwaway index.  Each hunk that does not land gets a cause in words:

- already in the tree: the hunk applies in reverse;
- file absent (or already there, for a creation);
- needs hunk #n of an earlier patch, which did not apply: the hunk expects
  a line that the earlier hunk would have added and the file lacks;
- context differs at line N: the first line of the best match that is not
  what the hunk expects;
- its context is at line N, but git refuses it there: no context after the
  change (git applies it only at the end of the file), a header saying line
  1 (only at the start), or a difference only in trailing whitespace or CR.
"""

from __future__ import annotations

from dataclasses import dataclass

from reviewbot.git import Overlay
from reviewbot.models import ApplyStatus, FailedHunk, Patch
from reviewbot.pipeline.hunks import (
    FileSection,
    added,
    first_difference,
    old_start,
    pre_image,
    significant,
    split_diff,
)

ALREADY = "already"
NEEDS = "needs"
FAILED = "failed"


@dataclass(frozen=True)
class Lost:
    """A hunk of an earlier patch that did not land, and what it would add."""

    patch: int
    total: int
    file: str
    hunk: int
    header: str
    creates: bool
    lines: frozenset[str]

    def words(self) -> str:
        what = f"hunk #{self.hunk} ({self.header}) of {self.file}" if self.hunk else self.file
        return f"{what} from patch {self.patch}/{self.total}, which did not apply"


@dataclass(frozen=True)
class Outcome:
    status: ApplyStatus
    detail: str
    failed: tuple[FailedHunk, ...]
    landed: frozenset[tuple[str, int]]  # (path, 0-based hunk index) that landed
    lost: tuple[Lost, ...]  # what later patches may need and will not find


def describe(fh: FailedHunk) -> str:
    """One failed hunk in one sentence (the text summary's and the reply's)."""
    what = f"hunk #{fh.hunk} ({fh.header}) of {fh.file}" if fh.hunk else fh.file
    return f"{what} does not apply to {fh.base[:12]}: {fh.cause}"


def _all_hunks(patch: Patch) -> frozenset[tuple[str, int]]:
    return frozenset(
        (fd.new_path or fd.old_path or "", hi)
        for fd in patch.files
        for hi in range(max(1, len(fd.hunks)))
    )


def apply_patch(overlay: Overlay, base: str, patch: Patch, lost: list[Lost]) -> Outcome:
    """Apply ``patch`` to the overlay's index, whole or in part."""
    ok, message = overlay.apply(patch.diff_text)
    if ok:
        return Outcome(ApplyStatus.APPLIED, "", (), _all_hunks(patch), ())
    back, _ = overlay.apply(patch.diff_text, reverse=True, check_only=True)
    if back:
        detail = f"already in {base[:12]}: the whole patch applies in reverse"
        return Outcome(ApplyStatus.ALREADY_APPLIED, detail, (), frozenset(), ())
    sections = split_diff(patch.diff_text)
    if not sections:
        cause = _git_error(message) or "git cannot read this diff"
        fh = FailedHunk("", 0, "", base, cause)
        return Outcome(ApplyStatus.FAILED, f"{cause} (base {base[:12]})", (fh,), frozenset(), ())
    failed: list[tuple[str, FailedHunk]] = []
    landed: set[tuple[str, int]] = set()
    new_lost: list[Lost] = []
    for section in sections:
        units = (
            [(0, section.text())]
            if section.whole
            else [(i + 1, section.hunk_patch(i)) for i in range(len(section.hunks))]
        )
        for n, text in units:
            ok, message = overlay.apply(text)
            if ok:
                hunks = range(max(1, len(section.hunks))) if n == 0 else [n - 1]
                landed.update((section.path, h) for h in hunks)
                continue
            kind, cause = _diagnose(overlay, section, n, text, message, lost=lost)
            header = section.hunk_header(n - 1) if n else section.header.split("\n", 1)[0]
            failed.append((kind, FailedHunk(section.path, n, header, base, cause)))
            if kind != ALREADY:
                body = "".join(section.hunks) if n == 0 else section.hunks[n - 1]
                new_lost.append(
                    Lost(
                        patch.index,
                        patch.total,
                        section.path,
                        n,
                        header,
                        section.old_path is None,
                        frozenset(t.strip() for t in added(body) if significant(t)),
                    )
                )
    return _outcome(base, failed, landed, new_lost)


def _outcome(
    base: str,
    failed: list[tuple[str, FailedHunk]],
    landed: set[tuple[str, int]],
    lost: list[Lost],
) -> Outcome:
    hunks = tuple(fh for _, fh in failed)
    kinds = {k for k, _ in failed}
    if not failed:
        return Outcome(ApplyStatus.APPLIED, "", (), frozenset(landed), ())
    if landed:
        n = len(failed)
        detail = (
            f"{n} hunk{'s' if n > 1 else ''} did not apply to {base[:12]}; "
            "the others were applied and reviewed"
        )
        return Outcome(ApplyStatus.PARTIAL, detail, hunks, frozenset(landed), tuple(lost))
    if kinds == {ALREADY}:
        detail = f"already in {base[:12]}: each hunk applies in reverse"
        return Outcome(ApplyStatus.ALREADY_APPLIED, detail, hunks, frozenset(), ())
    if NEEDS in kinds:
        cause = next(fh.cause for k, fh in failed if k == NEEDS)
        return Outcome(ApplyStatus.SKIPPED, f"skipped: it {cause}", hunks, frozenset(), tuple(lost))
    more = len(failed) - 1
    detail = describe(hunks[0]) + (f" (and {more} more)" if more else "")
    return Outcome(ApplyStatus.FAILED, detail, hunks, frozenset(), tuple(lost))


def _git_error(message: str) -> str:
    for line in message.splitlines():
        if line.startswith(("error: ", "fatal: ")):
            return line.split(": ", 1)[1].strip()
    return ""


def _diagnose(
    overlay: Overlay,
    section: FileSection,
    n: int,
    text: str,
    message: str,
    *,
    lost: list[Lost],
) -> tuple[str, str]:
    """(kind, cause in words) for a unit that did not apply."""
    refused = _git_error(message)
    if "over the limit" in refused:  # reviewbot's own refusal (limits.max_blob_bytes)
        return FAILED, refused
    back, _ = overlay.apply(text, reverse=True, check_only=True)
    if back:
        return ALREADY, "already in the tree (the change applies in reverse)"
    index = overlay.entries_in_index()
    old, new = section.old_path, section.new_path
    if old is None:
        if new in index:
            return FAILED, f"{new} already exists in the base"
        return FAILED, _git_error(message) or "git cannot create it"
    if old not in index:
        need = next((x for x in reversed(lost) if x.creates and x.file == old), None)
        if need is not None:
            return NEEDS, f"needs {old}, which {need.words()}"
        return FAILED, f"file absent: {old} is not in the base"
    if n == 0:
        return FAILED, _git_error(message) or "git cannot apply this file's change"
    hunk = section.hunks[n - 1]
    data = overlay.read_index_file(old) or b""
    current = data.decode("utf-8", "replace").splitlines()
    present = {ln.strip() for ln in current}
    expected = pre_image(hunk)
    wanted = {t.strip() for t in expected if significant(t) and t.strip() not in present}
    need = next((x for x in reversed(lost) if x.file == old and wanted & x.lines), None)
    if need is not None:
        return NEEDS, f"needs {need.words()}"
    line, want, have = first_difference(current, expected, old_start(hunk))
    if line == 0:
        error = _git_error(message)
        if error and "patch failed" not in error and "while searching" not in error:
            return FAILED, f"git cannot read it: {error}"
        return FAILED, f"its context is nowhere in {old}"
    if want.rstrip() == have.rstrip():
        return FAILED, _matches_but_refused(hunk, current, expected, line, old)
    return FAILED, (
        f"context differs at line {line} of {old}: the patch expects "
        f"'{want.strip()}', the tree has '{have.strip()}'"
    )


def _matches_but_refused(
    hunk: str, current: list[str], expected: list[str], line: int, path: str
) -> str:
    """Why git refuses a hunk whose pre-image is in the file at ``line``
    (ignoring trailing whitespace): it used to read "the patch expects 'x',
    the tree has 'x'"."""
    at = line - 1
    cr = any("\r" in ln for ln in hunk.split("\n")[1:] if ln[:1] in (" ", "-"))
    if cr or any(
        at + k < len(current) and current[at + k] != text for k, text in enumerate(expected)
    ):
        return f"its context at line {line} of {path} differs only in trailing whitespace or CR"
    body = [ln for ln in hunk.splitlines()[1:] if not ln.startswith("\\")]
    trailing = len(body) - len(
        "".join("c" if ln[:1] in (" ", "") else "x" for ln in body).rstrip("c")
    )
    if not trailing:
        return (
            f"its context is at line {line} of {path}, but it has no context after "
            "its change, so git applies it only at the end of the file"
        )
    if old_start(hunk) <= 1 and line > 1:
        return (
            f"its context is at line {line} of {path}, but its header says line "
            f"{old_start(hunk)}, so git applies it only at the start of the file"
        )
    return f"its context is at line {line} of {path}, but git does not apply it there"
