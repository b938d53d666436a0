"""Callers of a changed helper: the reverse call index and the check stage.

A patch that only makes swap_pte_batch() ignore uffd-wp touches no caller,
yet a caller that maps a whole batch with the first entry's uffd-wp bit is
now wrong: the finding is located in the caller and attributed to the patch.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from checkers.analyses import callers as ci
from reviewbot.pipeline import review_revision
from reviewbot.pipeline.fetch import from_mbox_bytes
from tests.checkers.helpers import FIXTURES
from tests.spine.conftest import Commit, git, make_series, replace_in

IGNORE_UFFD_WP = replace_in(
    "mm/internal.h",
    "\t\tpte = ptep_get(ptep);\n\n\t\tif (!pte_same(pte, expected_pte))",
    "\t\tpte = pte_swp_clear_uffd_wp(ptep_get(ptep));\n\n\t\tif (!pte_same(pte, expected_pte))",
)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWBOT_CACHE_DIR", str(tmp_path / "cache"))
    ci._memory.clear()


def _repo(tmp_path: Path, source: Path, files: list[str] | None = None) -> Path:
    tree = tmp_path / "tree"
    if files is None:
        shutil.copytree(source, tree)
    else:
        for rel in files:
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / rel, tree / rel)
        (tree / "include" / "linux").mkdir(parents=True, exist_ok=True)
    git(tree, "init", "-q", "-b", "master")
    git(tree, "add", "-A")
    git(tree, "commit", "-q", "-m", "Initial tree")
    return tree


def _review(tree: Path, commits: list[Commit]):  # type: ignore[no-untyped-def]
    fetched = from_mbox_bytes(make_series(tree, commits))
    return fetched.revision, review_revision(fetched.series, fetched.revision, tree, simulate=False)


def test_index_finds_callers_and_is_cached(tmp_path: Path) -> None:
    root = FIXTURES / "callers-tree"
    index = ci.for_directory(root)
    assert index.of("swap_pte_batch") == [
        ("mm/swapin.c", "count_swap_batch"),
        ("mm/swapin.c", "map_swap_batch"),
    ]
    assert index.of("pte_next_swp_offset") == [("mm/internal.h", "swap_pte_batch")]
    assert index.of("if") == []
    cached = list((tmp_path / "cache" / "callers").glob("dir-*.json"))
    assert len(cached) == 1
    ci._memory.clear()
    again = ci.for_directory(root)  # from disk
    assert again.callers == index.callers and again is not index


def test_uffd_wp_ignored_by_helper_is_found_in_untouched_caller(tmp_path: Path) -> None:
    tree = _repo(tmp_path, FIXTURES / "callers-tree")
    revision, review = _review(
        tree,
        [
            Commit(
                "mm: swap: explain the batch",
                replace_in(
                    "mm/internal.h",
                    "#define __MM_INTERNAL_H\n",
                    "#define __MM_INTERNAL_H\n\n/* Swap batches. */\n",
                ),
            ),
            Commit("mm: swap: let swap batches ignore uffd-wp", IGNORE_UFFD_WP),
        ],
    )
    found = [f for f in review.findings if f.checker == "batch-bit-uniformity"]
    assert [(f.file, f.function, f.severity.value, f.patch_index) for f in found] == [
        ("mm/swapin.c", "map_swap_batch", "possible-bug", 2)
    ]
    assert found[0].patch_message_id == revision.patches[1].message_id
    assert "uffd-wp" in found[0].message and "pte_swp_clear_uffd_wp" in found[0].message


def test_helper_change_that_keeps_the_guarantee_is_quiet(tmp_path: Path) -> None:
    tree = _repo(tmp_path, FIXTURES / "callers-tree")
    keeps = replace_in(
        "mm/internal.h",
        "\t\texpected_pte = pte_next_swp_offset(expected_pte);\n\t\tptep++;\n",
        "\t\texpected_pte = pte_next_swp_offset(expected_pte);\n\t\tptep += 1;\n",
    )
    _, review = _review(tree, [Commit("mm: swap: step explicitly", keeps)])
    assert [f for f in review.findings if f.severity.blocking] == []


@pytest.mark.kernel_tree
def test_real_do_swap_page_breaks_when_swap_pte_batch_ignores_uffd_wp(
    kernel_tree: Path, tmp_path: Path
) -> None:
    """Linux 6.12's mm/internal.h and mm/memory.c in a scratch repo; the
    series only changes swap_pte_batch() (our own edit, applied at test time)."""
    tree = _repo(tmp_path, kernel_tree, ["mm/internal.h", "mm/memory.c"])
    t0 = time.perf_counter()
    _, review = _review(tree, [Commit("mm: swap: let swap batches ignore uffd-wp", IGNORE_UFFD_WP)])
    assert time.perf_counter() - t0 < 120
    blocking = [f for f in review.findings if f.severity.blocking]
    assert [(f.checker, f.file, f.function, f.patch_index) for f in blocking] == [
        ("batch-bit-uniformity", "mm/memory.c", "do_swap_page", 1)
    ]
