"""Shared fixtures.  Per-area fixtures live in the area's own conftest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KERNEL_TREE = Path(os.environ.get("REVIEWBOT_KERNEL_TREE", ROOT / ".cache" / "linux-6.12"))


@pytest.fixture(scope="session")
def kernel_tree() -> Path:
    """The scratch git repo of Linux 6.12 built by ``make kernel-tree``."""
    if not (KERNEL_TREE / "mm" / "memory.c").exists():
        if os.environ.get("CI"):
            pytest.fail(f"kernel tree missing at {KERNEL_TREE}: run make kernel-tree")
        pytest.skip(f"kernel tree missing at {KERNEL_TREE}: run make kernel-tree")
    return KERNEL_TREE
