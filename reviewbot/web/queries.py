"""What the dashboard reads, shared by the HTML pages and the JSON API.

Only storage is read here (no pipeline, no git): the index is one query on
the series table thanks to the health columns kept by storage.summary, and a
series page loads one series with its revisions, patches, reviews, findings,
simulator runs and outbox rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from reviewbot.storage.history import FindingDelta, compare
from reviewbot.storage.models import (
    FindingRow,
    OutboxRow,
    PatchRow,
    ReviewRow,
    RevisionRow,
    SeriesRow,
    SuppressionRow,
)
from reviewbot.storage.rangediff import RangeDiffPair, range_diff
from reviewbot.storage.states import ReviewStatus
from reviewbot.storage.summary import Health
from reviewbot.storage.summary import sim_sentence as summary_sim_sentence
from reviewbot.storage.summary import sim_status as summary_sim_status
from reviewbot.storage.unchanged import step, unchanged_since

_T = TypeVar("_T")

SEVERITY_ORDER = ["bug", "possible-bug", "question", "nit", "note"]
MAX_QUERY = 500


@dataclass(frozen=True)
class IndexFilters:
    state: str = ""
    author: str = ""
    path: str = ""
    list_id: str = ""
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: dict[str, str]) -> IndexFilters:
        try:
            page = max(1, min(int(args.get("page", "1") or 1), 1_000_000))
        except ValueError:
            page = 1
        state = args.get("state", "")
        if state not in {h.value for h in Health}:
            state = ""

        def clip(name: str) -> str:
            return args.get(name, "").strip()[:MAX_QUERY]

        return cls(state, clip("author"), clip("path"), clip("list"), clip("q"), page)

    def args(self, **override: object) -> dict[str, object]:
        """Query-string arguments that reproduce these filters."""
        base: dict[str, object] = {
            "state": self.state,
            "author": self.author,
            "path": self.path,
            "list": self.list_id,
            "q": self.q,
            "page": self.page,
        }
        base.update(override)
        if base["page"] == 1:
            del base["page"]
        return {k: v for k, v in base.items() if v not in ("", None)}


@dataclass
class IndexPage:
    series: Sequence[SeriesRow]
    total: int
    page: int
    pages: int
    lists: Sequence[str]


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(query: Select[_T], f: IndexFilters) -> Select[_T]:
    if f.state:
        query = query.where(SeriesRow.health == f.state)
    if f.author:
        query = query.where(SeriesRow.author.ilike(f"%{_like(f.author)}%", escape="\\"))
    if f.path:
        query = query.where(SeriesRow.paths.like(f"%\n{_like(f.path)}%", escape="\\"))
    if f.list_id:
        query = query.where(SeriesRow.list_id == f.list_id)
    if f.q:
        msgid = f.q.strip("<> ")
        by_rev = select(RevisionRow.series_id).where(RevisionRow.message_id == msgid)
        by_patch = (
            select(RevisionRow.series_id)
            .join(PatchRow, PatchRow.revision_id == RevisionRow.id)
            .where(PatchRow.message_id == msgid)
        )
        query = query.where(
            or_(
                SeriesRow.title.ilike(f"%{_like(f.q)}%", escape="\\"),
                SeriesRow.id.in_(by_rev),
                SeriesRow.id.in_(by_patch),
            )
        )
    return query


def index_page(session: Session, f: IndexFilters, per_page: int) -> IndexPage:
    total = int(session.scalar(_filtered(select(func.count(SeriesRow.id)), f)) or 0)
    pages = max(1, -(-total // per_page))
    page = min(f.page, pages)
    rows = session.scalars(
        _filtered(select(SeriesRow), f)
        .order_by(SeriesRow.updated.desc(), SeriesRow.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    lists = session.scalars(
        select(SeriesRow.list_id)
        .distinct()
        .where(SeriesRow.list_id.is_not(None))
        .order_by(SeriesRow.list_id)
    ).all()
    return IndexPage(rows, total, page, pages, [x for x in lists if x])


@dataclass
class RevisionView:
    revision: RevisionRow
    review: ReviewRow | None
    findings: list[FindingRow] = field(default_factory=list)
    # patch index -> the version since which it stood (storage/unchanged.py)
    unchanged: dict[int, int] = field(default_factory=dict)

    @property
    def reused_from(self) -> int | None:
        """The version whose results an identical resend took (storage/reuse.py)."""
        value = (self.review.result or {}).get("reused_from") if self.review else None
        return value if isinstance(value, int) else None

    @property
    def label(self) -> str:
        return f"v{self.revision.version}"

    @property
    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(SEVERITY_ORDER, 0)
        for f in self.findings:
            if f.severity in out:
                out[f.severity] += 1
        return out

    @property
    def sim_status(self) -> str:
        return summary_sim_status(self.review)

    @property
    def sim_sentence(self) -> str:
        return summary_sim_sentence(self.review)


@dataclass
class SeriesView:
    series: SeriesRow
    revisions: list[RevisionView]
    older: RevisionView | None
    newer: RevisionView | None
    delta: FindingDelta | None
    rangediff: list[RangeDiffPair]
    outbox: list[OutboxRow]
    suppressed: set[str]
    # who marked what invalid, for this series or everywhere
    suppressions: list[SuppressionRow] = field(default_factory=list)


def _sorted_findings(findings: Sequence[FindingRow]) -> list[FindingRow]:
    def key(f: FindingRow) -> tuple[int, str, int]:
        sev = SEVERITY_ORDER.index(f.severity) if f.severity in SEVERITY_ORDER else 99
        return (sev, f.file, f.line)

    return sorted(findings, key=key)


def _latest(reviews: Sequence[ReviewRow]) -> ReviewRow | None:
    done = [r for r in reviews if r.status == ReviewStatus.DONE]
    return max(done, key=lambda r: (r.created, r.id)) if done else None


def series_view(
    session: Session, series_id: int, older_v: int | None, newer_v: int | None
) -> SeriesView | None:
    series = session.get(SeriesRow, series_id)
    if series is None:
        return None
    revisions = session.scalars(
        select(RevisionRow)
        .where(RevisionRow.series_id == series_id)
        .order_by(RevisionRow.version)
        .options(
            selectinload(RevisionRow.patches),
            selectinload(RevisionRow.reviews).selectinload(ReviewRow.findings),
            selectinload(RevisionRow.reviews).selectinload(ReviewRow.sim_runs),
        )
    ).all()
    views = []
    for rev in revisions:
        review = _latest(rev.reviews)
        views.append(RevisionView(rev, review, _sorted_findings(review.findings) if review else []))
    steps = [step(v.revision, v.review) for v in views if v.review is not None]
    for v in views:
        v.unchanged = unchanged_since(steps, v.revision.version)
    reviewed = [v for v in views if v.review is not None]
    by_version = {v.revision.version: v for v in views}
    newer = by_version.get(newer_v or -1) or (reviewed[-1] if reviewed else None)
    older = by_version.get(older_v or -1)
    if older is None and newer is not None:
        before = [v for v in reviewed if v.revision.version < newer.revision.version]
        older = before[-1] if before else None
    delta = None
    rdiff: list[RangeDiffPair] = []
    if older is not None and newer is not None and older is not newer:
        rdiff = range_diff(older.revision.patches, newer.revision.patches, older.label, newer.label)
        if older.review is not None and newer.review is not None:
            # an unreviewed revision has no findings yet: that is not "all fixed"
            delta = compare(older.findings, newer.findings)
    outbox = list(
        session.scalars(
            select(OutboxRow)
            .where(OutboxRow.revision_id.in_([r.id for r in revisions]))
            .order_by(OutboxRow.created, OutboxRow.id)
        )
    )
    suppressions = list(
        session.scalars(
            select(SuppressionRow)
            .where(or_(SuppressionRow.series_id == series_id, SuppressionRow.series_id.is_(None)))
            .order_by(SuppressionRow.created, SuppressionRow.id)
        )
    )
    suppressed = {s.finding_id for s in suppressions}
    return SeriesView(series, views, older, newer, delta, rdiff, outbox, suppressed, suppressions)


@dataclass
class Occurrence:
    finding: FindingRow
    review: ReviewRow
    revision: RevisionRow
    series: SeriesRow


def finding_occurrences(session: Session, finding_id: str) -> list[Occurrence]:
    """Every stored instance of a finding id, oldest revision first."""
    rows = session.execute(
        select(FindingRow, ReviewRow, RevisionRow, SeriesRow)
        .join(ReviewRow, FindingRow.review_id == ReviewRow.id)
        .join(RevisionRow, ReviewRow.revision_id == RevisionRow.id)
        .join(SeriesRow, RevisionRow.series_id == SeriesRow.id)
        .where(FindingRow.finding_id == finding_id[:16])
        .order_by(SeriesRow.id, RevisionRow.version, ReviewRow.id)
    ).all()
    return [Occurrence(*row) for row in rows]
