"""The check stage checks a function again only where what it reads changed.

A function left as it was is not checked again in the next tree state, but
a change to what its check reads (a helper of the same file it calls, a
function the checker looks up in another file) still shows, and is blamed
on the patch that made it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import pytest

import checkers.engine
from checkers.base import CheckerInfo, Confidence, FunctionChecker, TreeView
from checkers.frontend import FunctionUnit
from reviewbot.models import Finding, Severity
from reviewbot.pipeline import review_revision
from reviewbot.pipeline.fetch import from_mbox_bytes
from tests.spine.conftest import Commit, make_series, replace_in


class HelperChecker(FunctionChecker):
    """Flags demo_swap_fault() when count_swapin() (same file) unlocks, or
    when demo_pte_batch() (another file, through the tree) stops early."""

    info = CheckerInfo(
        "test-helper", "TEST_HELPER", Severity.POSSIBLE_BUG, Confidence.HIGH, "helper changed"
    )
    calls: ClassVar[list[str]] = []

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        self.calls.append(unit.name)
        if unit.name != "demo_swap_fault":
            return []
        out = []
        node = unit.file.functions().get("count_swapin")
        if node is not None and b"unlock" in (node.text or b""):
            out.append(self._finding(unit, "same-file"))
        helper = tree.find_function("demo_pte_batch")
        if helper is not None and "max_nr - 1" in helper.text():
            out.append(self._finding(unit, "other-file"))
        return out

    def _finding(self, unit: FunctionUnit, key: str) -> Finding:
        return Finding(
            self.info.id,
            self.info.severity,
            unit.file.path,
            unit.start_line,
            unit.name,
            f"helper changed ({key})",
            key=key,
        )


@pytest.fixture
def helper_checker(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    HelperChecker.calls = []
    monkeypatch.setattr(checkers.engine, "function_checkers", lambda: (HelperChecker(),))
    return HelperChecker.calls


TOUCH_FAULT = replace_in("mm/memory.c", "\tint nr = 1;\n", "\tint nr = 1;\n\tint unused = 0;\n")
UNLOCK_IN_HELPER = replace_in(
    "mm/memory.c",
    "\tadd_mm_counter(mm, MM_SWAPENTS, -nr);\n",
    "\tadd_mm_counter(mm, MM_SWAPENTS, -nr);\n\tspin_unlock(&mm->page_table_lock);\n",
)
STOP_EARLY = replace_in("mm/internal.h", "while (nr < max_nr &&", "while (nr < max_nr - 1 &&")


def _findings(tree: Path, commits: list[Commit]) -> dict[str, int | None]:
    fetched = from_mbox_bytes(make_series(tree, commits))
    review = review_revision(fetched.series, fetched.revision, tree, simulate=False)
    return {f.key: f.patch_index for f in review.findings if f.checker == "test-helper"}


def test_a_changed_helper_is_seen_in_the_state_it_changed(
    mini_tree: Path, helper_checker: list[str]
) -> None:
    found = _findings(
        mini_tree,
        [
            Commit("mm: demo: touch the fault handler", TOUCH_FAULT),
            Commit("mm: demo: unlock in count_swapin", UNLOCK_IN_HELPER),
            Commit("mm: demo: stop the batch early", STOP_EARLY),
            Commit(
                "mm: demo: test the pte first",
                replace_in("mm/memory.c", "\tif (!vmf->pte)\n", "\tif (vmf->pte == NULL)\n"),
            ),
        ],
    )
    # patch 2 changes a same-file helper, patch 3 a function of another file:
    # demo_swap_fault() itself is as patch 1 left it (patch 4 makes state 3
    # one in between, not the final state, which is checked in full)
    assert found == {"same-file": 2, "other-file": 3}


def test_a_function_left_as_it_was_is_not_checked_again(
    mini_tree: Path, helper_checker: list[str]
) -> None:
    found = _findings(
        mini_tree,
        [
            Commit(
                "mm: demo: count differently",
                replace_in("mm/memory.c", "MM_ANONPAGES, nr);", "MM_ANONPAGES, nr + 0);"),
            ),
            Commit(
                "mm: demo: test the pte first",
                replace_in("mm/memory.c", "\tif (!vmf->pte)\n", "\tif (vmf->pte == NULL)\n"),
            ),
            Commit(
                "mm: demo: count once more",
                replace_in("mm/memory.c", "MM_SWAPENTS, -nr);", "MM_SWAPENTS, -nr + 0);"),
            ),
        ],
    )
    assert found == {}
    # four states (base, 1, 2, 3); base and final are checked in full, and the
    # states in between only for functions with a finding the base lacks: none
    assert helper_checker.count("count_swapin") == 2
    assert helper_checker.count("fault_pte_unchanged") == 2
    assert helper_checker.count("demo_swap_fault") == 2
