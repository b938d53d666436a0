"""A dashboard app over a database holding the sample series and a few others."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from reviewbot.storage.models import OutboxRow, SeriesRow
from reviewbot.storage.record import record_review
from reviewbot.web import create_app
from tests.storage.dbfixtures import db, db_url, pg_database, session
from tests.storage.factory import LIST_ID, hostile_review, retitled, sample_review

__all__ = ["db", "db_url", "pg_database", "session"]

TOKEN = "s3cret-token"


@dataclass
class Loaded:
    sample_id: int
    hostile_id: int
    other_ids: list[int]
    revision_ids: dict[int, int]  # version -> revision id of the sample
    held_id: int
    sent_id: int
    queued: list[int] = field(default_factory=list)


def load(session: Session, *, hostile_series: bool = True) -> Loaded:
    reviews = {v: record_review(session, sample_review(v), list_id=LIST_ID) for v in (1, 2, 3)}
    sample = reviews[3].revision.series
    hostile = (
        record_review(session, hostile_review(), list_id="evil.example.org")
        if hostile_series
        else reviews[1]
    )
    others = [
        record_review(
            session,
            retitled(
                sample_review(1, applied=False),
                "mm: vmscan: fix a stall",
                "Bob Reclaimer <bob@example.org>",
            ),
            list_id="linux-mm.kvack.org",
        ),
        record_review(
            session,
            retitled(
                sample_review(3), "mm: page_alloc: tidy comments", "Cara Zone <cara@example.org>"
            ),
            list_id="linux-kernel.vger.kernel.org",
        ),
    ]
    held = OutboxRow(
        key="v2-2",
        revision_id=reviews[2].revision_id,
        message_id="reviewbot.a1@example.org",
        to_addrs="Ada Swapwright <ada@swapwright.example>",
        subject="Re: [PATCH v2 2/2] mm: swap: map large folios found in the swap cache"
        " in one fault",
        raw="From: reviewbot <reviewbot@example.org>\nSubject: Re: [PATCH v2 2/2] ...\n\n"
        "> +\t\tpte_t *first = vmf->pte - idx;\n\nbug: vmf->pte may be NULL here.\n",
        state="held",
    )
    sent = OutboxRow(
        key="v1-2",
        revision_id=reviews[1].revision_id,
        message_id="reviewbot.b2@example.org",
        to_addrs="ada@swapwright.example",
        subject="Re: [PATCH v1 2/2] mm: swap: map large folios",
        raw="Subject: Re: [PATCH v1 2/2]\n\nnit: start_ptep\n",
        state="sent",
    )
    session.add_all([held, sent])
    session.commit()
    return Loaded(
        sample_id=sample.id,
        hostile_id=hostile.revision.series_id,
        other_ids=[o.revision.series_id for o in others],
        revision_ids={v: r.revision_id for v, r in reviews.items()},
        held_id=held.id,
        sent_id=sent.id,
    )


@pytest.fixture
def loaded(db: sessionmaker[Session]) -> Loaded:
    with db() as s:
        return load(s)


@pytest.fixture
def app(db_url: str, loaded: Loaded) -> Iterator[Flask]:
    app = create_app(
        {
            "DATABASE_URL": db_url,
            "REVIEWBOT_WEB_TOKEN": TOKEN,
            "TESTING": True,
            "ENQUEUE": loaded.queued.append,
        }
    )
    yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def series_row(db: sessionmaker[Session], series_id: int) -> SeriesRow:
    with db() as s:
        row = s.get(SeriesRow, series_id)
        assert row is not None
        return row
