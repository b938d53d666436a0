"""Errors that carry a message meant for the user, not a traceback."""


class UsageError(Exception):
    """Bad input the user can fix: the CLI prints one line and exits 2."""


class FetchError(UsageError):
    """A series could not be fetched (unknown message-id, unreadable mbox)."""


class TreeError(UsageError):
    """The kernel tree is missing, not a git repository, or lacks the base."""
