"""Real kernel code stays quiet: all of mm/ of Linux 6.12 gives no finding of
severity bug or possible-bug, and the real do_swap_page() gets the answer the
seed's reviewer had to ask for."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.commands.lint import lint
from reviewbot.models import Severity

pytestmark = pytest.mark.kernel_tree


def test_mm_has_no_blocking_findings(kernel_tree: Path) -> None:
    result = lint([kernel_tree / "mm"], prefilter=False)  # parse every file, for the share
    blocking = [
        f"{f.file}:{f.line}: [{f.checker}] {f.message}"
        for f in result.findings
        if f.severity.blocking
    ]
    assert blocking == []
    nits = [f for f in result.findings if f.severity is Severity.NIT]
    assert len(nits) < 10, [f.message for f in nits]
    assert not any("ptem_ptep" in f.message for f in nits)
    assert result.files > 100 and result.functions > 5000
    share = result.functions_with_parse_errors / result.functions
    assert share <= 0.02, f"{share:.1%} of mm/ functions still have an ERROR node"
    # Nothing in mm/ is hostile: every file and function was analysed.
    assert result.notes == []
    # Skipping the files that mention no trigger word changes nothing but time.
    quick = lint([kernel_tree / "mm"])
    assert quick.files_skipped > 0 and quick.files + quick.files_skipped == result.files
    assert [f.id for f in quick.findings] == [f.id for f in result.findings]


def test_real_do_swap_page_batch_bits_are_explained(kernel_tree: Path) -> None:
    result = lint([kernel_tree / "mm" / "memory.c"])
    notes = [
        f
        for f in result.findings
        if f.checker == "batch-bit-uniformity" and f.function == "do_swap_page"
    ]
    assert len(notes) == 1
    note = notes[0]
    assert note.severity is Severity.NOTE
    assert "soft-dirty" in note.message and "uffd-wp" in note.message
    assert "swap_pte_batch() (mm/internal.h:" in note.message
    assert "pte_same()" in note.message
