"""pytest fixtures around the harnesses (import them in a conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reviewbot.devtools.publicinbox import PublicInbox


@pytest.fixture
def public_inbox(tmp_path: Path) -> Iterator[PublicInbox]:
    """An empty served linux-mm inbox; import with ``.import_mbox()``."""
    pi = PublicInbox(tmp_path / "pi")
    pi.serve()
    try:
        yield pi
    finally:
        pi.stop()
