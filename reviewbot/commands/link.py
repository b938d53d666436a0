"""``reviewbot link OLDER NEWER``: link two revisions the watcher could not link."""

from __future__ import annotations

import argparse

from reviewbot.config import load_config
from reviewbot.storage.sessions import sessions_for
from reviewbot.watch.series import link_revisions


def run(args: argparse.Namespace) -> int:
    url = args.database or load_config().database
    with sessions_for(url).begin() as session:
        rev = link_revisions(session, args.older, args.newer)
        print(f"linked: series {rev.series_id} v{rev.version} ({rev.message_id})")
    return 0
