"""Service throughput and watcher cost (``make bench``; figures, never a timed test).

1. 100 queued synthetic series (copies of the bundled sample v1 with their own
   Message-Ids and change-ids) reviewed by the real pipeline on the sample
   tree, through 1 and then 2 ``reviewbot worker`` processes on a private
   redis-server: series per second and the 2-worker / 1-worker ratio
   (goal: 1.7x or better on 2 cores).  The database is SQLite (a file, WAL);
   ``REVIEWBOT_BENCH_DB=sqlite,postgresql`` also runs it on the local
   PostgreSQL (a throwaway schema).  ``REVIEWBOT_BENCH_SERIES`` changes the 100.
2. The watcher's cost of one poll of a real public-inbox over HTTP: with
   2,000 new messages (clone, read, store, group) and with no new mail.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import func, select

from reviewbot.config import Config, ListConfig, ListPolicy, PolicyMode, WatchConfig, WorkerConfig
from reviewbot.devtools.mails import mbox, series_mails
from reviewbot.devtools.publicinbox import PublicInbox
from reviewbot.devtools.services import CeleryWorker, RedisServer, write_config
from reviewbot.sample import build_sample_tree
from reviewbot.storage.models import RevisionRow
from reviewbot.storage.sessions import dispose_all, sessions_for
from reviewbot.watch.mail import parse_mail
from reviewbot.watch.series import group_pending, store_message
from reviewbot.watch.watcher import Watcher
from workers.dispatch import Dispatcher

ROOT = Path(__file__).resolve().parent.parent
N_SERIES = int(os.environ.get("REVIEWBOT_BENCH_SERIES", "100"))
N_MESSAGES = 2000
RATIO_GOAL = 1.7
PG_URL = os.environ.get("REVIEWBOT_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def _split(data: bytes) -> list[bytes]:
    return [m for m in re.split(rb"^From [^\n]*\n", data, flags=re.MULTILINE) if m.strip()]


def _synthetic(i: int, sample: list[bytes]) -> list[bytes]:
    out = []
    for raw in sample:
        mail = re.sub(rb"@example\.org>", b".s%d@example.org>" % i, raw)
        mail = re.sub(rb"(change-id: \S+)", rb"\1-%d" % i, mail)
        out.append(mail.replace(b"in one fault", b"in one fault (#%d)" % i))
    return out


def _config(tmp: Path, db: str, broker: str | None, tree: Path, inbox: str) -> Config:
    lst = ListConfig(
        name="linux-mm",
        inbox_url=inbox,
        address="linux-mm@kvack.org",
        policy=ListPolicy(mode=PolicyMode.MUTED),
    )
    return Config(
        database=db,
        broker=broker,
        tree=tree,
        state_dir=tmp / "state",
        message_domain="reviewbot.bench",
        simulate=True,
        watch=WatchConfig(interval=1, requeue_after=3600, backfill=True),
        worker=WorkerConfig(
            soft_time_limit=100, time_limit=120, visibility_timeout=300, restore_interval=1
        ),
        lists=(lst,),
    )


def _load_series(cfg: Config, sample: list[bytes]) -> list[int]:
    sessions = sessions_for(cfg.database)
    lst = cfg.lists[0]
    with sessions.begin() as s:
        for i in range(N_SERIES):
            for raw in _synthetic(i, sample):
                store_message(s, lst.inbox_url, raw, parse_mail(raw))
        return group_pending(s, lst, dt.datetime.now(dt.UTC), 3600, 120)


def _wait_ready(worker: CeleryWorker, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.log.exists() and b"ready." in worker.log.read_bytes():
            return
        time.sleep(0.1)
    raise RuntimeError(f"worker not ready: {worker.log.read_text()[-2000:]}")


@contextlib.contextmanager
def _database(run: Path, kind: str) -> Iterator[str]:
    """A fresh database: a SQLite file, or a throwaway schema on the local PostgreSQL."""
    if kind == "sqlite":
        yield f"sqlite:///{run / 'bench.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        dispose_all()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _pg_available() -> bool:
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect():
            pass
        engine.dispose()
    except sa.exc.OperationalError:
        return False
    return True


def _throughput(
    tmp: Path, tree: Path, redis: RedisServer, *, n_workers: int, sample: list[bytes], kind: str
) -> float:
    run = tmp / f"run-{kind}-{n_workers}"
    run.mkdir()
    with _database(run, kind) as db:
        return _run_workers(run, db, tree, redis, n_workers=n_workers, sample=sample)


def _run_workers(
    run: Path, db: str, tree: Path, redis: RedisServer, *, n_workers: int, sample: list[bytes]
) -> float:
    cfg = _config(run, db, redis.url, tree, "http://127.0.0.1:9/linux-mm")
    ids = _load_series(cfg, sample)
    assert len(ids) == N_SERIES, len(ids)
    path = write_config(dataclasses.replace(cfg, pipeline=""), run / "reviewbot.toml")
    workers = [CeleryWorker(path, run / f"w{i}.log") for i in range(n_workers)]
    try:
        for w in workers:
            w.start()
        for w in workers:
            _wait_ready(w)
        sessions = sessions_for(db)
        dispatcher = Dispatcher(cfg, sessions)
        t0 = time.perf_counter()
        for rid in ids:
            dispatcher.enqueue(rid)
        dispatcher.close()
        while True:
            with sessions() as s:
                left = s.scalar(
                    select(func.count(RevisionRow.id)).where(RevisionRow.state == "queued")
                )
            if not left:
                break
            time.sleep(0.1)
        elapsed = time.perf_counter() - t0
        with sessions() as s:
            failed = s.scalar(
                select(func.count(RevisionRow.id)).where(RevisionRow.state != "reviewed")
            )
        print(
            f"   {n_workers} worker(s) on {db.split(':', maxsplit=1)[0]}: "
            f"{N_SERIES} series in {elapsed:.1f} s "
            f"= {N_SERIES / elapsed:.2f} series/s ({failed} not reviewed)",
            flush=True,
        )
        return N_SERIES / elapsed
    finally:
        for w in workers:
            w.stop()
        dispose_all()


def _watcher_cost(tmp: Path) -> None:
    pi = PublicInbox(tmp / "pi")
    per_series = 4
    mails: list[str] = []
    for i in range(N_MESSAGES // per_series):
        mails += series_mails(f"b{i}", n=per_series - 1, change_id=f"bench-{i}")
    t0 = time.perf_counter()
    pi.import_mbox(mbox(mails))
    print(
        f"   imported {len(mails)} messages into public-inbox in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    # PublicInbox.serve() hands its socket over as "3<&FD FD<&-": if the socket
    # itself is fd 3 (a fresh process, no other files open) that closes it.
    spare = os.open(os.devnull, os.O_RDONLY)
    try:
        pi.serve()
    finally:
        os.close(spare)
    try:
        db = f"sqlite:///{tmp / 'watch.db'}"
        cfg = _config(tmp, db, None, tmp, pi.url)
        queued: list[int] = []

        def enqueue(rid: int) -> bool:
            queued.append(rid)
            return True

        watcher = Watcher(cfg, sessions_for(db), enqueue, send=False)
        t0 = time.perf_counter()
        stats = watcher.poll_once()
        full = time.perf_counter() - t0
        print(
            f"   poll with {stats.read} new messages: {full:.2f} s "
            f"({stats.read / full:.0f} msg/s, {len(queued)} revisions queued)"
        )
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            stats = watcher.poll_once()
            times.append(time.perf_counter() - t0)
            assert stats.read == 0
        times.sort()
        print(
            f"   poll with no new mail: median {times[2] * 1000:.0f} ms "
            f"(manifest + git fetch + cursor check)"
        )
    finally:
        pi.stop()
        dispose_all()


def _spin(n: int) -> float:
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x ^= i * i
    return time.perf_counter() - t0


def _cpu_control() -> float:
    """How much a pure CPU loop gains from 2 processes right now (other load eats cores)."""
    import multiprocessing

    n = 5_000_000
    ctx = multiprocessing.get_context("spawn")
    ones, twos = [], []
    with ctx.Pool(2) as pool:
        for _ in range(3):
            ones.append(pool.apply(_spin, (n,)))
            twos.append(max(pool.map(_spin, [n, n], chunksize=1)))
    return 2 * sorted(ones)[1] / sorted(twos)[1]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-service-") as d:
        tmp = Path(d)
        _watcher_cost(tmp / "watch")
        tree = tmp / "tree"
        build_sample_tree(tree)
        sample = _split((ROOT / "sample" / "series" / "v1.mbox").read_bytes())
        redis = RedisServer(tmp / "redis")
        redis.start()
        print(
            f"   control: a pure CPU loop runs {_cpu_control():.2f}x faster on 2 processes "
            f"(load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        kinds = [k for k in os.environ.get("REVIEWBOT_BENCH_DB", "sqlite").split(",") if k]
        if "postgresql" in kinds and not _pg_available():
            print("   PostgreSQL not reachable: SQLite only")
            kinds = ["sqlite"]
        try:
            for kind in kinds:
                one = _throughput(tmp, tree, redis, n_workers=1, sample=sample, kind=kind)
                two = _throughput(tmp, tree, redis, n_workers=2, sample=sample, kind=kind)
                ratio = two / one
                verdict = "meets" if ratio >= RATIO_GOAL else "below"
                print(
                    f"   {kind}: 2 workers / 1 worker: {ratio:.2f}x ({verdict} the "
                    f"{RATIO_GOAL}x goal, {os.cpu_count()} cores, load average "
                    f"{os.getloadavg()[0]:.1f})",
                    flush=True,
                )
        finally:
            redis.stop()


if __name__ == "__main__":
    main()
