"""``make screenshots``: docs/screenshots/index.png and series.png.

Loads the sample series (and a few others) into a throwaway SQLite database,
serves the dashboard and photographs it with headless Chromium.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from reviewbot.storage.db import dispose_engine, open_db
from reviewbot.storage.record import record_review
from reviewbot.web import create_app
from tests.storage.factory import LIST_ID, retitled, sample_review
from tests.web.browser import chromium, served
from tests.web.conftest import Loaded, load


def _more(session: Any) -> None:
    """A few more series so that the index looks like a working day."""
    more = [
        (2, "mm: swap: skip the swap cache for synchronous devices", "Eve Pager <eve@example.org>"),
        (1, "mm: zswap: batch the writeback of large folios", "Finn Cgroup <finn@example.org>"),
        (3, "mm: shmem: swap in large folios", "Gus Tmpfs <gus@example.org>"),
    ]
    for version, title, author in more:
        for v in range(1, version + 1):
            record_review(session, retitled(sample_review(v), title, author), list_id=LIST_ID)
    session.commit()


def take(page: Any, base: str, loaded: Loaded, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(base + "/")
    index = out / "index.png"
    page.screenshot(path=str(index), full_page=True)
    page.goto(f"{base}/series/{loaded.sample_id}?from=1&to=2")
    series = out / "series.png"
    page.screenshot(
        path=str(series), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": 1400}
    )
    return index, series


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else "docs/screenshots")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/shots.db"
        with open_db(url)() as s:
            loaded = load(s, hostile_series=False)
            _more(s)
        app = create_app({"DATABASE_URL": url, "REVIEWBOT_WEB_TOKEN": "x"})
        with served(app) as base, chromium() as browser:
            page = browser.new_page()
            for path in take(page, base, loaded, out):
                print(path)
        dispose_engine(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
