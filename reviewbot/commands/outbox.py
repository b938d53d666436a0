"""``reviewbot outbox list|approve|send|resolve``: the maintainer's side of the outbox.

``resolve`` settles a reply whose delivery is in doubt (``delivering``: DATA
may have gone out and the list's copy has not come back yet; ``unconfirmed``:
it did not come back in time; ``sending``): by default it went out (``sent``),
with ``--resend`` it did not (``pending``).
"""

from __future__ import annotations

import argparse
import dataclasses

from sqlalchemy import select

from reviewbot.config import load_config
from reviewbot.errors import UsageError
from reviewbot.outbox import approve, resolve, send_due
from reviewbot.storage.models import OutboxRow
from reviewbot.storage.sessions import sessions_for


def _ids(raw: list[str]) -> list[int]:
    try:
        return [int(x) for x in raw]
    except ValueError:
        raise UsageError(f"outbox ids are numbers: {' '.join(raw)}") from None


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if args.database:
        cfg = dataclasses.replace(cfg, database=args.database)
    sessions = sessions_for(cfg.database)
    ids = _ids(args.ids)
    if args.action == "list":
        with sessions() as session:
            q = select(OutboxRow).order_by(OutboxRow.id)
            if ids:
                q = q.where(OutboxRow.id.in_(ids))
            rows = list(session.scalars(q))
            for row in rows:
                note = f"  ({row.last_error})" if row.last_error else ""
                print(f"{row.id:5d} {row.state:11s} {row.to_addrs[:40]:40s} {row.subject}{note}")
            if not rows:
                print("outbox: no replies" + (" with those ids" if ids else ""))
        return 0
    if args.action == "send":
        stats = send_due(sessions, cfg)
        print(
            f"sent {stats.sent}, retry {stats.retry}, failed {stats.failed}, "
            f"ambiguous {stats.ambiguous}, rate-limited {stats.rate_limited}, "
            f"released {stats.released}, unconfirmed {stats.unconfirmed}"
        )
        return 0 if not (stats.failed or stats.ambiguous or stats.unconfirmed) else 1
    if not ids:
        raise UsageError(f"outbox {args.action} needs one or more ids")
    with sessions.begin() as session:
        if args.action == "approve":
            n = approve(session, ids)
        else:
            n = resolve(session, ids, resend=bool(getattr(args, "resend", False)))
    print(f"{args.action}: {n} of {len(ids)} rows changed")
    return 0 if n == len(ids) else 1
