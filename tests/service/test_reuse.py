"""A resend whose patches did not change keeps its results (storage/reuse.py).

Driven through the worker job with the fake pipeline, counting its
``review`` calls: an identical v2 is not analysed again and gets v1's
findings under its own message-ids; a v3 whose patch 3 changed is analysed
and its patches 1-2 read "unchanged since v1" on the dashboard and the API.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from reviewbot.config import Config
from reviewbot.devtools.mails import series_mails
from reviewbot.models import Review, Revision, Series
from reviewbot.storage.models import OutboxRow, ReviewRow, RevisionRow
from reviewbot.storage.sessions import sessions_for
from reviewbot.watch.mail import parse_mail
from reviewbot.watch.series import group_pending, store_message
from reviewbot.web import create_app
from tests.service.conftest import make_config
from tests.service.fakepipe import FakePipeline
from workers import jobs

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


class CountingPipeline(FakePipeline):
    """The fake pipeline, counting how often it really analyses a revision."""

    def __init__(self) -> None:
        self.reviewed: list[int] = []

    def review(self, series: Series, revision: Revision, tree: Path, *, simulate: bool) -> Review:
        self.reviewed.append(revision.version)
        return super().review(series, revision, tree, simulate=simulate)


def _arrive(cfg: Config, version: int, **kw: object) -> int:
    """Mails of one revision reach the inbox and are grouped; its revision id."""
    lst = cfg.lists[0]
    when = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC) + dt.timedelta(hours=version)
    with sessions_for(cfg.database).begin() as s:
        for m in series_mails("a", version=version, when=when, **kw):  # type: ignore[arg-type]
            store_message(s, lst.inbox_url, m.encode(), parse_mail(m.encode()))
        (rid,) = group_pending(s, lst, NOW, 3600, 120)
    return rid


def _review_of(cfg: Config, rid: int) -> ReviewRow:
    with sessions_for(cfg.database)() as s:
        row = s.scalars(
            select(ReviewRow).where(ReviewRow.revision_id == rid).order_by(ReviewRow.id.desc())
        ).first()
        assert row is not None
        row.findings  # noqa: B018 (load before the session closes)
        s.expunge(row)
        return row


def test_identical_resend_is_not_analysed_again(db_url: str, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, db_url)
    sessions = sessions_for(db_url)
    pipe = CountingPipeline()
    v1 = _arrive(cfg, 1, flagged=(1, 3))
    assert jobs.review_revision(cfg, sessions, pipe, v1) is jobs.JobResult.REVIEWED
    v2 = _arrive(cfg, 2, flagged=(1, 3))
    assert jobs.review_revision(cfg, sessions, pipe, v2) is jobs.JobResult.REVIEWED
    assert pipe.reviewed == [1]  # v2 took v1's results

    first, second = _review_of(cfg, v1), _review_of(cfg, v2)
    assert second.result["reused_from"] == 1 and "reused_from" not in first.result
    assert second.result["revision"]["version"] == 2  # type: ignore[index]
    assert sorted(f.finding_id for f in second.findings) == sorted(
        f.finding_id for f in first.findings
    )
    assert sorted(f.patch_message_id or "" for f in second.findings) == [
        "a-v2-1@example.org",
        "a-v2-3@example.org",
    ]
    assert {f.status for f in second.findings} == {"still-present"}
    assert any("v2 is identical to v1" in n for n in second.notes)
    with sessions() as s:
        replies = s.scalars(select(OutboxRow).where(OutboxRow.revision_id == v2)).all()
        assert sorted(r.patch_message_id or "" for r in replies) == [
            "a-v2-1@example.org",
            "a-v2-3@example.org",
        ]
        assert all("still present since v1" in r.raw for r in replies)
        assert s.get(RevisionRow, v2).state == "reviewed"  # type: ignore[union-attr]

    # a re-run is asked for because the results are doubted: analysed
    assert jobs.review_revision(cfg, sessions, pipe, v2, force=True) is jobs.JobResult.REVIEWED
    assert pipe.reviewed == [1, 2]
    client = create_app(
        {"DATABASE_URL": db_url, "TESTING": True, "REVIEWBOT_WEB_TOKEN": "t0ken"}
    ).test_client()
    asked = client.post(f"/api/revisions/{v2}/rerun", headers={"Authorization": "Bearer t0ken"})
    assert asked.status_code == 202
    assert jobs.review_revision(cfg, sessions, pipe, v2) is jobs.JobResult.REVIEWED
    assert pipe.reviewed == [1, 2, 2]


def test_changed_patch_is_analysed_and_the_prefix_shows_unchanged(
    db_url: str, tmp_path: Path
) -> None:
    cfg = make_config(tmp_path, db_url)
    sessions = sessions_for(db_url)
    pipe = CountingPipeline()
    v1 = _arrive(cfg, 1, flagged=(1, 3))
    assert jobs.review_revision(cfg, sessions, pipe, v1) is jobs.JobResult.REVIEWED
    # v2: patch 3 lost its FIXME line, patches 1-2 are byte for byte the same
    v2 = _arrive(cfg, 2, flagged=(1,))
    assert jobs.review_revision(cfg, sessions, pipe, v2) is jobs.JobResult.REVIEWED
    assert pipe.reviewed == [1, 2]
    second = _review_of(cfg, v2)
    assert "reused_from" not in second.result
    assert second.result["unchanged_since"] == {"1": 1, "2": 1}
    assert [f.patch_message_id for f in second.findings] == ["a-v2-1@example.org"]

    with sessions() as s:
        series_id = s.get(RevisionRow, v2).series_id  # type: ignore[union-attr]
    client = create_app({"DATABASE_URL": db_url, "TESTING": True}).test_client()
    data = client.get(f"/api/series/{series_id}").get_json()
    by_version = {r["version"]: r for r in data["revisions"]}
    assert [p["unchanged_since"] for p in by_version[2]["patches"]] == [1, 1, None]
    assert [p["unchanged_since"] for p in by_version[1]["patches"]] == [None] * 3
    assert by_version[2]["review"]["reused_from"] is None

    html = client.get(f"/series/{series_id}").get_data(as_text=True)
    section = html.split('id="findings-v2"', 1)[1].split("</details>", 1)[0]
    for index in (1, 2):
        item = section.split(f'id="patch-v2-{index}"', 1)[1].split("</li>", 1)[0]
        assert "unchanged since v1" in item
    item = section.split('id="patch-v2-3"', 1)[1].split("</li>", 1)[0]
    assert "unchanged since" not in item


def test_resend_on_another_base_is_analysed(db_url: str, tmp_path: Path) -> None:
    """Same patches, but the tree's HEAD moved between v1 and v2: a new review."""
    import subprocess

    tree = tmp_path / "tree"
    tree.mkdir()
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "HOME": str(tmp_path),
    }

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tree), *args], check=True, env=env, capture_output=True)

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "base one")
    cfg = make_config(tmp_path, db_url, tree=tree)
    sessions = sessions_for(db_url)

    class Applying(CountingPipeline):
        """Records the base it would apply on, as the real pipeline does."""

        def review(
            self, series: Series, revision: Revision, tree: Path, *, simulate: bool
        ) -> Review:
            from reviewbot.models import ApplyResult, ApplyStatus, PatchApply
            from reviewbot.storage.reuse import choose_base

            review = super().review(series, revision, tree, simulate=simulate)
            base = choose_base(revision, tree)
            assert base.commit is not None
            patches = tuple(PatchApply(p.index, ApplyStatus.APPLIED) for p in revision.patches)
            return Review(
                series=review.series,
                revision=review.revision,
                apply=ApplyResult(base=base.commit, base_source=base.source, patches=patches),
                findings=review.findings,
            )

    pipe = Applying()
    v1 = _arrive(cfg, 1)
    assert jobs.review_revision(cfg, sessions, pipe, v1) is jobs.JobResult.REVIEWED
    v2 = _arrive(cfg, 2)
    assert jobs.review_revision(cfg, sessions, pipe, v2) is jobs.JobResult.REVIEWED
    assert pipe.reviewed == [1]  # same HEAD: reused
    git("commit", "-q", "--allow-empty", "-m", "base two")
    v3 = _arrive(cfg, 3)
    assert jobs.review_revision(cfg, sessions, pipe, v3) is jobs.JobResult.REVIEWED
    assert pipe.reviewed == [1, 3]
    assert "reused_from" not in _review_of(cfg, v3).result
    assert _review_of(cfg, v3).result["unchanged_since"] == {}
