"""The Celery task names, in one place: a contract between the watcher's
dispatcher, the dashboard (which sends a re-review) and the workers
(``workers/tasks.py``, which define them).  ``task_attempts.task`` stores
them too.
"""

from __future__ import annotations

REVIEW_REVISION = "reviewbot.review_revision"  # (revision_id, force=False)
SEND_OUTBOX = "reviewbot.send_outbox"  # ()

# Not a Celery task: the dispatcher's sending of one, as task_attempts records it.
ENQUEUE = "enqueue"
