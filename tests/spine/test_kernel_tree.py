"""On the full Linux 6.12 tree: no checkout, the tree untouched, seconds not minutes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reviewbot.devtools.kernel_series import TWO_PATCHES as KERNEL_EDITS
from reviewbot.devtools.kernel_series import make_series
from reviewbot.git import Repo
from reviewbot.pipeline import review_revision
from reviewbot.pipeline.apply import applied
from reviewbot.pipeline.fetch import from_mbox_bytes

pytestmark = pytest.mark.kernel_tree


def test_series_applies_in_an_overlay_of_the_kernel(kernel_tree: Path) -> None:
    repo = Repo(kernel_tree)
    before = repo.snapshot()
    fetched = from_mbox_bytes(make_series(kernel_tree, KERNEL_EDITS))
    assert fetched.revision.base_commit == repo.head()
    t0 = time.perf_counter()
    with applied(kernel_tree, fetched.revision) as a:
        assert a.result.applied and a.result.base_source == "trailer"
        overlay = a.states[0].view.overlay
        # only the touched files are in the index: nothing like a checkout
        assert set(overlay.entries_in_index()) == {"mm/memory.c", "mm/swapfile.c"}
        end = a.states[-1].view.read("mm/memory.c") or b""
        assert b"unsigned long fault_address = vmf->address;" in end
        assert a.states[0].view.find_function("swap_pte_batch") is not None
    assert time.perf_counter() - t0 < 10
    assert repo.snapshot() == before


def test_review_of_the_kernel_series(kernel_tree: Path) -> None:
    fetched = from_mbox_bytes(make_series(kernel_tree, KERNEL_EDITS))
    review = review_revision(fetched.series, fetched.revision, kernel_tree, simulate=False)
    assert review.apply is not None and review.apply.applied
    assert [p.subject for p in fetched.revision.patches] == [e[0] for e in KERNEL_EDITS]
    # a clean, signed, prefixed series: patch-format has nothing to say
    assert [f for f in review.findings if f.checker == "patch-format"] == []
