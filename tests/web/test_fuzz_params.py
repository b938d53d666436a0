"""Hypothesis over the dashboard's URLs: any path segment and query string, never a 500.

Each example is one GET of a dashboard page or API route with generated
values for its parameters (NULs, escapes, huge and negative numbers, "v"
prefixes, Unicode digits, very long strings, repeated keys), on SQLite and
on the real PostgreSQL.  The answer is 200, 400 or 404, and an API answer
is JSON.  Fixed budget (derandomized), so CI runs the same cases every time.
"""

from __future__ import annotations

from urllib.parse import quote

from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.web.conftest import Loaded

_VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "1",
            "2",
            "3",
            "-1",
            "v2",
            "vv2",
            "+3",
            " 2",
            "2 ",
            "0x10",
            "1e3",
            "²",
            "١",
            str(2**31),
            str(2**63),
            str(-(2**63) - 1),
            "9" * 40,
            "9" * 5000,
            "clean",
            "bugs",
            "not-applied",
            "mm/",
            "%",
            "_",
            "\\",
            "'",
            '"',
            "\x00",
            "\x1b]0;x\x07",
            "\udcff",
            "x" * 600,
        ]
    ),
    st.text(max_size=20),
)
_KEYS = st.sampled_from(
    ["page", "per_page", "state", "author", "path", "list", "q", "from", "to", "notice", "x"]
)
_QUERY = st.lists(st.tuples(_KEYS, _VALUES), max_size=5)


def _url(path: str, query: list[tuple[str, str]]) -> str:
    enc = "&".join(
        f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}" for k, v in query
    )
    return f"{path}?{enc}" if enc else path


@settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(
        [
            "/",
            "/series/{id}",
            "/findings/{id}",
            "/api/series",
            "/api/series/{id}",
            "/api/findings/{id}",
        ]
    ),
    ident=st.one_of(st.sampled_from(["{sample}", "0", "-1", str(2**63)]), _VALUES),
    query=_QUERY,
)
def test_any_dashboard_url_is_never_a_500(
    client: FlaskClient, loaded: Loaded, route: str, ident: str, query: list[tuple[str, str]]
) -> None:
    ident = ident.replace("{sample}", str(loaded.sample_id))
    path = route.replace(
        "{id}", quote(ident.encode("utf-8", "surrogatepass"), safe="") or str(loaded.sample_id)
    )
    resp = client.get(_url(path, query))
    assert resp.status_code in (200, 400, 404), (path, query, resp.get_data(as_text=True)[:300])
    if path.startswith("/api/"):
        assert resp.is_json
