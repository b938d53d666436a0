"""The people who replied in a patch's thread, read from the stored mail.

The watcher stores every mail; a reply (not a patch) keeps its author as one
address (``MessageRow.sender``) and the ids it answers (``MessageRefRow``:
its In-Reply-To and References, at most :data:`MAX_REFS` of them).  A reply
"in the thread" of a patch names the patch's Message-ID there; for the cover
letter, the cover's.  The bot's own mails (their Message-ID in the outbox)
never count.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from reviewbot.storage.clean import clean_id
from reviewbot.storage.models import MessageRefRow, MessageRow, OutboxRow

MAX_REFS = 40  # ids kept per mail: the first and the last 20 (the root, the patch, the parent)
MAX_REPLIES = 500  # replies read per thread, at most: no cap on recipients is larger


def thread_refs(references: Sequence[str]) -> list[str]:
    """The ids of a mail worth keeping, each once: its first and last ones."""
    ids = list(dict.fromkeys(clean_id(r) for r in references if r and r.strip()))
    ids = [i for i in ids if i]
    if len(ids) > MAX_REFS:
        half = MAX_REFS // 2
        ids = ids[:half] + ids[-half:]
    return ids


def repliers(session: Session, message_id: str) -> list[str]:
    """Who replied under ``message_id``, in order of arrival, each once (as stored)."""
    ref = clean_id(message_id)
    if not ref:
        return []
    ours = exists().where(OutboxRow.message_id == MessageRow.message_id)
    rows = session.execute(
        select(MessageRow.sender)
        .join(MessageRefRow, MessageRefRow.message_row_id == MessageRow.id)
        .where(MessageRefRow.ref == ref, MessageRow.sender.is_not(None), ~ours)
        .order_by(MessageRow.id)
        .limit(MAX_REPLIES)
    ).scalars()
    return list(dict.fromkeys(s for s in rows if s))
