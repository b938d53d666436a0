"""The loopback lore used by the fetch and watcher tests really serves mail."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import pytest

from reviewbot.devtools.publicinbox import PublicInbox
from tests.support.fixtures import public_inbox  # noqa: F401

pytestmark = pytest.mark.services

MAIL = b"""From ada@example.org Mon Nov  2 09:30:00 2026
From: Ada Swapwright <ada@example.org>
To: linux-mm@kvack.org
Subject: [PATCH] mm: test message
Date: Mon, 02 Nov 2026 09:30:00 +0000
Message-Id: <harness-1@example.org>
List-Id: <linux-mm.kvack.org>

body
"""


def test_import_then_fetch_raw_and_clone(public_inbox: PublicInbox, tmp_path: Path) -> None:  # noqa: F811
    public_inbox.import_mbox(MAIL)
    with urllib.request.urlopen(f"{public_inbox.url}/harness-1@example.org/raw") as resp:
        assert b"Subject: [PATCH] mm: test message" in resp.read()
    dest = tmp_path / "mirror.git"
    subprocess.run(
        ["git", "clone", "-q", "--mirror", f"{public_inbox.url}/git/0.git", str(dest)], check=True
    )
    out = subprocess.run(
        ["git", "-C", str(dest), "log", "--format=%s"], check=True, capture_output=True, text=True
    ).stdout
    assert "mm: test message" in out
