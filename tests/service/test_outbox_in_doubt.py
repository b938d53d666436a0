"""No outbox row stuck in ``sending``, and still never a reply mailed twice.

A sender that dies before DATA leaves a claim that the lease gives back; a
connection that breaks during DATA leaves the row ``delivering`` until the
list's copy (read by the watcher from a real public-inbox) confirms it, or
``unconfirmed`` when none comes.  Real aiosmtpd on loopback, real SQLite and
PostgreSQL; ``check --send`` killed during DATA as a real subprocess.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import signal
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from reviewbot.cli import main
from reviewbot.config import Config, SmtpConfig
from reviewbot.devtools.mails import mbox, series_mails
from reviewbot.devtools.publicinbox import PublicInbox
from reviewbot.devtools.services import SmtpSink, write_config
from reviewbot.outbox import BeforeData, Delivery, deliver, send_due
from reviewbot.storage.models import OutboxRow, SeriesRow
from reviewbot.storage.sessions import sessions_for
from tests.service.conftest import check_send
from tests.service.test_outbox import _reviewed
from tests.service.test_watch_inbox import _as_mbox, _cfg, _watcher, wait_for

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]


class _Died(BaseException):
    """What a SIGKILL does to a sender: nothing after it runs (no except Exception)."""


def _rows(cfg: Config) -> list[OutboxRow]:
    with sessions_for(cfg.database)() as s:
        return list(s.scalars(select(OutboxRow).order_by(OutboxRow.id)))


def _smtp_cfg(tmp_path: Path, db: str, sink: SmtpSink) -> Config:
    from tests.service.conftest import make_config

    return make_config(
        tmp_path,
        db,
        smtp=SmtpConfig(host="127.0.0.1", port=sink.port, sender="bot@reviewbot.test", timeout=5),
    )


def test_a_claim_whose_sender_died_before_data_is_sent_once_after_the_lease(
    smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    cfg = _smtp_cfg(tmp_path, db_url, smtp)
    _reviewed(cfg, flagged=(2,))
    sessions = sessions_for(db_url)

    def dies(*_a: object, **_kw: object) -> Delivery:
        raise _Died  # claimed, connected maybe, nothing transmitted

    now = dt.datetime.now(dt.UTC)
    with pytest.raises(_Died):
        send_due(sessions, cfg, now=now, deliver_fn=dies)
    (row,) = _rows(cfg)
    assert row.state == "sending"
    # within the lease the claim is respected: nothing is sent
    assert send_due(sessions, cfg, now=now + dt.timedelta(seconds=10)).sent == 0
    assert smtp.received() == []
    later = now + dt.timedelta(seconds=cfg.outbox.lease + 1)
    stats = send_due(sessions, cfg, now=later)
    assert (stats.released, stats.sent) == (1, 1)
    assert send_due(sessions, cfg, now=later + dt.timedelta(hours=1)).sent == 0
    assert len(smtp.received()) == 1
    (row,) = _rows(cfg)
    assert row.state == "sent" and row.attempts == 2


def test_a_sender_whose_claim_was_given_back_never_transmits(
    smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    cfg = _smtp_cfg(tmp_path, db_url, smtp)
    _reviewed(cfg, flagged=(2,))
    sessions = sessions_for(db_url)
    now = dt.datetime.now(dt.UTC)
    later = now + dt.timedelta(seconds=cfg.outbox.lease + 1)
    outcomes: list[str] = []

    def slow(
        smtp_cfg: SmtpConfig, raw: str, rcpt: list[str], *, before_data: BeforeData | None = None
    ) -> Delivery:
        # this sender hangs past its lease; another one takes the row and sends it
        outcomes.append(f"other sent {send_due(sessions, cfg, now=later).sent}")
        result = deliver(smtp_cfg, raw, rcpt, before_data=before_data)
        outcomes.append(result.detail)
        return result

    stats = send_due(sessions, cfg, now=now, deliver_fn=slow)
    assert stats.retry == 1
    assert outcomes == ["other sent 1", "before DATA: the claim was taken back: not sent"]
    assert len(smtp.received()) == 1
    assert [r.state for r in _rows(cfg)] == ["sent"]


def test_a_connection_broken_during_data_is_confirmed_by_the_list(
    public_inbox: PublicInbox, smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    cfg = _cfg(tmp_path, public_inbox, smtp, db_url)
    watcher = _watcher(cfg)
    smtp.sink.drop_after_data = 1  # the server takes the message and the line drops
    public_inbox.import_mbox(mbox(series_mails("cut", n=2, flagged=(2,))))
    stats = watcher.poll_once()
    assert stats.sent is not None and stats.sent.ambiguous == 1
    (row,) = _rows(cfg)
    assert row.state == "delivering" and row.sent_at is not None
    for _ in range(2):  # polls before the copy comes back: not resent, still in doubt
        watcher.poll_once()
    assert len(smtp.received()) == 1 and _rows(cfg)[0].state == "delivering"
    public_inbox.import_mbox(_as_mbox(smtp.raw()))  # the list echoes our reply
    stats = watcher.poll_once()
    assert stats.confirmed == 1
    (row,) = _rows(cfg)
    assert (row.state, row.last_error) == ("sent", "seen on the list")
    far = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=cfg.outbox.unconfirmed_after + 60)
    assert send_due(sessions_for(db_url), cfg, now=far).unconfirmed == 0
    watcher.poll_once()
    assert len(smtp.received()) == 1 and _rows(cfg)[0].state == "sent"


def test_with_no_copy_from_the_list_it_becomes_unconfirmed_for_a_human(
    public_inbox: PublicInbox,
    smtp: SmtpSink,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REVIEWBOT_DATABASE_URL", raising=False)
    cfg = _cfg(tmp_path, public_inbox, smtp)
    cfg = dataclasses.replace(
        cfg, outbox=dataclasses.replace(cfg.outbox, lease=5.0, unconfirmed_after=1.0)
    )
    smtp.sink.drop_after_data = 1
    public_inbox.import_mbox(mbox(series_mails("lost", n=1, flagged=(1,))))
    _watcher(cfg).poll_once()
    assert [r.state for r in _rows(cfg)] == ["delivering"]
    sessions = sessions_for(cfg.database)
    assert wait_for(lambda: send_due(sessions, cfg).unconfirmed == 1, 10)
    (row,) = _rows(cfg)
    assert row.state == "unconfirmed"
    assert f"reviewbot outbox resolve {row.id}" in (row.last_error or "")
    assert row.message_id in (row.last_error or "")
    assert send_due(sessions, cfg).sent == 0 and len(smtp.received()) == 1  # never resent
    # the dashboard's series page says so, with what to do
    from reviewbot.web import create_app

    with sessions() as s:
        series_id = s.scalars(select(SeriesRow.id)).one()
    page = create_app({"DATABASE_URL": cfg.database}).test_client().get(f"/series/{series_id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "state-unconfirmed" in text
    assert f"reviewbot outbox resolve {row.id}" in text
    path = write_config(cfg, tmp_path / "reviewbot.toml")
    capsys.readouterr()
    assert main(["outbox", "--config", str(path), "list"]) == 0
    assert " unconfirmed " in capsys.readouterr().out
    assert main(["outbox", "--config", str(path), "resolve", str(row.id)]) == 0
    assert "resolve: 1 of 1 rows changed" in capsys.readouterr().out
    assert [r.state for r in _rows(cfg)] == ["sent"]
    assert len(smtp.received()) == 1


def test_check_send_killed_during_data_never_sends_again(smtp: SmtpSink, tmp_path: Path) -> None:
    argv, env = check_send(smtp, tmp_path)
    smtp.sink.stall_data = 20.0  # the server has the message, its answer is late
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        assert wait_for(lambda: len(smtp.received()) == 1, 120)
        proc.send_signal(signal.SIGKILL)  # killed while waiting for the answer to DATA
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    smtp.sink.stall_data = 0.0
    again = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert again.returncode in (0, 1), again.stderr
    assert "may have been sent by an earlier run (killed during DATA)" in again.stderr
    assert len(smtp.received()) == 1


def test_a_row_an_earlier_version_left_in_sending_is_in_doubt_not_resent(
    smtp: SmtpSink, tmp_path: Path, db_url: str
) -> None:
    cfg = _smtp_cfg(tmp_path, db_url, smtp)
    _reviewed(cfg, flagged=(2,))
    sessions = sessions_for(db_url)
    with sessions.begin() as s:  # as the old sender left it: claimed, no claim note
        row = s.scalars(select(OutboxRow)).one()
        row.state, row.attempts, row.last_error = "sending", 1, None
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert send_due(sessions, cfg, now=now).sent == 0
    (row,) = _rows(cfg)
    assert row.state == "delivering" and "may have gone out" in (row.last_error or "")
    later = now + dt.timedelta(seconds=cfg.outbox.unconfirmed_after)
    assert send_due(sessions, cfg, now=later).unconfirmed == 1
    assert [r.state for r in _rows(cfg)] == ["unconfirmed"] and smtp.received() == []
