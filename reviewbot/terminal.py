"""Text from mail, made harmless before it reaches a terminal.

A Subject such as ``=?utf-8?q?=1B]0;pwned=07?=`` decodes to an escape
sequence: printed as is, it retitles the window, moves the cursor or hides
lines.  When stdout or stderr is a terminal, ``reviewbot`` writes through
:class:`EscapingWriter`: C0 and C1 control characters other than newline and
tab are shown as ``\\xNN``; the colour codes reviewbot itself emits (SGR,
``ESC [ ... m``) pass.
"""

from __future__ import annotations

import re
from typing import TextIO

_CONTROL = re.compile(r"\x1b\[[0-9;]{0,32}m|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str, keep_colour: bool = True) -> str:
    def sub(m: re.Match[str]) -> str:
        s = m.group(0)
        if len(s) > 1 and keep_colour:
            return s
        return "".join(f"\\x{ord(c):02x}" if c < " " or "\x7f" <= c <= "\x9f" else c for c in s)

    return _CONTROL.sub(sub, text)


class EscapingWriter:
    """A text stream that escapes control characters on their way out."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(escape_controls(text))
        return len(text)

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def guard(stream: TextIO) -> TextIO:
    """``stream`` itself when it is no terminal (pipes get the bytes), else escaped."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return EscapingWriter(stream) if tty else stream  # type: ignore[return-value]
