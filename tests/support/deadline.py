"""A wall-clock bound on a block of a test: a hang is a failure, not a stuck CI."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def deadline(seconds: int, what: str = "it") -> Iterator[None]:
    """Fail with AssertionError when the block runs longer than ``seconds`` (SIGALRM:
    the main thread only, as pytest runs tests)."""

    def expired(_sig: int, _frame: object) -> None:
        raise AssertionError(f"{what} took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
