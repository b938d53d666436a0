"""A resent revision whose patches did not change keeps its results.

Authors resend a series unchanged (a new version number for a changed
cover letter, a resend to add a Cc).  When the base and every patch are the
same, the tree states the pipeline would build are the same and so are its
findings and simulator runs: the earlier review is copied, its findings
re-attributed to the new mails, instead of being recomputed.

"The same patch" is stricter here than git's patch-id, which ignores all
whitespace and the commit message: the patch-format checker reads the
subject, the message, the author and trailing whitespace.  So a revision is
reused whole only when, patch by patch, the patch-id, the diff text, the
subject, the author and the message are equal, the base commit (trailer and
resolved commit) is equal, no patch is missing, the earlier one applied
cleanly (a failure's detail is not stored) and was made by the same
reviewbot version.

When only the first k patches are unchanged the tree after patch k is the
same, but what later patches do to it is not, so the pipeline runs again;
``storage/unchanged.py`` tells per patch since which revision it stood.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from reviewbot import __version__
from reviewbot.errors import TreeError
from reviewbot.models import (
    SIM_ENTRY,
    ApplyResult,
    ApplyStatus,
    Finding,
    Patch,
    PatchApply,
    Reproducer,
    Review,
    Revision,
    Series,
    SimOutcome,
    SimRun,
    SimulationResult,
)
from reviewbot.storage import history
from reviewbot.storage.models import ReviewRow, RevisionRow
from reviewbot.storage.patchid import patch_id
from reviewbot.storage.record import finding_from_row

Parse = Callable[[bytes, int | None], tuple[Series, Revision]]


@dataclass(frozen=True)
class Base:
    """The commit a revision would be applied on, as the pipeline chooses it."""

    commit: str | None  # None: no git tree (a pipeline that does not apply)
    source: str  # "trailer" or "HEAD", as ApplyResult.base_source


def choose_base(revision: Revision, tree: Path, base: str | None = None) -> Base:
    """The base pipeline/apply.py would choose (its ``choose_base``), without applying.

    A ``base`` the tree lacks raises TreeError, as applying does: it never
    quietly becomes HEAD.  A tree that cannot be read gives ``Base(None)``.
    """
    from reviewbot.git import GitError, Repo
    from reviewbot.pipeline.apply import choose_base as apply_base

    try:
        repo = Repo(tree)
    except (TreeError, GitError, OSError):
        return Base(None, "HEAD")
    try:
        commit, source, _notes = apply_base(repo, revision, base)
    except TreeError:
        if base:
            raise
        return Base(None, "HEAD")  # an empty repository
    except (GitError, OSError):
        return Base(None, "HEAD")
    return Base(commit, source)


@dataclass(frozen=True)
class Identical:
    """An earlier reviewed revision that the new one repeats exactly."""

    version: int
    review: ReviewRow
    old: Revision  # the earlier revision, parsed from its stored mails


def _same_patch(a: Patch, b: Patch) -> bool:
    return (
        a.index == b.index
        and a.diff_text == b.diff_text
        and a.subject == b.subject
        and a.author == b.author
        and a.body.strip() == b.body.strip()
    )


def _patch_ids(revision: Revision) -> list[tuple[int, str | None]]:
    return [(p.index, patch_id(p.diff_text)) for p in sorted(revision.patches, key=_by_index)]


def _by_index(p: Patch) -> int:
    return p.index


def _reusable_row(review: ReviewRow, simulate: bool) -> bool:
    result = review.result or {}
    if result.get("reviewbot_version") != __version__:
        return False  # other checkers may find other things
    revision = result.get("revision")
    missing = revision.get("missing") if isinstance(revision, dict) else None
    if missing:
        return False
    statuses = [p.get("apply_status") for p in _dicts(result.get("patches"))]
    if any(s not in (None, ApplyStatus.APPLIED.value) for s in statuses):
        return False
    # asked to simulate, and the earlier run did not (though patches applied)
    return not (simulate and result.get("simulation") is None and review.base is not None)


def find_identical(
    session: Session,
    series_id: int,
    new: Revision,
    base: Base,
    parse: Parse,
    *,
    simulate: bool,
) -> Identical | None:
    """The newest earlier reviewed revision of the series equal to ``new``."""
    if new.missing or not new.patches:
        return None
    wanted = _patch_ids(new)
    if any(pid is None for _, pid in wanted):
        return None  # a patch without a diff: nothing identifies it
    older = session.scalars(
        select(RevisionRow)
        .where(RevisionRow.series_id == series_id, RevisionRow.version < new.version)
        .order_by(RevisionRow.version.desc())
    ).all()
    for rev in older:
        if rev.base_commit != new.base_commit or not rev.mbox:
            continue
        if [(p.index, p.patch_id) for p in rev.patches] != wanted:
            continue
        review = history.latest_review(session, rev.id)
        if review is None or review.base != base.commit or not _reusable_row(review, simulate):
            continue
        try:
            _series, old = parse(rev.mbox.encode("utf-8"), rev.version)
        except Exception:  # an old mbox the parser now refuses is no match
            continue
        old_patches = sorted(old.patches, key=_by_index)
        new_patches = sorted(new.patches, key=_by_index)
        if len(old_patches) != len(new_patches) or old.missing:
            continue
        if all(_same_patch(a, b) for a, b in zip(old_patches, new_patches, strict=True)):
            return Identical(rev.version, review, old)
    return None


def reused_review(found: Identical, series: Series, revision: Revision, base: Base) -> Review:
    """The earlier review as a review of ``revision``: same results, new mails."""
    row = found.review
    result = row.result or {}
    by_index = {p.index: p for p in revision.patches}
    simulated: dict[str, list[str]] = {}
    reproducers: dict[str, list[Reproducer]] = {}
    order: dict[str, int] = {}
    for i, stored in enumerate(_dicts(result.get("findings"))):
        fid = str(stored.get("id", ""))
        order.setdefault(fid, i)
        sim = stored.get("simulated")
        if isinstance(sim, list) and sim:
            simulated.setdefault(fid, [str(s) for s in sim])
        cases = _dicts(stored.get("reproducers"))
        if cases:
            reproducers.setdefault(fid, [_reproducer(c) for c in cases])
    findings: list[Finding] = []
    for f_row in sorted(row.findings, key=lambda f: (order.get(f.finding_id, len(order)), f.id)):
        f = finding_from_row(f_row)
        target = by_index.get(f.patch_index) if f.patch_index is not None else None
        findings.append(
            replace(
                f,
                patch_message_id=target.message_id if target else f.patch_message_id,
                simulated=tuple(simulated.get(f_row.finding_id, ())),
                reproducers=tuple(reproducers.get(f_row.finding_id, ())),
            )
        )
    apply = None
    if row.base is not None:
        apply = ApplyResult(
            base=row.base,
            base_source=base.source,
            patches=tuple(PatchApply(p.index, ApplyStatus.APPLIED) for p in revision.patches),
        )
    simulation = None
    sim_json = result.get("simulation")
    if isinstance(sim_json, dict):
        coverage = sim_json.get("coverage")
        stored_runs = sim_json.get("runs")
        rows = sorted(row.sim_runs, key=lambda r: r.id)
        # the reasons runs were not simulated live in the stored JSON only
        reasons = [
            str(r.get("reason", "")) if isinstance(r, dict) else ""
            for r in (stored_runs if isinstance(stored_runs, list) else [])
        ]
        if len(reasons) != len(rows):
            reasons = [""] * len(rows)
        simulation = SimulationResult(
            runs=tuple(
                SimRun(
                    scenario=r.scenario,
                    revision=r.revision,
                    outcome=SimOutcome.parse(r.outcome),
                    kind=r.kind,
                    message=r.message,
                    trace=tuple(r.trace),
                    file=r.file,
                    line=r.line,
                    function=r.function,
                    reason=reason,
                )
                for r, reason in zip(rows, reasons, strict=True)
            ),
            coverage=dict(coverage) if isinstance(coverage, dict) else {},
        )
    note = identical_note(revision.version, found.version)
    notes = tuple(n for n in row.notes if n != identical_note(found.old.version, found.version))
    return Review(
        series=series,
        revision=revision,
        apply=apply,
        findings=tuple(findings),
        simulation=simulation,
        notes=(note, *notes),
    )


def identical_note(version: int, since: int) -> str:
    return f"v{version} is identical to v{since} (same base and patch-ids): results of v{since}"


def _reproducer(stored: Mapping[str, object]) -> Reproducer:
    """A Reproducer from its JSON (Reproducer.to_json)."""

    def number(key: str) -> int | None:
        value = stored.get(key)
        return value if isinstance(value, int) else None

    entry = stored.get("entry")
    return Reproducer(
        str(stored.get("scenario", "")),
        number("order"),
        number("index"),
        entry if isinstance(entry, str) and entry else SIM_ENTRY,
    )


def _dicts(value: object) -> list[Mapping[str, object]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
