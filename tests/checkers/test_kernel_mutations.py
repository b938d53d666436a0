"""Seed the reviewed bugs back into the real Linux 6.12 do_swap_page().

Each case copies mm/memory.c and mm/internal.h from the kernel tree into a
temporary directory (nothing of the kernel is kept in the repository), applies
one textual mutation that recreates a bug of the seed review, and expects
exactly one new finding of severity bug or possible-bug, from the right
checker, in do_swap_page().  The unmutated copy has none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.commands.lint import lint

pytestmark = pytest.mark.kernel_tree

REMAP = "\tvmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, vmf->address,\n\t\t\t&vmf->ptl);\n"
CHECK = "\tif (unlikely(!vmf->pte || !pte_same(ptep_get(vmf->pte), vmf->orig_pte)))\n"
COPY = "\taddress = vmf->address;\n\tptep = vmf->pte;\n"

# (name, file, old, new, expected checker)
MUTATIONS: list[tuple[str, str, list[tuple[str, str]], str]] = [
    (
        "copy-before-remap",
        "mm/memory.c",
        [(COPY, "\taddress = vmf->address;\n"), (REMAP, "\tptep = vmf->pte;\n" + REMAP)],
        "stale-pointer",
    ),
    (
        "no-null-check",
        "mm/memory.c",
        [(CHECK, "\tif (unlikely(!pte_same(ptep_get(vmf->pte), vmf->orig_pte)))\n")],
        "unchecked-null-pte",
    ),
    (
        "single-swap-free",
        "mm/memory.c",
        [("\tswap_free_nr(entry, nr_pages);\n", "\tswap_free(entry);\n")],
        "incomplete-batch-conversion",
    ),
    (
        "no-batch-bounds",
        "mm/memory.c",
        [
            ("folio_start < max(address & PMD_MASK, vma->vm_start)", "false"),
            ("folio_end > pmd_addr_end(address, vma->vm_end)", "false"),
        ],
        "batch-bounds",
    ),
    (
        "batch-ignores-soft-dirty",
        "mm/internal.h",
        [
            (
                "\t\tpte = ptep_get(ptep);\n\n\t\tif (!pte_same(pte, expected_pte))",
                "\t\tpte = pte_swp_clear_soft_dirty(ptep_get(ptep));\n\n"
                "\t\tif (!pte_same(pte, expected_pte))",
            )
        ],
        "batch-bit-uniformity",
    ),
]


def _tree(kernel_tree: Path, tmp_path: Path) -> Path:
    root = tmp_path / "linux"
    (root / "mm").mkdir(parents=True)
    (root / "include").mkdir()
    for rel in ("mm/memory.c", "mm/internal.h"):
        (root / rel).write_bytes((kernel_tree / rel).read_bytes())
    return root


def _blocking(root: Path) -> list[tuple[str, str]]:
    result = lint([root / "mm" / "memory.c"])
    assert result.notes == []
    return [(f.checker, f.function) for f in result.findings if f.severity.blocking]


def test_unmutated_do_swap_page_is_clean(kernel_tree: Path, tmp_path: Path) -> None:
    assert _blocking(_tree(kernel_tree, tmp_path)) == []


Mutation = tuple[str, str, list[tuple[str, str]], str]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_seeded_bug_is_found(kernel_tree: Path, tmp_path: Path, mutation: Mutation) -> None:
    name, path, edits, checker = mutation
    root = _tree(kernel_tree, tmp_path)
    text = (root / path).read_text()
    for old, new in edits:
        # an anchor that no longer matches is a broken test, never a skipped one
        assert text.count(old) == 1, f"{name}: {old!r} is not once in this kernel's {path}"
        text = text.replace(old, new)
    (root / path).write_text(text)
    assert _blocking(root) == [(checker, "do_swap_page")]
