"""The Celery app on Redis, configured for at-least-once delivery.

Defaults are at-most-once: a worker that dies loses its task.  Here a task is
acknowledged only when it finishes (``acks_late``), a pool child killed by a
signal gives its task back (``reject_on_worker_lost``), a worker reserves one
task at a time (prefetch 1) and the hard time limit stays below Redis's
visibility timeout, or a long task would be delivered a second time while
still running.  Duplicates still happen (Redis restarts, kombu issues), which
is why every task is idempotent and the database decides.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from reviewbot.config import Config, load_config
from reviewbot.storage.sessions import dispose_all


def celery_settings(cfg: Config) -> dict[str, Any]:
    w = cfg.worker
    return {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": w.soft_time_limit,
        "task_time_limit": w.time_limit,
        "task_ignore_result": True,
        "task_default_queue": "reviewbot",
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # a worker outlives Redis restarts
        # A review running when Redis goes away finishes and commits; its ack is
        # lost, and a redelivery is harmless (the database decides), so cancelling
        # it would only waste the work done.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "broker_transport_options": {
            "visibility_timeout": w.visibility_timeout,
            # kombu scans for unacked tasks of dead workers every interval*throttle s.
            "unacked_restore_interval": w.restore_interval,
            "unacked_restore_throttle": 1,
            "health_check_interval": 5,
            "socket_timeout": 10,
            "socket_connect_timeout": 5,
        },
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
    }


def make_app(cfg: Config) -> Celery:
    app = Celery("reviewbot", broker=cfg.broker or "memory://", set_as_current=False)
    app.conf.update(celery_settings(cfg))
    return app


@worker_process_init.connect  # type: ignore[untyped-decorator,unused-ignore]
def _fresh_connections(**_: Any) -> None:
    # Pooled database connections must not cross fork().
    dispose_all()
    # A child killed at the hard time limit leaves its overlay: the next one removes it.
    from reviewbot.git import sweep_stale_overlays

    sweep_stale_overlays()


config = load_config()
app = make_app(config)
app.conf.update(include=["workers.tasks"])
