"""What a review covered, in words every output shares.

The reply, the terminal summary, the JSON and the dashboard must agree on
which patches were fully reviewed, partially reviewed (which hunks not),
skipped (why), already in the tree, or missing (never received), so that
no reader takes an unreviewed patch for a clean one.  A patch that arrived
is never said to have "never arrived".
"""

from __future__ import annotations

from collections.abc import Iterable

from reviewbot.models import ApplyStatus, PatchApply, Review
from reviewbot.pipeline.partial import describe

C_SUFFIXES = (".c", ".h")
# Why the base is the base, as every output says it.
BASE_SOURCE_WORDS = {
    "trailer": "from the base-commit: trailer",
    "index": "found from the diffs' index lines: its files are the patches' pre-images",
    "--base": "from --base",
    "--range": "from --range",
    "HEAD": "the tree's HEAD",
}


SIZE_LIMIT = "size-limit"  # the check stage's finding for a file it did not read


def unread(review: Review) -> dict[int, list[str]]:
    """patch index -> the files of it that were not read (over the size limit):
    such a patch applied, but it was not reviewed whole."""
    out: dict[int, list[str]] = {}
    for f in review.findings:
        if f.checker == SIZE_LIMIT and f.patch_index is not None:
            out.setdefault(f.patch_index, []).append(f.file)
    return out


MIN_RUN = 3  # this many missing patches in a row are said as one range


def runs(indexes: Iterable[int]) -> list[list[int]]:
    """Sorted indexes cut into runs of consecutive numbers: [1, 2, 3, 7] -> [[1, 2, 3], [7]].
    One patch picked out of a stable queue of 160 is "patches 1-155/160 never
    reached reviewbot", not 155 lines."""
    out: list[list[int]] = []
    for i in sorted(set(indexes)):
        if out and out[-1][-1] == i - 1:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def gaps(review: Review) -> list[str]:
    """One sentence per patch (or failed hunk) that was not fully reviewed."""
    total = review.revision.total or len(review.revision.patches)
    patches = list(review.apply.patches) if review.apply is not None else []
    known = {pa.index for pa in patches}
    patches += [
        PatchApply(m, ApplyStatus.MISSING) for m in review.revision.missing if m not in known
    ]
    base = review.apply.base[:12] if review.apply is not None else "the base"
    not_read = unread(review)
    out: list[str] = []
    ranges = [
        run
        for run in runs(pa.index for pa in patches if pa.status is ApplyStatus.MISSING)
        if len(run) >= MIN_RUN
    ]
    first_of = {run[0]: run for run in ranges}
    in_range = {i for run in ranges for i in run}
    for pa in sorted(patches, key=lambda pa: pa.index):
        n = f"patch {pa.index}/{total}"
        if pa.index in first_of:
            run = first_of[pa.index]
            out.append(f"patches {run[0]}-{run[-1]}/{total} never reached reviewbot: not reviewed.")
        if pa.index in in_range:
            continue
        if pa.status is ApplyStatus.MISSING:
            out.append(f"{n} never reached reviewbot: not reviewed.")
        elif pa.status is ApplyStatus.SKIPPED:
            out.append(f"{n} was skipped: {pa.detail.removeprefix('skipped: ')}.")
        elif pa.status is ApplyStatus.ALREADY_APPLIED:
            out.append(f"{n} is already in {base}: nothing of it to review.")
        elif pa.status is ApplyStatus.FAILED:
            if pa.failed_hunks:
                out += [f"{n} was not reviewed: {describe(fh)}." for fh in pa.failed_hunks]
            else:
                out.append(f"{n} was not reviewed: {pa.detail}.")
        elif pa.status is ApplyStatus.PARTIAL:
            out += [f"{n} was reviewed in part, without {describe(fh)}." for fh in pa.failed_hunks]
        if pa.status.reviewed:
            out += [
                f"{n} was reviewed in part: {path} was not read (over the size limit)."
                for path in not_read.get(pa.index, [])
            ]
    return out


def status_words(pa: PatchApply) -> str:
    return {
        ApplyStatus.APPLIED: "reviewed",
        ApplyStatus.PARTIAL: "partially reviewed",
        ApplyStatus.FAILED: "not reviewed (does not apply)",
        ApplyStatus.SKIPPED: "skipped",
        ApplyStatus.MISSING: "missing (never received)",
        ApplyStatus.ALREADY_APPLIED: "already in the tree",
    }[pa.status]


def tally(review: Review) -> str:
    """ "2 of 4 patches fully reviewed, 1 partially, 1 missing"."""
    if review.apply is None:
        return ""
    counts: dict[ApplyStatus, int] = {}
    not_read = unread(review)
    for pa in review.apply.patches:
        counts[pa.status] = counts.get(pa.status, 0) + 1
    total = len(review.apply.patches)
    # applied, but a file of it over the size limit was not read: not fully reviewed
    unread_applied = sum(
        1
        for pa in review.apply.patches
        if pa.status is ApplyStatus.APPLIED and pa.index in not_read
    )
    fully = counts.get(ApplyStatus.APPLIED, 0) - unread_applied
    parts = [f"{fully} of {total} patches fully reviewed"]
    if unread_applied:
        parts.append(f"{unread_applied} with files not read (over the size limit)")
    for status, word in (
        (ApplyStatus.PARTIAL, "partially"),
        (ApplyStatus.FAILED, "not applying"),
        (ApplyStatus.SKIPPED, "skipped"),
        (ApplyStatus.ALREADY_APPLIED, "already in the tree"),
        (ApplyStatus.MISSING, "missing"),
    ):
        if counts.get(status):
            parts.append(f"{counts[status]} {word}")
    return ", ".join(parts)


def unreviewable(review: Review) -> str | None:
    """Why nothing of the series could be reviewed (no hunk of a C file
    landed), or None.  A series with no C file at all is reviewed (its mails)."""
    if review.apply is None:
        return None
    status = {pa.index: pa for pa in review.apply.patches}
    has_c = False
    for patch in review.revision.patches:
        c_files = [
            fd.new_path or fd.old_path or ""
            for fd in patch.files
            if (fd.new_path or fd.old_path or "").endswith(C_SUFFIXES)
        ]
        if not c_files:
            continue
        has_c = True
        pa = status.get(patch.index)
        if pa is None or not pa.status.reviewed:
            continue
        failed = {fh.file for fh in pa.failed_hunks if fh.hunk == 0}
        hunks_failed = {(fh.file, fh.hunk) for fh in pa.failed_hunks}
        for fd in patch.files:
            path = fd.new_path or fd.old_path or ""
            if path not in c_files or path in failed:
                continue
            if any((path, i + 1) not in hunks_failed for i in range(len(fd.hunks))):
                return None
    if not has_c:
        return None
    counts = tally(review)
    return f"nothing of the series could be reviewed: no hunk of a C file applies ({counts})"
