"""Re-run, mark invalid, approve: with the token they act, without it 403."""

from __future__ import annotations

import time

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from reviewbot.storage.models import OutboxRow, RevisionRow, SuppressionRow
from reviewbot.web import create_app
from reviewbot.web.actions import celery_enqueue
from tests.storage.factory import sample_review
from tests.web.conftest import TOKEN, Loaded, series_row

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _revision(db: sessionmaker[Session], rid: int) -> RevisionRow:
    with db() as s:
        row = s.get(RevisionRow, rid)
        assert row is not None
        return row


def test_rerun_needs_the_token(
    client: FlaskClient, loaded: Loaded, db: sessionmaker[Session]
) -> None:
    rid = loaded.revision_ids[2]
    for kwargs in ({}, {"data": {"token": "wrong"}}, {"headers": {"Authorization": "Bearer x"}}):
        response = client.post(f"/actions/revisions/{rid}/rerun", **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 403
        assert "needs the dashboard token" in response.get_data(as_text=True)
    assert client.post(f"/api/revisions/{rid}/rerun").status_code == 403
    assert loaded.queued == []
    assert _revision(db, rid).rerun_requested is None


def test_rerun_with_the_token(
    client: FlaskClient, loaded: Loaded, db: sessionmaker[Session]
) -> None:
    rid = loaded.revision_ids[3]
    response = client.post(f"/actions/revisions/{rid}/rerun", data={"token": TOKEN})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/series/{loaded.sample_id}?notice=rerun")
    assert loaded.queued == [rid]
    rev = _revision(db, rid)
    assert rev.state == "queued" and rev.rerun_requested is not None
    assert series_row(db, loaded.sample_id).health == "pending"
    api = client.post(f"/api/revisions/{loaded.revision_ids[1]}/rerun", headers=BEARER)
    assert api.status_code == 202 and api.get_json()["queued"] is True
    assert loaded.queued == [rid, loaded.revision_ids[1]]
    assert client.post("/api/revisions/9999/rerun", headers=BEARER).status_code == 404


def test_no_configured_token_refuses_everything(db_url: str, loaded: Loaded) -> None:
    client = create_app({"DATABASE_URL": db_url, "REVIEWBOT_WEB_TOKEN": ""}).test_client()
    assert (
        client.post("/api/revisions/1/rerun", headers={"Authorization": "Bearer "}).status_code
        == 403
    )
    assert client.post("/actions/revisions/1/rerun", data={"token": ""}).status_code == 403


def test_mark_invalid(client: FlaskClient, loaded: Loaded, db: sessionmaker[Session]) -> None:
    v2 = sample_review(2)
    fid = next(f.id for f in v2.findings if f.checker == "unchecked-null-pte")
    url = f"/actions/findings/{fid}/invalid"
    assert client.post(url, data={"series": loaded.sample_id}).status_code == 403
    response = client.post(url, data={"series": loaded.sample_id, "token": TOKEN, "reason": "fp"})
    assert response.status_code == 303
    again = client.post(f"/api/findings/{fid}/invalid", headers=BEARER)
    assert again.status_code == 200
    with db() as s:
        rows = s.scalars(select(SuppressionRow)).all()
        assert [(r.finding_id, r.series_id, r.reason) for r in rows] == [
            (fid, loaded.sample_id, "fp")
        ]
    html = client.get(f"/series/{loaded.sample_id}?from=1&to=2").get_data(as_text=True)
    assert f'<li class="finding suppressed" id="f-{fid}">' in html


def test_approve_held_email(client: FlaskClient, loaded: Loaded, db: sessionmaker[Session]) -> None:
    url = f"/actions/outbox/{loaded.held_id}/approve"
    assert client.post(url).status_code == 403
    response = client.post(url, data={"token": TOKEN})
    assert response.status_code == 303 and "notice=approved" in response.headers["Location"]
    with db() as s:
        assert s.get(OutboxRow, loaded.held_id).state == "pending"  # type: ignore[union-attr]
    assert client.post(f"/api/outbox/{loaded.held_id}/approve", headers=BEARER).status_code == 409
    assert client.post(f"/api/outbox/{loaded.sent_id}/approve", headers=BEARER).status_code == 409
    with db() as s:
        assert s.get(OutboxRow, loaded.sent_id).state == "sent"  # type: ignore[union-attr]


def test_unreachable_broker_keeps_the_request(
    db_url: str, loaded: Loaded, db: sessionmaker[Session]
) -> None:
    app = create_app(
        {
            "DATABASE_URL": db_url,
            "REVIEWBOT_WEB_TOKEN": TOKEN,
            "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
        }
    )
    t0 = time.monotonic()
    response = app.test_client().post(
        f"/api/revisions/{loaded.revision_ids[2]}/rerun", headers=BEARER
    )
    assert time.monotonic() - t0 < 3
    assert response.status_code == 202 and response.get_json()["queued"] is False
    assert _revision(db, loaded.revision_ids[2]).state == "queued"


def test_celery_enqueue_sends_the_named_task(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, list[int]]] = []

    class FakeCelery:
        def __init__(self, name: str, broker: str) -> None:
            assert broker == "redis://broker/0"
            self.conf: dict[str, object] = {}

        def send_task(self, name: str, args: list[int], retry: bool) -> None:
            sent.append((name, args))

        def close(self) -> None:
            pass

    monkeypatch.setattr("celery.Celery", FakeCelery)
    celery_enqueue("redis://broker/0")(7)
    assert sent == [("reviewbot.review_revision", [7])]


def test_invalid_in_two_series_is_invalid_everywhere(
    client: FlaskClient, loaded: Loaded, db: sessionmaker[Session]
) -> None:
    # the vmscan series is a copy of sample v1: it holds the same stale-pointer finding
    fid = next(f.id for f in sample_review(1).findings if f.checker == "unchecked-null-pte")
    vmscan = loaded.other_ids[0]
    before = series_row(db, vmscan).n_bug
    for sid in (loaded.sample_id, vmscan):
        response = client.post(
            f"/actions/findings/{fid}/invalid", data={"series": sid, "token": TOKEN}
        )
        assert response.status_code == 303
    with db() as s:
        row = s.scalars(select(SuppressionRow)).one()
        assert row.finding_id == fid and row.series_id is None
    assert series_row(db, vmscan).n_bug == before - 1


def test_token_and_database_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, db_url: str, loaded: Loaded
) -> None:
    monkeypatch.setenv("REVIEWBOT_WEB_TOKEN", "from-env")
    monkeypatch.setenv("REVIEWBOT_DATABASE_URL", db_url)
    client = create_app({"ENQUEUE": loaded.queued.append}).test_client()
    url = f"/api/revisions/{loaded.revision_ids[1]}/rerun"
    refused = client.post(url, headers=BEARER)
    assert refused.status_code == 403 and refused.is_json
    assert refused.get_json()["error"] == "Forbidden"
    ok = client.post(url, headers={"Authorization": "Bearer from-env"})
    assert ok.status_code == 202 and loaded.queued == [loaded.revision_ids[1]]
