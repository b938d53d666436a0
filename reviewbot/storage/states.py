"""The states stored rows move through, one Enum each, shared by the watcher,
the workers, storage and the web.

The values are the strings stored in the database (the columns stay
strings: no migration), so a member compares equal to what a query reads
back: ``row.state == RevisionState.QUEUED``.
"""

from __future__ import annotations

import enum


class RevisionState(enum.StrEnum):
    """``RevisionRow.state``: new -> queued -> reviewed | failed."""

    NEW = "new"  # stored, not yet queued
    QUEUED = "queued"  # waiting for (or in) a worker; a dashboard re-run queues again
    REVIEWED = "reviewed"
    FAILED = "failed"  # the workers gave up


DONE_STATES = frozenset({RevisionState.REVIEWED, RevisionState.FAILED})


class MessageState(enum.StrEnum):
    """``MessageRow.state``: what the watcher made of a stored mail."""

    NEW = "new"  # a patch waiting for the rest of its series
    GROUPED = "grouped"  # part of a revision
    IGNORED = "ignored"  # not a patch, not ours, or a late straggler
    QUARANTINED = "quarantined"  # could not be read or stored: kept aside with its reason


class ReviewStatus(enum.StrEnum):
    """``ReviewRow.status``."""

    DONE = "done"
    FAILED = "failed"  # the reason is in ReviewRow.error


class AttemptState(enum.StrEnum):
    """``TaskAttemptRow.state``: one row per event of a task on a revision."""

    QUEUED = "queued"  # sent to the broker
    ENQUEUE_FAILED = "enqueue-failed"  # the broker could not be reached
    STARTED = "started"
    DONE = "done"
    RETRY = "retry"  # a transient error: tried again with backoff
    FAILED = "failed"
