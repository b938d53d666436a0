"""record_review: idempotence, identity across revisions, cached patch results."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reviewbot.storage.db import dispose_engine, open_db
from reviewbot.storage.history import compare, latest_review
from reviewbot.storage.models import (
    FindingRow,
    PatchRow,
    ReviewRow,
    RevisionRow,
    SeriesRow,
    SimRunRow,
    SuppressionRow,
)
from reviewbot.storage.patchid import patch_id
from reviewbot.storage.record import record_if_configured, record_review
from reviewbot.storage.summary import refresh
from tests.storage.factory import CHANGE_ID, LIST_ID, TITLE, retitled, sample_review


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _statuses(row: ReviewRow) -> dict[str, str]:
    return {f"{f.checker}:{f.finding_id}": f.status for f in row.findings}


def test_record_stores_every_part(session: Session) -> None:
    review = sample_review(1)
    row = record_review(session, review, mbox="From x\n", list_id=LIST_ID)
    session.commit()
    series = session.scalars(select(SeriesRow)).one()
    assert (series.title, series.change_id, series.list_id) == (TITLE, CHANGE_ID, LIST_ID)
    rev = session.scalars(select(RevisionRow)).one()
    assert rev.version == 1 and rev.mbox == "From x\n"
    assert rev.message_id == review.revision.cover.message_id  # type: ignore[union-attr]
    assert [p.index for p in rev.patches] == [1, 2]
    assert all(p.patch_id and len(p.patch_id) == 40 for p in rev.patches)
    assert {f.finding_id for f in row.findings} == {f.id for f in review.findings}
    assert len(row.findings) == 7
    assert {k: row.result["revision"][k] for k in ("version", "base", "applied")} == {
        "version": 1,
        "base": "1a2b3c4d5e6f",
        "applied": True,
    }
    assert _count(session, SimRunRow) == 2
    assert series.health == "findings" and series.n_bug == 2 and series.n_nit == 1
    assert series.sim_status == "fail"
    assert "\nmm/memory.c\n" in series.paths and "\nmm/internal.h\n" in series.paths


def test_recording_twice_does_not_duplicate(session: Session) -> None:
    first = record_review(session, sample_review(1))
    second = record_review(session, sample_review(1))
    session.commit()
    assert first.id == second.id
    for model, n in [
        (SeriesRow, 1),
        (RevisionRow, 1),
        (PatchRow, 2),
        (ReviewRow, 1),
        (FindingRow, 7),
    ]:
        assert _count(session, model) == n, model


def test_a_changed_rerun_adds_a_review(session: Session) -> None:
    record_review(session, sample_review(1))
    review = sample_review(1)
    record_review(session, replace(review, findings=review.findings[:2]))
    session.commit()
    assert _count(session, ReviewRow) == 2
    rev = session.scalars(select(RevisionRow)).one()
    latest = latest_review(session, rev.id)
    assert latest is not None and len(latest.findings) == 2
    assert session.scalars(select(SeriesRow)).one().n_nit == 0


def test_new_still_present_and_fixed_between_revisions(session: Session) -> None:
    v1 = record_review(session, sample_review(1))
    v2 = record_review(session, sample_review(2))
    v3 = record_review(session, sample_review(3))
    session.commit()
    assert _count(session, SeriesRow) == 1
    assert set(_statuses(v1).values()) == {"new"}
    s2 = _statuses(v2)
    assert s2["incomplete-batch-conversion:75a01dbd"] == "new"  # arch_do_swap_page
    assert sorted(k.split(":")[0] for k, v in s2.items() if v == "still-present") == [
        "batch-bit-uniformity",
        "incomplete-batch-conversion",
        "stale-pointer",
        "unchecked-null-pte",
    ]
    delta = compare(v1.findings, v2.findings)
    assert sorted(f.checker for f in delta.fixed) == [
        "batch-bounds",
        "incomplete-batch-conversion",
        "ptep-naming",
    ]
    assert {f.function for f in delta.fixed} == {"do_swap_page"}
    assert [f.checker for f in delta.new] == ["incomplete-batch-conversion"]
    assert _statuses(v3) == {"batch-bit-uniformity:1a1f0c4e": "new"}
    series = session.scalars(select(SeriesRow)).one()
    assert series.health == "clean" and series.latest_version == 3 and series.n_note == 1
    assert [t["version"] for t in series.trend] == [1, 2, 3]
    assert [t["bug"] + t["possible_bug"] for t in series.trend] == [6, 4, 0]


def test_out_of_order_recording_fixes_statuses(session: Session) -> None:
    v2 = record_review(session, sample_review(2))
    assert set(_statuses(v2).values()) == {"new"}
    record_review(session, sample_review(1))
    session.commit()
    session.refresh(v2)
    assert list(_statuses(v2).values()).count("still-present") == 4
    assert session.scalars(select(SeriesRow)).one().latest_version == 2


def test_same_title_different_author_is_another_series(session: Session) -> None:
    record_review(session, retitled(sample_review(1), "mm: a", "A <a@x>"))
    record_review(session, retitled(sample_review(1), "mm: a", "B <b@x>"))
    record_review(session, retitled(sample_review(2), "mm: a", "A <a@x>"))
    session.commit()
    assert _count(session, SeriesRow) == 2
    a = session.scalars(select(SeriesRow).where(SeriesRow.author == "A <a@x>")).one()
    assert a.latest_version == 2


def test_patch_id_tells_unchanged_patches(session: Session) -> None:
    v2, v3 = sample_review(2).revision, sample_review(3).revision
    # patch 1 (the batch helper) is the same in v2 and v3, patch 2 is not;
    # reusing results on that basis is tested in tests/storage/test_reuse*.py
    assert patch_id(v2.patches[0].diff_text) == patch_id(v3.patches[0].diff_text)
    assert patch_id(v2.patches[1].diff_text) != patch_id(v3.patches[1].diff_text)


def test_suppression_lowers_the_counts(session: Session) -> None:
    row = record_review(session, sample_review(2))
    series = session.scalars(select(SeriesRow)).one()
    assert series.n_bug == 1
    bug = next(f for f in row.findings if f.severity == "bug")
    session.add(SuppressionRow(finding_id=bug.finding_id, series_id=series.id, by="test"))
    refresh(session, series)
    session.commit()
    assert series.n_bug == 0 and series.health == "findings"  # possible bugs remain


def test_not_applied_series(session: Session) -> None:
    record_review(session, sample_review(1, applied=False))
    session.commit()
    series = session.scalars(select(SeriesRow)).one()
    assert series.health == "not-applied" and series.applied is False


def test_code_context_points_at_the_line(session: Session) -> None:
    row = record_review(session, sample_review(1))
    session.commit()
    f = next(f for f in row.findings if f.checker == "unchecked-null-pte")
    target = [c for c in f.context if c["target"]]
    assert len(target) == 1 and "vmf->pte - idx" in str(target[0]["text"])
    assert target[0]["new"] == f.line and target[0]["kind"] == "+"
    assert 3 <= len(f.context) <= 7


def test_record_if_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REVIEWBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert record_if_configured(sample_review(1), None) is None
    assert not (tmp_path / "xdg").exists()  # nothing configured, nothing written
    url = f"sqlite:///{tmp_path / 'flag.db'}"
    rid = record_if_configured(sample_review(1), url)
    assert rid is not None and record_if_configured(sample_review(1), url) == rid
    env_url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("REVIEWBOT_DATABASE_URL", env_url)
    assert record_if_configured(sample_review(2), None) is not None
    with open_db(env_url)() as s:
        assert _count(s, ReviewRow) == 1
    dispose_engine(url)
    dispose_engine(env_url)


def test_health_follows_the_revision_state(session: Session) -> None:
    record_review(session, sample_review(1))
    series = session.scalars(select(SeriesRow)).one()
    rev = session.scalars(select(RevisionRow)).one()
    rev.state = "queued"  # the watcher queued it again
    refresh(session, series)
    assert series.health == "pending"
    rev.state = "failed"  # a worker gave up
    refresh(session, series)
    assert series.health == "failed"
    record_review(session, sample_review(1))  # a later successful review
    assert rev.state == "reviewed" and series.health == "findings"


def test_a_patch_gone_from_the_revision_is_dropped(session: Session) -> None:
    review = sample_review(1)
    record_review(session, review)
    rev = replace(review.revision, patches=review.revision.patches[:1])
    record_review(session, replace(review, revision=rev, findings=()))
    session.commit()
    assert [p.index for p in session.scalars(select(PatchRow))] == [1]
