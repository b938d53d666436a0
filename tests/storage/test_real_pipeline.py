"""The real pipeline's reviews of the bundled sample series, stored and compared.

The spine reviews sample/series/v1..v3.mbox on the sample tree; storage must
tell, from those reviews alone, what v2 fixed, kept and introduced, even
where v2 renamed a variable that a finding quotes (start_pte -> start_ptep).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from reviewbot.models import Review
from reviewbot.storage.history import compare, lineage
from reviewbot.storage.models import SeriesRow
from reviewbot.storage.record import record_review

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reviews(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Review]:
    from reviewbot.pipeline import fetch, review_revision
    from reviewbot.sample import build_sample_tree, series_mbox

    tree = tmp_path_factory.mktemp("sample") / "tree"
    build_sample_tree(tree)
    out = {}
    for version in (1, 2, 3):
        got = fetch.run(fetch.FetchRequest(mbox=Path(series_mbox(version))))
        # the checkers' history; the simulator's findings are stored by test_record
        out[version] = review_revision(
            got.series, got.revision, tree, base=got.base, simulate=False
        )
    return out


def _names(rows: object) -> list[str]:
    out = []
    for f in rows:  # type: ignore[attr-defined]
        single = next((e["text"] for e in f.evidence if e.get("role") == "single-entry"), "")
        out.append(f"{f.checker}:{single.split('(')[0]}" if single else f.checker)
    return sorted(out)


def test_v1_v2_v3_history(session: Session, reviews: dict[int, Review]) -> None:
    rows = {v: record_review(session, r) for v, r in reviews.items()}
    session.commit()
    assert len(session.scalars(select(SeriesRow)).all()) == 1
    d12 = compare(rows[1].findings, rows[2].findings)
    # The simulator's own findings vary with its scenarios (another part's
    # business); the static checkers' are the fixed points of this test.
    assert _names(f for f in d12.fixed if f.checker != "simulator") == [
        "batch-bounds",
        "incomplete-batch-conversion:swap_free",
        "ptep-naming",
    ]
    assert _names(f for f in d12.new if f.checker != "simulator") == [
        "incomplete-batch-conversion:arch_do_swap_page"
    ]
    assert _names(f for f in d12.still if f.checker != "simulator") == [
        "batch-bit-uniformity",
        "incomplete-batch-conversion:flush_icache_page",
        "stale-pointer",
        "unchecked-null-pte",
    ]
    static2 = [f for f in rows[2].findings if f.checker != "simulator"]
    assert sorted(f.status for f in static2) == ["new"] + ["still-present"] * 4
    d23 = compare(rows[2].findings, rows[3].findings)
    assert len(d23.fixed) == len(rows[2].findings)  # v3 fixes everything
    assert [(f.severity, f.status) for f in rows[3].findings] == [("note", "new")]
    series = session.scalars(select(SeriesRow)).one()
    assert series.health == "clean" and series.latest_version == 3
    # the stale pointer of v1 is followed into v2 under its new id, then fixed in v3
    stale = next(f for f in rows[1].findings if f.checker == "stale-pointer")
    steps = lineage(session, series, stale.finding_id)
    assert [found is not None for _rev, _review, found in steps] == [True, True, False]
    assert steps[1][2] is not None and steps[1][2].finding_id != stale.finding_id
