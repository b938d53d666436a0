"""The JSON API and its OpenAPI description."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from reviewbot.storage.record import record_review
from tests.storage.factory import retitled, sample_review
from tests.web.conftest import Loaded


def _json(client: FlaskClient, url: str, status: int = 200) -> Any:
    response = client.get(url)
    assert response.status_code == status, url
    assert response.is_json
    return response.get_json()


def test_series_list_and_filters(client: FlaskClient, loaded: Loaded) -> None:
    body = _json(client, "/api/series")
    assert body["total"] == 4 and body["pages"] == 1
    sample = next(s for s in body["series"] if s["id"] == loaded.sample_id)
    assert sample["health"] == "clean" and sample["latest_version"] == 3
    assert sample["findings"] == {"bug": 0, "possible-bug": 0, "question": 0, "nit": 0, "note": 1}
    assert [t["version"] for t in sample["trend"]] == [1, 2, 3]
    assert _json(client, "/api/series?state=not-applied")["total"] == 1
    paged = _json(client, "/api/series?per_page=3&page=2")
    assert paged["page"] == 2 and len(paged["series"]) == 1


def test_series_detail_compares(client: FlaskClient, loaded: Loaded) -> None:
    body = _json(client, f"/api/series/{loaded.sample_id}?from=1&to=2")
    v1, v2 = (sample_review(v).findings for v in (1, 2))
    cmp = body["compare"]
    assert (cmp["from"], cmp["to"]) == (1, 2)
    ids1, ids2 = {f.id for f in v1}, {f.id for f in v2}
    assert set(cmp["new"]) == ids2 - ids1
    assert set(cmp["fixed"]) == ids1 - ids2
    assert set(cmp["still_present"]) == ids1 & ids2
    assert [p["kind"] for p in cmp["range_diff"]] == ["!", "!"]
    revs = body["revisions"]
    assert [r["version"] for r in revs] == [1, 2, 3]
    assert all(len(p["patch_id"]) == 40 for r in revs for p in r["patches"])
    assert revs[0]["review"]["simulation"][0]["outcome"] == "fail"
    assert {o["state"] for o in body["outbox"]} == {"held", "sent"}
    _json(client, "/api/series/424242", 404)


def test_finding_detail(client: FlaskClient, loaded: Loaded) -> None:
    fid = next(f.id for f in sample_review(2).findings if f.checker == "stale-pointer")
    body = _json(client, f"/api/findings/{fid}")
    # the vmscan series is a copy of sample v1, so the same finding is there too
    assert sorted((o["series_id"], o["version"]) for o in body["occurrences"]) == [
        (loaded.sample_id, 1),
        (loaded.sample_id, 2),
        (loaded.other_ids[0], 1),
    ]
    mine = [o for o in body["occurrences"] if o["series_id"] == loaded.sample_id]
    assert mine[1]["finding"]["status"] == "still-present"
    repro = mine[0]["simulation"][0]["reproduce"]
    v1_msgid = sample_review(1).revision.cover.message_id  # type: ignore[union-attr]
    assert repro == f"reviewbot simulate --scenario table-freed --order 4 --index 3 {v1_msgid}"
    assert _json(client, "/api/findings/00000000", 404)["error"] == "Not Found"


def test_openapi_describes_every_api_route(app: Flask, client: FlaskClient) -> None:
    doc = _json(client, "/api/openapi.json")
    assert doc["openapi"].startswith("3.1")
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule): {
            m.lower() for m in rule.methods or () if m not in ("HEAD", "OPTIONS")
        }
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
    }
    assert set(doc["paths"]) == set(routes)
    for path, methods in routes.items():
        assert set(doc["paths"][path]) == methods, path
        for op in doc["paths"][path].values():
            names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert names == set(re.findall(r"{(\w+)}", path)), path


def test_reproduce_command_quotes_what_it_must() -> None:
    from reviewbot.web.api import reproduce_command

    assert (
        reproduce_command("table-freed", "a@b") == "reviewbot simulate --scenario table-freed a@b"
    )
    assert reproduce_command("x order=one index=2", "m$(id)@x") == (
        "reviewbot simulate --scenario x --index 2 'm$(id)@x'"
    )
    assert reproduce_command("", "m@x") == "reviewbot simulate --scenario '' m@x"
    assert reproduce_command("zap_pte_range:swap-batch order=4 index=0", "m@x") == (
        "reviewbot simulate --entry zap_pte_range --scenario swap-batch --order 4 --index 0 m@x"
    )


def test_a_review_the_simulator_did_not_run_in_says_why(
    client: FlaskClient, db: sessionmaker[Session]
) -> None:
    """Never more than was run: a review without simulator runs is not shown
    as one whose simulation found nothing; the page and the API say why."""
    note = "simulation: no simulated path touched (the series changes nothing the 60 runs execute)"
    review = replace(
        retitled(sample_review(1), "mm: madvise: tidy", "Dee Advise <dee@example.org>"),
        simulation=None,
        notes=(note,),
    )
    with db() as s:
        series_id = record_review(s, review, list_id="linux-mm.kvack.org").revision.series_id
        s.commit()
    (rev,) = _json(client, f"/api/series/{series_id}")["revisions"]
    assert rev["review"]["simulation"] == []
    assert rev["review"]["simulation_not_run"] == note.removeprefix("simulation: ")
    html = client.get(f"/series/{series_id}").get_data(as_text=True)
    assert "Simulator: no simulated path touched (the series changes nothing" in html
    # a review that ran the simulator has nothing to explain
    sample = _json(client, "/api/series")["series"]
    ran = [s["id"] for s in sample if s["title"].startswith("mm: swap: map large folios")]
    (ran_rev, *_) = _json(client, f"/api/series/{ran[0]}")["revisions"]
    assert ran_rev["review"]["simulation_not_run"] is None
