"""What can end a simulated fault early, and the outcomes a run can have.

A ``SimFault`` is a dynamic check firing inside the executed C (a NULL
dereference, a stale pte pointer, BUG_ON, ...).  ``NotModelled`` says the
simulator met something it has no model for; it is never a verdict on the
patch.  Both carry the C source position when the interpreter knows it.
"""

from __future__ import annotations

import enum

from reviewbot.models import SimOutcome

# One enum from the interpreter to storage (reviewbot.models.SimOutcome).
Outcome = SimOutcome


class Kind(enum.Enum):
    """The bug class of a failure (the ``kind`` of a SimRun)."""

    STALE_POINTER = "stale-pointer"
    NULL = "null"
    OUT_OF_BOUNDS = "out-of-bounds"
    UNINITIALISED = "uninitialised"
    BUG_ON = "bug-on"
    LOCK = "lock"
    SMEARED_BIT = "smeared-bit"
    WRONG_COUNT = "wrong-count"
    WRONG_PAGE = "wrong-page"
    PERMISSION = "permission"
    OUTSIDE = "outside-range"
    LOST_FAULT = "lost-fault"
    UNDEFINED = "undefined-behaviour"  # a shift past the width, ...
    BUDGET = "budget"
    NOT_MODELLED = "not-modelled"
    MODEL_ERROR = "model-error"


class SimFault(Exception):
    """A dynamic check fired while executing the revision's C code."""

    def __init__(self, kind: Kind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.file = ""
        self.line = 0
        self.function = ""
        self.named = False  # the message already says which argument was bad

    def locate(self, file: str, line: int, function: str) -> None:
        if not self.line:
            self.file, self.line, self.function = file, line, function


class NotModelled(SimFault):
    def __init__(self, what: str) -> None:
        super().__init__(Kind.NOT_MODELLED, f"not modelled: {what}")
        self.what = what
