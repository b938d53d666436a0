"""Dashboard server time with 10,000 series and 100,000 findings.

Bulk-inserts a synthetic history (Core ``insert`` executemany, no ORM
objects) into a fresh SQLite file, and into a throwaway PostgreSQL database
when one answers at 127.0.0.1:5432, then times pages with the Flask test
client (server time only: no network, no browser).  Targets: index page
150 ms median, series page 100 ms median.

``python -m benchmarks web`` runs it alone.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from reviewbot.storage.db import dispose_engine, get_engine, open_db
from reviewbot.storage.models import (
    FindingRow,
    PatchRow,
    ReviewRow,
    RevisionRow,
    SeriesRow,
    SimRunRow,
)
from reviewbot.web import create_app

N_SERIES = 10_000
N_FINDINGS = 100_000
INDEX_TARGET_MS = 150.0
SERIES_TARGET_MS = 100.0
RUNS = 30
HEAVY_REVISIONS = 8
HEAVY_FINDINGS = 60

PATHS = [
    "mm/memory.c",
    "mm/swapfile.c",
    "mm/swap_state.c",
    "mm/vmscan.c",
    "mm/page_alloc.c",
    "mm/huge_memory.c",
    "mm/internal.h",
    "include/linux/swap.h",
    "mm/shmem.c",
    "mm/zswap.c",
]
CHECKERS = [
    "stale-pointer",
    "unchecked-null-pte",
    "batch-bit-uniformity",
    "incomplete-batch-conversion",
    "batch-bounds",
    "ptep-naming",
]
SEVERITIES = ["bug", "possible-bug", "question", "nit", "note"]
LISTS = [
    "linux-mm.kvack.org",
    "linux-kernel.vger.kernel.org",
    "linux-arm-kernel.lists.infradead.org",
]
AUTHORS = [f"Dev{i} Hacker <dev{i}@example.org>" for i in range(400)]

DIFF = """diff --git a/{path} b/{path}
index 1111111..2222222 100644
--- a/{path}
+++ b/{path}
@@ -{n},6 +{n},7 @@ static int helper_{k}(struct vm_fault *vmf)
 \tstruct folio *folio = page_folio(vmf->page);
 \tpte_t pte;
{blank}
+\tint nr_pages = folio_nr_pages(folio);
 \tif (!pte_unmap_same(vmf))
 \t\tgoto out;
 \tpte = ptep_get(vmf->pte);
"""


def _rows(rng: random.Random) -> dict[type, list[dict[str, Any]]]:
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    out: dict[type, list[dict[str, Any]]] = {
        m: [] for m in (SeriesRow, RevisionRow, PatchRow, ReviewRow, FindingRow, SimRunRow)
    }
    per_review = N_FINDINGS / (N_SERIES * 2)  # two revisions per series on average
    rev_id = review_id = 0
    findings_left = N_FINDINGS
    for sid in range(1, N_SERIES + 1):
        n_rev = HEAVY_REVISIONS if sid == 1 else rng.choice((1, 2, 3))
        paths = rng.sample(PATHS, 2)
        trend = []
        counts: dict[str, int] = {}
        for version in range(1, n_rev + 1):
            rev_id += 1
            review_id += 1
            out[RevisionRow].append(
                {
                    "id": rev_id,
                    "series_id": sid,
                    "version": version,
                    "subject": f"[PATCH v{version} 0/2] mm: change {sid}",
                    "message_id": f"{sid}.{version}.0@example.org",
                    "base_commit": "abc",
                    "total": 2,
                    "date": now + dt.timedelta(minutes=sid * 3 + version),
                    "state": "reviewed",
                }
            )
            for i, path in enumerate(paths, start=1):
                out[PatchRow].append(
                    {
                        "revision_id": rev_id,
                        "index": i,
                        "total": 2,
                        "subject": f"mm: change {sid} part {i}",
                        "message_id": f"{sid}.{version}.{i}@example.org",
                        "author": AUTHORS[sid % len(AUTHORS)],
                        "date": "",
                        "applied": "applied",
                        "patch_id": f"{sid:020d}{i:020d}",
                        "diff": DIFF.format(path=path, n=100 * i, k=i, blank=" "),
                    }
                )
            applied = rng.random() > 0.05
            out[ReviewRow].append(
                {
                    "id": review_id,
                    "revision_id": rev_id,
                    "created": now + dt.timedelta(minutes=sid),
                    "status": "done",
                    "base": "abc",
                    "applied": applied,
                    "exit_status": 1,
                    "result": {},
                    "digest": uuid.uuid4().hex,
                    "notes": [],
                }
            )
            n = min(findings_left, max(0, round(rng.gauss(per_review, 2))))
            if sid == 1:
                n = HEAVY_FINDINGS  # a long-lived series: 8 revisions, 60 findings each
            if sid == N_SERIES and version == n_rev:
                n = findings_left
            findings_left -= n
            counts = dict.fromkeys(SEVERITIES, 0)
            for j in range(n):
                sev = rng.choice(SEVERITIES)
                counts[sev] += 1
                out[FindingRow].append(
                    {
                        "review_id": review_id,
                        "finding_id": f"{(sid * 131 + j) & 0xFFFFFFFF:08x}",
                        "checker": rng.choice(CHECKERS),
                        "severity": sev,
                        "file": paths[0],
                        "line": 100 + j,
                        "function": "do_swap_page",
                        "message": "vmf->pte may be NULL here: pte_offset_map_lock() can fail.",
                        "patch_index": 1,
                        "patch_message_id": f"{sid}.{version}.1@example.org",
                        "evidence": [{"line": 100 + j, "role": "used", "text": "vmf->pte - idx"}],
                        "status": "new" if version == 1 else "still-present",
                        "key": "",
                        "context": [
                            {
                                "old": None,
                                "new": 100 + j,
                                "kind": "+",
                                "text": "x = 1;",
                                "target": True,
                            }
                        ],
                    }
                )
            sim = rng.choice(("pass", "fail"))
            out[SimRunRow].append(
                {
                    "review_id": review_id,
                    "scenario": "table-freed",
                    "revision": f"v{version}",
                    "outcome": sim,
                    "trace": [],
                }
            )
            trend.append(
                {
                    "version": version,
                    "bug": counts["bug"],
                    "possible_bug": counts["possible-bug"],
                    "other": counts["question"] + counts["nit"] + counts["note"],
                    "sim_fail": int(sim == "fail"),
                }
            )
        blocking = counts["bug"] + counts["possible-bug"]
        out[SeriesRow].append(
            {
                "id": sid,
                "title": f"mm: change number {sid} to the swap path",
                "author": AUTHORS[sid % len(AUTHORS)],
                "change_id": f"chg-{sid}",
                "list_id": LISTS[sid % len(LISTS)],
                "created": now,
                "updated": now + dt.timedelta(minutes=sid),
                "health": ("not-applied" if not applied else "findings" if blocking else "clean"),
                "latest_version": n_rev,
                "latest_revision_id": rev_id,
                "applied": applied,
                "n_bug": counts["bug"],
                "n_possible_bug": counts["possible-bug"],
                "n_question": counts["question"],
                "n_nit": counts["nit"],
                "n_note": counts["note"],
                "sim_status": "fail" if trend[-1]["sim_fail"] else "pass",
                "trend": trend,
                "paths": "\n" + "".join(p + "\n" for p in paths),
            }
        )
    return out


def _load(url: str, rows: dict[type, list[dict[str, Any]]]) -> float:
    open_db(url)
    engine = get_engine(url)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for model in (SeriesRow, RevisionRow, PatchRow, ReviewRow, FindingRow, SimRunRow):
            batch = rows[model]
            for i in range(0, len(batch), 5000):
                conn.execute(insert(model), batch[i : i + 5000])
        conn.execute(text("ANALYZE"))  # fresh statistics, as a long-lived database has
    return time.perf_counter() - t0


def _time(get: Callable[[], Any]) -> float:
    get()  # warm caches and template compilation
    samples = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        response = get()
        samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.status_code
    return statistics.median(samples)


def _report(name: str, ms: float, target: float) -> None:
    verdict = "ok" if ms <= target else "OVER"
    print(
        f"   {name:<40} median {ms:7.1f} ms   target {target:.0f} ms"
        f"  ({ms / target:.2f}x) {verdict}"
    )


def _measure(label: str, url: str, rows: dict[type, list[dict[str, Any]]]) -> None:
    seconds = _load(url, rows)
    print(
        f"-- {label}: loaded {len(rows[SeriesRow]):,} series, "
        f"{len(rows[RevisionRow]):,} revisions, "
        f"{len(rows[FindingRow]):,} findings in {seconds:.1f} s"
    )
    client = create_app({"DATABASE_URL": url}).test_client()
    busy = max(rows[SeriesRow][1:], key=lambda s: s["latest_version"] * 100 + s["n_bug"])["id"]
    pages = [
        ("index /", "/", INDEX_TARGET_MS),
        ("index page 150", "/?page=150", INDEX_TARGET_MS),
        ("index ?state=findings", "/?state=findings", INDEX_TARGET_MS),
        ("index ?author=dev7&path=mm/swap", "/?author=dev7&path=mm/swap", INDEX_TARGET_MS),
        ("index ?q=number 4242", "/?q=number+4242", INDEX_TARGET_MS),
        ("index ?q=<message-id>", "/?q=4242.1.2@example.org", INDEX_TARGET_MS),
        (f"series /series/{busy}", f"/series/{busy}", SERIES_TARGET_MS),
        ("series /series/1 (8 rev x 60 findings)", "/series/1", SERIES_TARGET_MS),
        ("series /series/1?from=1&to=8", "/series/1?from=1&to=8", SERIES_TARGET_MS),
        ("api /api/series", "/api/series", INDEX_TARGET_MS),
        (f"api /api/series/{busy}", f"/api/series/{busy}", SERIES_TARGET_MS),
    ]
    for name, path, target in pages:
        _report(name, _time(lambda path=path: client.get(path)), target)  # type: ignore[misc]
    dispose_engine(url)


@contextmanager
def _postgres() -> Iterator[str | None]:
    admin_url = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"reviewbot_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        admin.dispose()
        yield None
        return
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    rng = random.Random(6)
    t0 = time.perf_counter()
    rows = _rows(rng)
    print(f"   generated rows in {time.perf_counter() - t0:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        _measure("SQLite", f"sqlite:///{tmp}/bench.db", rows)
    with _postgres() as url:
        if url is None:
            print("-- PostgreSQL: not reachable at 127.0.0.1:5432, skipped")
        else:
            _measure("PostgreSQL", url, rows)


if __name__ == "__main__":
    main()
