"""``reviewbot worker``: a Celery worker consuming review tasks from the broker."""

from __future__ import annotations

import argparse
import os

from reviewbot.config import load_config
from reviewbot.errors import UsageError


def run(args: argparse.Namespace) -> int:
    if args.config:
        os.environ["REVIEWBOT_CONFIG"] = os.path.abspath(args.config)
    cfg = load_config()
    if not cfg.broker:
        raise UsageError('no broker configured (broker = "redis://..." or REVIEWBOT_BROKER_URL)')
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    from kombu.transport import resolve_transport

    # "sqla+postgresql://..." is transport "sqla", as kombu reads it
    scheme = cfg.broker.partition("://")[0].partition("+")[0]
    try:  # else Celery dies with two chained KeyError tracebacks
        resolve_transport(scheme)
    except (KeyError, ValueError) as exc:
        raise UsageError(f"broker {cfg.broker!r}: {exc.args[0] if exc.args else exc}") from None
    from workers.celery_app import app

    app.worker_main(
        [
            "worker",
            "--loglevel=INFO",
            f"--concurrency={args.concurrency}",
            "--queues=reviewbot",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )
    return 0
