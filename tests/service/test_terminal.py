"""Escape sequences from mail never reach a terminal; pipes get the text as it is."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from reviewbot.storage.db import open_db
from reviewbot.storage.models import OutboxRow
from reviewbot.terminal import escape_controls

ROOT = Path(__file__).resolve().parents[2]
EVIL = "Re: [PATCH] mm: \x1b]0;owned\x07 \x1b[2J\x9b31m\r done"


def test_controls_are_escaped_and_colour_kept() -> None:
    assert escape_controls("\x1b[31mred\x1b[0m\n\tok") == "\x1b[31mred\x1b[0m\n\tok"
    assert escape_controls("a\x1b]0;t\x07b\rc\x00") == "a\\x1b]0;t\\x07b\\x0dc\\x00"
    assert escape_controls("\x1b[31m", keep_colour=False) == "\\x1b[31m"


def _run_in_pty(argv: list[str], env: dict[str, str]) -> bytes:
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdout=slave, stderr=slave, env=env, cwd=ROOT)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=30)
    os.close(master)
    return out


def test_outbox_list_on_a_terminal_escapes_a_hostile_subject(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rb.db'}"
    with open_db(url)() as s:
        s.add(OutboxRow(key="k", message_id="m@x", to_addrs="a@b.c", subject=EVIL, raw="x"))
        s.commit()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "reviewbot", "outbox", "--database", url, "list"]
    out = _run_in_pty(argv, env)
    assert b"owned" in out
    assert b"\x1b]" not in out and b"\x07" not in out and b"\x1b[2J" not in out
    assert b"\\x1b]0;owned\\x07" in out
    # through a pipe the bytes are the user's to filter (e.g. into a file)
    piped = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, check=True).stdout
    assert b"\x1b]0;owned" in piped
