"""Seed each new checker's bug class into a real Linux 6.12 function.

Each case copies one file of the kernel tree into a temporary directory
(nothing of the kernel is kept in the repository), applies one textual
mutation that recreates a bug mm reviewers caught on the list, and expects the
new checker to report it, as bug or possible-bug, in that function; the
unmutated copy gives that function no such finding.  A mutation whose anchor
text is not found exactly once fails: a kernel update that moves the code must
be noticed, not skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.commands.lint import lint

pytestmark = pytest.mark.kernel_tree

# (name, file, function, [(old, new)], checker)
Mutation = tuple[str, str, str, list[tuple[str, str]], str]

MUTATIONS: list[Mutation] = [
    (
        "or-for-and",
        "include/linux/pgtable.h",
        "clear_young_dirty_ptes",
        [("\t\t\tif (flags & CYDP_CLEAR_YOUNG)\n", "\t\t\tif (flags | CYDP_CLEAR_YOUNG)\n")],
        "always-true-flag-test",
    ),
    (
        "helper-already-locks",
        "mm/memory.c",
        "copy_pte_range",
        [
            (
                "\tsrc_pte = pte_offset_map_nolock(src_mm, src_pmd, addr, &src_ptl);\n",
                "\tsrc_pte = pte_offset_map_lock(src_mm, src_pmd, addr, &src_ptl);\n",
            )
        ],
        "lock-pairing",
    ),
    (
        "fault-path-locks-twice",
        "mm/memory.c",
        "handle_pte_fault",
        [
            (
                "\t\tvmf->pte = pte_offset_map_nolock(vmf->vma->vm_mm, vmf->pmd,\n",
                "\t\tvmf->pte = pte_offset_map_lock(vmf->vma->vm_mm, vmf->pmd,\n",
            )
        ],
        "lock-pairing",
    ),
    (
        "error-path-keeps-lock",
        "mm/memory.c",
        "copy_pte_range",
        [("\tif (!src_pte) {\n\t\tpte_unmap_unlock(dst_pte, dst_ptl);\n", "\tif (!src_pte) {\n")],
        "lock-pairing",
    ),
    (
        "unlock-twice-after-merge",
        "mm/memory.c",
        "copy_pte_range",
        [
            (
                "\tpte_unmap_unlock(orig_dst_pte, dst_ptl);\n",
                "\tpte_unmap_unlock(orig_dst_pte, dst_ptl);\n"
                "\tpte_unmap_unlock(orig_dst_pte, dst_ptl);\n",
            )
        ],
        "lock-pairing",
    ),
    (
        "swap-api-on-inverted-kind-test",
        "mm/madvise.c",
        "madvise_free_pte_range",
        [("\t\t\tif (!non_swap_entry(entry)) {\n", "\t\t\tif (non_swap_entry(entry)) {\n")],
        "swap-entry-kind",
    ),
    (
        "swap-api-without-kind-test",
        "mm/madvise.c",
        "swapin_walk_pmd_entry",
        [("\t\tif (unlikely(non_swap_entry(entry)))\n\t\t\tcontinue;\n", "")],
        "swap-entry-kind",
    ),
    (
        "swapcache-clear-one-of-nr",
        "mm/memory.c",
        "do_swap_page",
        [
            (
                "after PTL unlock */\n\tif (need_clear_cache) {\n"
                "\t\tswapcache_clear(si, entry, nr_pages);\n",
                "after PTL unlock */\n\tif (need_clear_cache) {\n"
                "\t\tswapcache_clear(si, entry, 1);\n",
            )
        ],
        "swap-device-pairing",
    ),
    (
        "swap-device-leak-on-error-path",
        "mm/memory.c",
        "do_swap_page",
        [
            (
                "\tif (si)\n\t\tput_swap_device(si);\n\treturn ret;\n}\n",
                "\treturn ret;\n}\n",
            )
        ],
        "swap-device-pairing",
    ),
    (
        "aligned-span-by-subtraction",
        "mm/hugetlb.c",
        "adjust_range_if_pmd_sharing_possible",
        [
            (
                "!(v_end > v_start) ||",
                "!((v_end - v_start) >> PUD_SHIFT) ||",
            )
        ],
        "unsigned-range-underflow",
    ),
    (
        "install-without-pte-same",
        "mm/memory.c",
        "do_swap_page",
        [
            (
                "\tif (unlikely(!vmf->pte || !pte_same(ptep_get(vmf->pte), vmf->orig_pte)))\n",
                "\tif (unlikely(!vmf->pte))\n",
            )
        ],
        "recheck-under-lock",
    ),
]


def _copy(kernel_tree: Path, tmp_path: Path, rel: str) -> Path:
    root = tmp_path / "linux"
    (root / "mm").mkdir(parents=True)
    (root / "include").mkdir()
    dst = root / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes((kernel_tree / rel).read_bytes())
    return dst


def _blocking(path: Path, function: str) -> list[str]:
    result = lint([path])
    assert result.notes == []
    return sorted(
        f.checker for f in result.findings if f.severity.blocking and f.function == function
    )


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_unmutated_function_is_quiet(kernel_tree: Path, tmp_path: Path, mutation: Mutation) -> None:
    _, rel, function, _, checker = mutation
    path = _copy(kernel_tree, tmp_path, rel)
    assert checker not in _blocking(path, function)


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_seeded_bug_is_found(kernel_tree: Path, tmp_path: Path, mutation: Mutation) -> None:
    name, rel, function, edits, checker = mutation
    path = _copy(kernel_tree, tmp_path, rel)
    text = path.read_text()
    for old, new in edits:
        assert text.count(old) == 1, f"{name}: the anchor no longer matches {rel}: {old!r}"
        text = text.replace(old, new)
    path.write_text(text)
    assert checker in _blocking(path, function)


NEW_CHECKERS = {m[4] for m in MUTATIONS}


def test_every_new_checker_has_a_mutation() -> None:
    assert len(NEW_CHECKERS) == 6


def test_include_linux_is_quiet(kernel_tree: Path) -> None:
    # mm/ is covered for every checker by test_kernel_tree.py; the headers the new
    # checkers also read (pgtable.h, swapops.h, mm.h...) must be quiet too.
    result = lint([kernel_tree / "include" / "linux"])
    blocking = [
        f"{f.file}:{f.line}: [{f.checker}] {f.message}"
        for f in result.findings
        if f.severity.blocking and f.checker in NEW_CHECKERS
    ]
    assert blocking == []
    assert result.notes == []


# do_swap_page()'s SWP_SYNCHRONOUS_IO large-folio block re-checks the batch
# under the lock in place; the mTHP swap-in v7 posting did it through a
# helper handed the pointer (can_swapin_thp()), which the checker must read.
_SYNC_IO_RECHECK = (
    "\t\tif (!pte_same(folio_pte, pte_move_swp_offset(vmf->orig_pte, -idx)) ||\n"
    "\t\t    swap_pte_batch(folio_ptep, nr, folio_pte) != nr)\n"
    "\t\t\tgoto out_nomap;\n"
)
_BY_HELPER = "\t\tif (!can_swapin_thp(vmf, folio_ptep, nr))\n\t\t\tgoto out_nomap;\n"
_HELPER_BATCH = "\tif (swap_pte_batch(ptep, nr_pages, pte) != nr_pages)\n\t\treturn false;\n"


def _recheck_questions(path: Path) -> list[int]:
    return [
        f.line
        for f in lint([path]).findings
        if f.checker == "recheck-under-lock" and f.function == "do_swap_page"
    ]


def test_a_batch_rechecked_by_a_helper_is_read_through_it(
    kernel_tree: Path, tmp_path: Path
) -> None:
    path = _copy(kernel_tree, tmp_path, "mm/memory.c")
    text = path.read_text()
    assert _recheck_questions(path) == []  # the unmutated code is quiet
    assert text.count(_SYNC_IO_RECHECK) == 1 and text.count(_HELPER_BATCH) == 1
    path.write_text(text.replace(_SYNC_IO_RECHECK, _BY_HELPER))
    assert _recheck_questions(path) == []  # the helper re-checks the whole batch
    # the same helper without its batch re-check looks at one entry: asked
    path.write_text(text.replace(_SYNC_IO_RECHECK, _BY_HELPER).replace(_HELPER_BATCH, ""))
    assert len(_recheck_questions(path)) == 1
    # and the in-place re-check cut down to one entry is asked too (as before)
    path.write_text(
        text.replace(
            _SYNC_IO_RECHECK,
            "\t\tif (!pte_same(folio_pte, pte_move_swp_offset(vmf->orig_pte, -idx)))\n"
            "\t\t\tgoto out_nomap;\n",
        )
    )
    assert len(_recheck_questions(path)) == 1
