"""Fixtures for the service tests: databases, config files, Redis, SMTP, workers."""

from __future__ import annotations

import dataclasses
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from reviewbot.config import (
    Config,
    ListConfig,
    ListPolicy,
    PolicyMode,
    SmtpConfig,
    WatchConfig,
    WorkerConfig,
)
from reviewbot.devtools.services import CeleryWorker, RedisServer, SmtpSink
from reviewbot.storage.sessions import dispose_all, sessions_for
from tests.support.fixtures import public_inbox  # noqa: F401 (a fixture)

PG_ADMIN = os.environ.get("REVIEWBOT_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
FAKE = "tests.service.fakepipe:Pipeline"


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """A throwaway PostgreSQL schema for this test session (dropped after)."""
    name = f"svc_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(PG_ADMIN)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {name}"))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    try:
        yield name
    finally:
        dispose_all()
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {name} CASCADE"))
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'reviewbot.db'}"
    else:
        schema = request.getfixturevalue("pg_schema")
        # One schema per test: tables created fresh, nothing leaks between tests.
        sub = f"{schema}_{uuid.uuid4().hex[:6]}"
        engine = sa.create_engine(PG_ADMIN)
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {sub}"))
        engine.dispose()
        url = f"{PG_ADMIN}?options=-csearch_path%3D{sub}"
    try:
        yield url
    finally:
        dispose_all()
        if request.param == "postgresql":
            engine = sa.create_engine(PG_ADMIN)
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {sub} CASCADE"))
            engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'reviewbot.db'}"
    dispose_all()


@pytest.fixture
def sessions_factory() -> Callable[[str], sessionmaker[Session]]:
    return sessions_for


def make_config(
    tmp_path: Path, db: str, inbox_url: str = "http://127.0.0.1:9/linux-mm", **over: object
) -> Config:
    lst = ListConfig(
        name="linux-mm",
        inbox_url=inbox_url,
        address="linux-mm@kvack.org",
        policy=ListPolicy(mode=PolicyMode.SEND, rate_per_hour=1000),
    )
    cfg = Config(
        database=db,
        broker=None,
        tree=tmp_path,
        state_dir=tmp_path / "state",
        message_domain="reviewbot.test",
        pipeline=FAKE,
        simulate=False,
        smtp=SmtpConfig(
            host="127.0.0.1", port=9, sender="reviewbot <bot@reviewbot.test>", timeout=5
        ),
        watch=WatchConfig(interval=0.3, grace=3600, backoff_max=3, requeue_after=4, backfill=True),
        worker=WorkerConfig(
            soft_time_limit=5,
            time_limit=6,
            visibility_timeout=8,
            max_attempts=5,
            retry_backoff=0.5,
            restore_interval=1,
        ),
        lists=(lst,),
    )
    return dataclasses.replace(cfg, **over)  # type: ignore[arg-type]


def check_send(smtp: SmtpSink, tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """``reviewbot check --send`` of the sample's v1 on a fresh sample tree,
    mailing the sink: (argv, env) to run it with, from ``tmp_path``."""
    from reviewbot.sample import build_sample_tree, series_mbox

    tree = tmp_path / "tree"
    build_sample_tree(tree)
    env = dict(
        os.environ,
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
        REVIEWBOT_SMTP_HOST="127.0.0.1",
        REVIEWBOT_SMTP_PORT=str(smtp.port),
    )
    env.pop("REVIEWBOT_DATABASE_URL", None)
    argv = [sys.executable, "-m", "reviewbot", "check", "--tree", str(tree), "--no-simulate"]
    argv += ["--mbox", series_mbox(1), "--send", "--outbox", str(tmp_path / "out")]
    return argv, env


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., CeleryWorker]]:
    started: list[CeleryWorker] = []

    def start(
        config: Path, concurrency: int = 1, env: dict[str, str] | None = None
    ) -> CeleryWorker:
        w = CeleryWorker(config, tmp_path / f"worker{len(started)}.log", concurrency, env)
        w.start()
        started.append(w)
        return w

    try:
        yield start
    finally:
        for w in started:
            w.stop()
