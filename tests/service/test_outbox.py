"""The outbox: policy at write time, and a sender that never mails twice."""

from __future__ import annotations

import dataclasses
import datetime as dt
from email import message_from_string
from pathlib import Path

import pytest
from sqlalchemy import select

from reviewbot import task_names
from reviewbot.config import Config, PolicyMode, ReplyTo, SmtpConfig
from reviewbot.devtools.mails import series_mails
from reviewbot.devtools.services import SmtpSink
from reviewbot.outbox import BeforeData, Delivery, Outcome, approve, deliver, resolve, send_due
from reviewbot.storage.models import OutboxRow, RevisionRow
from reviewbot.storage.sessions import sessions_for
from reviewbot.watch.mail import parse_mail
from reviewbot.watch.series import group_pending, store_message
from tests.service.conftest import make_config
from tests.service.fakepipe import FakePipeline
from workers import jobs

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _policy(cfg: Config, **kw: object) -> Config:
    lst = dataclasses.replace(cfg.lists[0], policy=dataclasses.replace(cfg.lists[0].policy, **kw))  # type: ignore[arg-type]
    return dataclasses.replace(cfg, lists=(lst,))


def _reviewed(cfg: Config, tag: str = "a", **kw: object) -> int:
    sessions = sessions_for(cfg.database)
    lst = cfg.lists[0]
    with sessions.begin() as s:
        for m in series_mails(tag, **kw):  # type: ignore[arg-type]
            store_message(s, lst.inbox_url, m.encode(), parse_mail(m.encode()))
        (rid,) = group_pending(s, lst, NOW, 3600, 120)
    assert jobs.review_revision(cfg, sessions, FakePipeline(), rid) is jobs.JobResult.REVIEWED
    return rid


def _rows(cfg: Config) -> list[OutboxRow]:
    with sessions_for(cfg.database)() as s:
        return list(s.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def test_replies_thread_onto_the_patch_with_our_message_ids(db_url: str, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, db_url)
    _reviewed(cfg, flagged=(1, 3))
    rows = _rows(cfg)
    assert [r.patch_message_id for r in rows] == ["a-v1-1@example.org", "a-v1-3@example.org"]
    msg = message_from_string(rows[0].raw)
    assert msg["In-Reply-To"] == "<a-v1-1@example.org>"
    assert msg["References"].split() == ["<a-v1-0@example.org>", "<a-v1-1@example.org>"]
    assert msg["Message-ID"].endswith("@reviewbot.test>")
    assert msg["To"] == "Ada Swapwright <ada@example.org>" and msg["Cc"] == "linux-mm@kvack.org"
    assert {r.state for r in rows} == {"pending"}


def test_running_the_review_twice_writes_nothing_new(db_url: str, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, db_url)
    rid = _reviewed(cfg)
    sessions = sessions_for(db_url)
    assert jobs.review_revision(cfg, sessions, FakePipeline(), rid) is jobs.JobResult.ALREADY_DONE
    # even forced, the same content gives the same keys: no second mail queued
    assert jobs.review_revision(cfg, sessions, FakePipeline(), rid, force=True) is (
        jobs.JobResult.REVIEWED
    )
    assert len(_rows(cfg)) == 2


@pytest.mark.parametrize(
    ("policy", "states"),
    [
        ({"mode": PolicyMode.MUTED}, {"muted"}),
        ({"mode": PolicyMode.HOLD}, {"held"}),
        ({"mode": PolicyMode.SEND, "max_series_size": 2}, {"muted"}),
    ],
)
def test_policy_decides_the_state(
    sqlite_url: str, tmp_path: Path, policy: dict[str, object], states: set[str]
) -> None:
    cfg = _policy(make_config(tmp_path, sqlite_url), **policy)
    _reviewed(cfg)
    assert {r.state for r in _rows(cfg)} == states


def test_clean_replies_only_when_asked(sqlite_url: str, tmp_path: Path) -> None:
    cfg = _policy(make_config(tmp_path, sqlite_url), reply_to=ReplyTo.LIST)
    _reviewed(cfg, flagged=())
    assert _rows(cfg) == []  # three "no findings" replies rendered, none queued
    cfg = _policy(cfg, send_clean=True)
    _reviewed(cfg, "clean2", flagged=(), change_id=None)
    rows = _rows(cfg)
    assert len(rows) == 3 and {r.to_addrs for r in rows} == {"linux-mm@kvack.org"}


def test_sender_delay_rate_and_approval(sqlite_url: str, tmp_path: Path, smtp: SmtpSink) -> None:
    cfg = make_config(
        tmp_path,
        sqlite_url,
        smtp=SmtpConfig(host="127.0.0.1", port=smtp.port, sender="bot@reviewbot.test"),
    )
    cfg = _policy(cfg, delay=60.0, rate_per_hour=1)
    _reviewed(cfg)
    sessions = sessions_for(sqlite_url)
    assert send_due(sessions, cfg).sent == 0  # the delay has not passed
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61)
    stats = send_due(sessions, cfg, now=later)
    assert (stats.sent, stats.rate_limited) == (1, 1)
    assert len(smtp.received()) == 1
    # held rows move only on approval
    with sessions.begin() as s:
        row = s.scalars(select(OutboxRow).where(OutboxRow.state == "pending")).one()
        row.state = "held"
        held_id = row.id
    with sessions.begin() as s:
        assert approve(s, [held_id]) == 1
        assert approve(s, [held_id]) == 0


def test_smtp_down_then_up_sends_each_once(db_url: str, tmp_path: Path) -> None:
    sink = SmtpSink()  # not started: the server is down
    cfg = make_config(
        tmp_path,
        db_url,
        smtp=SmtpConfig(host="127.0.0.1", port=sink.port, sender="bot@reviewbot.test", timeout=3),
    )
    _reviewed(cfg)
    sessions = sessions_for(db_url)
    for i in range(3):
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2 + i)  # past every backoff
        stats = send_due(sessions, cfg, now=later)
        assert (stats.sent, stats.retry) == (0, 1)  # one connection attempt per round
    assert {r.state for r in _rows(cfg)} == {"pending"}
    rows = _rows(cfg)
    assert sum(r.attempts for r in rows) == 3  # one probe per round, not one per row
    assert "connect" in (rows[0].last_error or "")
    sink.start()
    try:
        far = dt.datetime.now(dt.UTC) + dt.timedelta(hours=6)
        assert send_due(sessions, cfg, now=far).sent == 2
        assert send_due(sessions, cfg, now=far).sent == 0
        ids = sorted(m["Message-ID"] for m in sink.received())
        assert len(ids) == 2 and len(set(ids)) == 2
    finally:
        sink.stop()


def test_a_delivery_in_doubt_is_never_retried_by_itself(sqlite_url: str, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, sqlite_url)
    _reviewed(cfg, flagged=(2,))
    sessions = sessions_for(sqlite_url)
    calls: list[str] = []

    def flaky(
        _smtp: SmtpConfig, raw: str, _rcpt: list[str], *, before_data: BeforeData | None = None
    ) -> Delivery:
        calls.append(raw)
        assert before_data is not None and before_data()  # "delivering", then DATA
        return Delivery(Outcome.AMBIGUOUS, "connection reset during DATA")

    assert send_due(sessions, cfg, deliver_fn=flaky).ambiguous == 1
    assert send_due(sessions, cfg, deliver_fn=flaky).ambiguous == 0  # never retried by itself
    assert len(calls) == 1
    (row,) = _rows(cfg)
    assert row.state == "delivering" and "waiting for the list's copy" in (row.last_error or "")
    with sessions.begin() as s:
        assert resolve(s, [row.id], resend=False) == 1
    assert _rows(cfg)[0].state == "sent"


def test_refused_for_good_is_failed(sqlite_url: str, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, sqlite_url)
    _reviewed(cfg, flagged=(2,))

    def refuse(_s: SmtpConfig, _r: str, _t: list[str], **_kw: object) -> Delivery:
        return Delivery(Outcome.FAILED, "DATA: 554 no")

    assert send_due(sessions_for(sqlite_url), cfg, deliver_fn=refuse).failed == 1
    assert _rows(cfg)[0].state == "failed" and "554" in (_rows(cfg)[0].last_error or "")


def test_deliver_against_a_real_smtp_server(smtp: SmtpSink) -> None:
    cfg = SmtpConfig(host="127.0.0.1", port=smtp.port, sender="reviewbot <bot@reviewbot.test>")
    raw = (
        "From: bot@reviewbot.test\nTo: a@example.org\nSubject: hi\n"
        "Message-ID: <x@reviewbot.test>\n\n" + "a quoted line of a long reply\n" * 200
    )
    assert deliver(cfg, raw, ["a@example.org"]).outcome is Outcome.SENT
    (got,) = smtp.received()
    assert got["Message-ID"] == "<x@reviewbot.test>"
    assert str(got.get_payload()).count("a quoted line") == 200


def test_missing_revision_and_failure_reason(sqlite_url: str, tmp_path: Path) -> None:
    cfg = make_config(tmp_path, sqlite_url)
    sessions = sessions_for(sqlite_url)
    assert jobs.review_revision(cfg, sessions, FakePipeline(), 999) is jobs.JobResult.MISSING
    rid = _reviewed(cfg, "z")
    with sessions.begin() as s:
        rev = s.get(RevisionRow, rid)
        assert rev is not None
        rev.state, rev.mbox = "queued", "not a mail at all"
    assert jobs.review_revision(cfg, sessions, FakePipeline(), rid) is jobs.JobResult.FAILED
    with sessions() as s:
        rev = s.get(RevisionRow, rid)
        assert rev is not None and rev.state == "failed"
        assert any(r.error and "empty mbox" in r.error for r in rev.reviews)


class _FlakyPipeline(FakePipeline):
    """Loses its database connection on the first ``failures`` reviews."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    def review(self, series, revision, tree, *, simulate):  # type: ignore[no-untyped-def]
        if self.failures:
            self.failures -= 1
            raise ConnectionError("server closed the connection unexpectedly")
        return super().review(series, revision, tree, simulate=simulate)


def test_transient_errors_are_retried_then_given_up(sqlite_url: str, tmp_path: Path) -> None:
    from reviewbot.storage.models import TaskAttemptRow

    cfg = make_config(tmp_path, sqlite_url)
    sessions = sessions_for(sqlite_url)
    lst = cfg.lists[0]
    with sessions.begin() as s:
        for tag in ("t1", "t2"):
            for m in series_mails(tag, change_id=None, title=f"mm: swap: {tag}"):
                store_message(s, lst.inbox_url, m.encode(), parse_mail(m.encode()))
        first, second = group_pending(s, lst, NOW, 3600, 120)
    flaky = _FlakyPipeline(failures=2)
    for _ in range(2):
        with pytest.raises(jobs.TransientError):
            jobs.review_revision(cfg, sessions, flaky, first)
    assert jobs.review_revision(cfg, sessions, flaky, first) is jobs.JobResult.REVIEWED
    with sessions() as s:
        states = [
            a.state
            for a in s.scalars(
                select(TaskAttemptRow).where(
                    TaskAttemptRow.revision_id == first,
                    TaskAttemptRow.task == task_names.REVIEW_REVISION,
                )
            )
        ]
        assert states == ["started", "retry", "started", "retry", "started", "done"]
        assert all(
            a.error and "closed the connection" in a.error
            for a in s.scalars(select(TaskAttemptRow).where(TaskAttemptRow.state == "retry"))
        )
    always = _FlakyPipeline(failures=100)
    for _ in range(cfg.worker.max_attempts):
        with pytest.raises(jobs.TransientError):
            jobs.review_revision(cfg, sessions, always, second)
    assert jobs.review_revision(cfg, sessions, always, second) is jobs.JobResult.FAILED
    with sessions() as s:
        rev = s.get(RevisionRow, second)
        assert rev is not None and rev.state == "failed"
