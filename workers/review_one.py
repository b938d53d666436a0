"""One review in a process of its own: what the watcher runs when there is no broker.

``python -m workers.review_one REVISION_ID`` with the config as JSON on stdin.
The process caps its own address space (``limits.review_memory_mb``) before
loading the pipeline; the watcher kills it after ``limits.review_timeout``.
A hostile series can then exhaust this process, never the watcher, which
goes on polling.
"""

from __future__ import annotations

import json
import logging
import resource
import signal
import sys

from reviewbot.config import parse_config


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # finally blocks run: the overlay is removed


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    cfg = parse_config(json.load(sys.stdin))
    limit = cfg.limits.review_memory_mb * 1024 * 1024
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s review: %(message)s")
    from reviewbot.storage.sessions import sessions_for
    from workers import jobs
    from workers.pipeline import load_pipeline

    revision_id = int(argv[1])
    try:
        result = jobs.review_revision(
            cfg, sessions_for(cfg.database), load_pipeline(cfg.pipeline), revision_id
        )
    except jobs.TransientError as exc:
        logging.warning("revision %d: %s (queued again later)", revision_id, exc)
        return 75  # EX_TEMPFAIL
    logging.info("revision %d: %s", revision_id, result.value)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
