"""HTML pages through the Flask test client."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from reviewbot.storage.models import RevisionRow
from tests.storage.factory import ATTR, PAYLOAD, sample_review
from tests.web.conftest import Loaded


def _text(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, url
    return response.get_data(as_text=True)


def _titles(html: str) -> list[str]:
    return re.findall(r'<td class="title"><a href="/series/\d+">([^<]*)</a>', html)


def test_index_lists_every_series_with_health(client: FlaskClient, loaded: Loaded) -> None:
    html = _text(client, "/")
    assert "<strong>4</strong> series" in html
    assert "mm: swap: map large folios found in the swap cache in one fault" in _titles(html)
    row = html.split(f'href="/series/{loaded.sample_id}"')[1].split("</tr>")[0]
    assert "health-clean" in row and "v3" in row and "1 note" in row
    assert '<svg class="trend"' in row and row.count('class="bug"') == 2  # v1, v2 bars


def test_filters(client: FlaskClient) -> None:
    assert _titles(_text(client, "/?state=not-applied")) == ["mm: vmscan: fix a stall"]
    assert _titles(_text(client, "/?author=cara")) == ["mm: page_alloc: tidy comments"]
    assert len(_titles(_text(client, "/?path=mm/mem"))) == 3  # hostile touches mm/evil.c
    assert len(_titles(_text(client, "/?path=mm/"))) == 4
    assert _titles(_text(client, "/?list=linux-kernel.vger.kernel.org")) == [
        "mm: page_alloc: tidy comments"
    ]
    assert _titles(_text(client, "/?q=vmscan")) == ["mm: vmscan: fix a stall"]
    msgid = sample_review(2).revision.patches[1].message_id
    assert _titles(_text(client, f"/?q=%3C{msgid}%3E")) == [
        "mm: swap: map large folios found in the swap cache in one fault"
    ]
    assert "No series match." in _text(client, "/?q=nothing-like-this&state=bogus")
    assert "No series match." in _text(client, "/?path=100%25_")  # LIKE wildcards are literal


def test_pagination(client: FlaskClient, app: object) -> None:
    client.application.config["PAGE_SIZE"] = 3
    first = _text(client, "/")
    assert "page 1 of 2" in first and 'rel="next" href="/?page=2"' in first
    second = _text(client, "/?page=2")
    assert len(_titles(second)) == 1 and 'rel="prev"' in second
    assert set(_titles(first)).isdisjoint(_titles(second))
    filtered = _text(client, "/?path=mm/&page=9")  # clamped to the last page
    assert "page 2 of 2" in filtered and 'rel="prev" href="/?path=mm/"' in filtered


def test_series_page_between_v1_and_v2(client: FlaskClient, loaded: Loaded) -> None:
    html = _text(client, f"/series/{loaded.sample_id}?from=1&to=2")
    new = html.split('id="new-findings"')[1].split('id="fixed-findings"')[0]
    fixed = html.split('id="fixed-findings"')[1].split('id="still-findings"')[0]
    still = html.split('id="still-findings"')[1].split("Range-diff")[0]
    assert "New in v2" in new and new.count('<li class="finding') == 1
    assert "arch_do_swap_page() restores one page" in new
    assert "Fixed since v1" in fixed
    assert {"batch-bounds", "ptep-naming", "incomplete-batch-conversion"} == set(
        re.findall(r'<span class="checker">([^<]+)</span>', fixed)
    )
    assert still.count('<li class="finding"') == 4
    assert "Range-diff v1 → v2" in html and "1 ! 1" in html and "2 ! 2" in html
    # per revision findings with code context, the target line marked
    assert 'id="findings-v1"' in html and "ln target add" in html
    assert "Re-run v2" in html and 'name="token"' in html


def test_series_page_defaults_to_latest_pair(client: FlaskClient, loaded: Loaded) -> None:
    html = _text(client, f"/series/{loaded.sample_id}")
    assert "New in v3" in html and "Fixed since v2" in html
    assert "1 = 1" in html  # patch 1 unchanged between v2 and v3
    assert "held" in html and "Approve and send" in html and "sent" in html


def test_finding_page_has_the_reproducer(client: FlaskClient) -> None:
    fid = next(f.id for f in sample_review(1).findings if f.checker == "unchecked-null-pte")
    html = _text(client, f"/findings/{fid}")
    assert "reviewbot simulate --scenario table-freed --order 4 --index 3 2026" in html
    assert "page table freed concurrently" in html
    assert re.search(r"v1: <span class=\"status status-present\">", html)
    assert re.search(r"v3: <span class=\"status status-fixed\">fixed", html)


def test_missing_things_are_404(client: FlaskClient) -> None:
    assert "no such series" in _text(client, "/series/99999", 404)
    assert "no such finding" in _text(client, "/findings/deadbeef", 404)
    _text(client, "/series/abc", 404)


def test_hostile_series_is_escaped(client: FlaskClient, loaded: Loaded) -> None:
    for url in ["/", f"/series/{loaded.hostile_id}", "/?q=%3Cscript%3E"]:
        html = _text(client, url)
        assert "<script" not in html.lower()
        assert "<img" not in html
        assert 'onmouseover="' not in html and 'data-injected="' not in html
        assert 'onerror="' not in html
    html = _text(client, f"/series/{loaded.hostile_id}")
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    fid = re.search(r'href="/findings/([0-9a-f]+)"', html)
    assert fid is not None
    finding = _text(client, f"/findings/{fid.group(1)}")
    assert "<script" not in finding.lower() and PAYLOAD not in finding and ATTR not in finding


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/")
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_unreviewed_revision_is_not_all_fixed(
    client: FlaskClient, loaded: Loaded, db: sessionmaker[Session]
) -> None:
    with db() as s:
        s.add(
            RevisionRow(
                series_id=loaded.sample_id,
                version=4,
                subject="[PATCH v4 0/2] x",
                message_id="v4-cover@example.org",
                state="new",
            )
        )
        s.commit()
    html = _text(client, f"/series/{loaded.sample_id}?from=3&to=4")
    assert 'id="fixed-findings"' not in html
    assert "v4: 0 findings" in html and "Not reviewed yet." in html


def test_series_page_says_what_was_not_reviewed(
    client: FlaskClient, loaded: Loaded, db: sessionmaker[Session]
) -> None:
    from dataclasses import replace

    from reviewbot.models import ApplyStatus, FailedHunk, PatchApply
    from reviewbot.storage.record import record_review
    from tests.storage.factory import LIST_ID, retitled

    review = retitled(sample_review(1), "mm: swap: a series on another tree", "Dee <d@example.org>")
    assert review.apply is not None
    hunk = FailedHunk(
        "arch/x86/include/asm/pgtable.h",
        1,
        "@@ -1588,6 +1588,11 @@ static inline int pte_swp_exclusive(pte_t pte)",
        review.apply.base,
        "context differs at line 1591 of arch/x86/include/asm/pgtable.h",
    )
    patches = (
        PatchApply(1, ApplyStatus.PARTIAL, "1 hunk did not apply", (hunk,)),
        PatchApply(2, ApplyStatus.SKIPPED, "skipped: it needs hunk #1"),
    )
    review = replace(review, apply=replace(review.apply, patches=patches))
    with db() as s:
        recorded = record_review(s, review, list_id=LIST_ID)
        s.commit()
        series_id = recorded.revision.series_id
    html = _text(client, f"/series/{series_id}")
    assert "partially reviewed" in html and ">skipped<" in html
    assert "hunk #1 (<code>@@ -1588,6 +1588,11 @@" in html
    assert "context differs at line 1591 of arch/x86/include/asm/pgtable.h" in html


def test_without_a_token_the_dashboard_offers_no_action_and_says_how(
    db_url: str, loaded: Loaded
) -> None:
    from reviewbot.web import create_app

    with_token = _text(
        create_app({"DATABASE_URL": db_url, "REVIEWBOT_WEB_TOKEN": "t"}).test_client(),
        f"/series/{loaded.sample_id}",
    )
    assert "Mark invalid" in with_token and "Re-run v3" in with_token
    assert "Read-only" not in with_token
    app = create_app({"DATABASE_URL": db_url, "REVIEWBOT_WEB_TOKEN": ""})
    html = _text(app.test_client(), f"/series/{loaded.sample_id}")
    assert "Mark invalid" not in html and "Re-run v" not in html and "Approve and send" not in html
    assert 'name="token"' not in html
    assert (
        "To enable them, start <code>reviewbot serve</code> with <code>REVIEWBOT_WEB_TOKEN</code>"
        in html
    )
