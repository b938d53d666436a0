"""``reviewbot b4-check``: one patch mail on stdin, reviewed against the tree.

b4 runs check commands inside the repository with one RFC 2822 message on
stdin (``review-perpatch-check-cmd``, ``am-perpatch-check-cmd``,
``prep-perpatch-check-cmd``).  ``b4 review`` reads a JSON array of
``{"tool", "status", "summary", "url", "details"}``; ``b4 am`` and ``b4 prep
--check`` read checkpatch-style lines (``--terse``), where "ERROR:" marks a
failure.  An author's branch already contains the patch (``b4 prep``): when
it does not apply on HEAD but reverses out of it, it is reviewed that way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reviewbot import mail
from reviewbot.errors import FetchError
from reviewbot.git import Repo
from reviewbot.models import ApplyStatus, Finding, Review, Revision, Severity, simulation_not_run
from reviewbot.pipeline import coverage, review_revision
from reviewbot.pipeline.fetch import MAX_MBOX_BYTES

TOOL = "reviewbot"
_STATUS = {Severity.BUG: "fail", Severity.NOTE: "pass"}
_LEVEL = {Severity.BUG: "ERROR", Severity.POSSIBLE_BUG: "WARNING"}


def read_patch(data: bytes) -> tuple[mail.MailItem, Revision]:
    messages = mail.split_mbox(data)
    if not messages:
        raise FetchError("stdin: no mail")
    item = mail.message_to_item(messages[0])
    if item is None or not item.patch.diff_text.strip():
        raise FetchError("stdin: the mail carries no patch")
    patch = item.patch
    revision = Revision(
        version=item.info.version,
        patches=(patch,),
        base_commit=item.trailers.get("base-commit"),
        total=patch.total,
    )
    return item, revision


def review_stdin(data: bytes, tree: Path) -> Review:
    item, revision = read_patch(data)
    repo = Repo(tree)
    series = mail.series_of(revision, item.trailers.get("change-id"))
    # A lone patch k of n is checked on the tree as it is, not on the
    # series' base-commit: patches 1..k-1 are usually already there.
    revision = Revision(version=revision.version, patches=revision.patches, total=revision.total)
    review = review_revision(series, revision, repo.path, simulate=True, guess_base=False)
    failed = review.apply is not None and any(
        p.status in (ApplyStatus.FAILED, ApplyStatus.ALREADY_APPLIED) for p in review.apply.patches
    )
    if failed and _reverses(repo, revision):
        review = review_revision(
            series, revision, repo.path, simulate=True, already_applied=True, guess_base=False
        )
    return review


def _reverses(repo: Repo, revision: Revision) -> bool:
    from reviewbot.git import Overlay
    from reviewbot.mail import diff_paths
    from reviewbot.pipeline.apply import refusal

    patch = revision.patches[0]
    paths = [p for p in diff_paths(patch.diff_text) if refusal(p) is None]
    with Overlay(repo) as overlay:
        overlay.load(repo.head(), paths)
        ok, _ = overlay.apply(patch.diff_text, reverse=True, check_only=True)
    return ok


def _one_line(f: Finding) -> str:
    return " ".join(f"{f.severity.prefix} {f.message}".split())


def _not_run(review: Review) -> str:
    """What of the patch was not analysed or not simulated, in words ("" when all ran):
    "no findings" must not read as more than was run."""
    said = coverage.gaps(review)
    why = simulation_not_run(review.simulation is not None, review.notes)
    if why:
        said.append(f"simulator: {why}.")
    return " ".join(said)


def as_b4_json(review: Review) -> list[dict[str, str]]:
    if not review.findings:
        return [
            {
                "tool": TOOL,
                "status": "pass",
                "summary": "no findings",
                "url": "",
                "details": _not_run(review),
            }
        ]
    return [
        {
            "tool": TOOL,
            "status": _STATUS.get(f.severity, "warn"),
            "summary": _one_line(f),
            "url": "",
            "details": (f"{f.file}:{f.line}" if f.file else "commit message")
            + (f" in {f.function}()" if f.function else "")
            + f" [id {f.id}] ({f.checker})",
        }
        for f in review.findings
    ]


def as_terse(review: Review) -> list[str]:
    # A note ("that is safe: ...") asks nothing of the author: as a CHECK line
    # `b4 prep --check` would count it against a correct patch.  What was not
    # reviewed (a hunk that did not apply, a file not read) is a CHECK line:
    # silence would read as a clean review.  Whether the simulator ran is not
    # said here (it would be a line on every patch); the JSON form says it.
    return [
        f"{f.file or 'commit-message'}:{f.line}: {_LEVEL.get(f.severity, 'CHECK')}: "
        f"{_one_line(f)} "
        f"[id {f.id}]"
        for f in review.findings
        if f.severity is not Severity.NOTE
    ] + [f"commit-message:0: CHECK: reviewbot: {gap}" for gap in coverage.gaps(review)]


def run(args: argparse.Namespace) -> int:
    data = sys.stdin.buffer.read(MAX_MBOX_BYTES + 1)  # `< /dev/zero` must end
    if len(data) > MAX_MBOX_BYTES:
        raise FetchError(f"stdin: larger than {MAX_MBOX_BYTES >> 20} MB, not one patch mail")
    if not data.strip():
        raise FetchError("stdin: empty (b4 passes one patch mail)")
    review = review_stdin(data, Path(args.tree))
    if args.terse:
        for line in as_terse(review):
            print(line)
    else:
        print(json.dumps(as_b4_json(review), indent=1))
    return 0
