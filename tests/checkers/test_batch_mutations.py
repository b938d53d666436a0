"""Batches outside do_swap_page, seeded into the real Linux 6.12 tree at test time.

Each case copies the files it needs from the kernel tree into a temporary
directory (nothing of the kernel is kept in the repository), rewrites one
function's text with edits written here, and lints the copy.  The edits are
our own sketches of series reviewed on linux-mm (batched unmap of lazyfree
large folios in try_to_unmap_one()), not copies of them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reviewbot.commands.lint import lint
from reviewbot.models import Finding

pytestmark = pytest.mark.kernel_tree

Edit = tuple[str, str]

# A wrapper that forms a batch only for lazyfree folios, never for hwpoison,
# clamped to the PMD and the VMA (written for these tests).
WRAPPER = """
static unsigned int lazyfree_unmap_batch(struct folio *folio,
		struct vm_area_struct *vma, unsigned long addr, pte_t *ptep,
		enum ttu_flags flags, pte_t pte)
{
	unsigned long end = pmd_addr_end(addr, vma->vm_end);
	int max_nr = (end - addr) >> PAGE_SHIFT;

	if (flags & TTU_HWPOISON)
		return 1;
	if (!folio_test_large(folio))
		return 1;
	if (!folio_test_anon(folio) || folio_test_swapbacked(folio))
		return 1;
	if (pte_unused(pte))
		return 1;
	return folio_pte_batch(folio, addr, ptep, pte, max_nr,
		FPB_IGNORE_DIRTY | FPB_IGNORE_SOFT_DIRTY, NULL, NULL, NULL);
}

"""
LAZYFREE: list[Edit] = [
    ("\tunsigned long hsz = 0;\n", "\tunsigned long hsz = 0;\n\tunsigned int nr_pages;\n"),
    (
        "\twhile (page_vma_mapped_walk(&pvmw)) {\n",
        "\twhile (page_vma_mapped_walk(&pvmw)) {\n\t\tnr_pages = 1;\n",
    ),
    (
        "\t\t\tflush_cache_page(vma, address, pfn);\n",
        "\t\t\tflush_cache_page(vma, address, pfn);\n"
        "\t\t\tnr_pages = lazyfree_unmap_batch(folio, vma, address, pvmw.pte,\n"
        "\t\t\t\t\t\t\tflags, pteval);\n",
    ),
    (
        "\t\t\t\tpteval = ptep_clear_flush(vma, address, pvmw.pte);\n",
        "\t\t\t\tpteval = get_and_clear_full_ptes(mm, address, pvmw.pte,\n"
        "\t\t\t\t\t\t\t\t nr_pages, 0);\n",
    ),
    (
        "\t\t\t\t\tdec_mm_counter(mm, MM_ANONPAGES);\n\t\t\t\t\tgoto discard;\n",
        "\t\t\t\t\tadd_mm_counter(mm, MM_ANONPAGES, -nr_pages);\n\t\t\t\t\tgoto discard;\n",
    ),
    (
        "\t\t\t\t * discarded. Remap the page to page table.\n\t\t\t\t */\n"
        "\t\t\t\tset_pte_at(mm, address, pvmw.pte, pteval);\n",
        "\t\t\t\t * discarded. Remap the page to page table.\n\t\t\t\t */\n"
        "\t\t\t\tset_ptes(mm, address, pvmw.pte, pteval, nr_pages);\n",
    ),
    (
        "\t\t\tfolio_remove_rmap_pte(folio, subpage, vma);\n",
        "\t\t\tfolio_remove_rmap_ptes(folio, subpage, nr_pages, vma);\n",
    ),
]


def mutate_function(
    root: Path, rel: str, function: str, edits: list[Edit], before: str = ""
) -> None:
    """Apply ``edits`` inside ``function``'s text only (each must match once
    there), and put ``before`` in front of the function."""
    path = root / rel
    text = path.read_text()
    m = re.search(rf"(?m)^static [^\n(;]*\b{function}\(", text)
    if m is None:
        pytest.skip(f"this kernel's {rel} has no {function}()")
    start = m.start()
    end = text.index("\n}\n", start) + 3
    body = text[start:end]
    for old, new in edits:
        if body.count(old) != 1:
            pytest.skip(f"this kernel's {function}() does not have the expected shape")
        body = body.replace(old, new)
    path.write_text(text[:start] + before + body + text[end:])


def copy_tree(kernel_tree: Path, tmp_path: Path, *rels: str) -> Path:
    root = tmp_path / "linux"
    for rel in ("mm/internal.h", *rels):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes((kernel_tree / rel).read_bytes())
    return root


def findings_in(root: Path, rel: str, function: str) -> list[Finding]:
    result = lint([root / rel])
    return [f for f in result.findings if f.function == function]


def blocking(found: list[Finding]) -> list[tuple[str, str]]:
    return [(f.checker, f.message) for f in found if f.severity.blocking]


def test_lazyfree_batch_in_try_to_unmap_one_is_quiet(kernel_tree: Path, tmp_path: Path) -> None:
    """The batch is only formed for lazyfree folios and never for hwpoison:
    the swapbacked, file, hwpoison and pte_unused paths are single-entry."""
    root = copy_tree(kernel_tree, tmp_path, "mm/rmap.c")
    mutate_function(root, "mm/rmap.c", "try_to_unmap_one", LAZYFREE, WRAPPER)
    found = findings_in(root, "mm/rmap.c", "try_to_unmap_one")
    assert blocking(found) == []
    assert [f for f in found if f.checker == "incomplete-batch-conversion"] == []


@pytest.mark.parametrize(
    ("name", "undo", "single"),
    [
        (
            "lazyfree-counter",
            LAZYFREE[4],
            "dec_mm_counter",
        ),
        ("discard-rmap", LAZYFREE[6], "folio_remove_rmap_pte"),
    ],
)
def test_single_entry_call_on_the_batching_path_is_found(
    kernel_tree: Path, tmp_path: Path, name: str, undo: Edit, single: str
) -> None:
    root = copy_tree(kernel_tree, tmp_path, "mm/rmap.c")
    edits = [e for e in LAZYFREE if e != undo]
    mutate_function(root, "mm/rmap.c", "try_to_unmap_one", edits, WRAPPER)
    found = blocking(findings_in(root, "mm/rmap.c", "try_to_unmap_one"))
    assert [c for c, _ in found] == ["incomplete-batch-conversion"], found
    assert f"{single}() at line" in found[0][1]


def test_batch_formed_without_the_hwpoison_exclusion_is_found(
    kernel_tree: Path, tmp_path: Path
) -> None:
    """Without the wrapper's TTU_HWPOISON exclusion the hwpoison path may see
    nr_pages > 1 after get_and_clear_full_ptes(..., nr_pages): it then drops
    one counter and goes on to folio_remove_rmap_ptes(..., nr_pages)."""
    root = copy_tree(kernel_tree, tmp_path, "mm/rmap.c")
    wrapper = WRAPPER.replace("\tif (flags & TTU_HWPOISON)\n\t\treturn 1;\n", "")
    assert wrapper != WRAPPER
    mutate_function(root, "mm/rmap.c", "try_to_unmap_one", LAZYFREE, wrapper)
    found = [f for f in findings_in(root, "mm/rmap.c", "try_to_unmap_one") if f.severity.blocking]
    assert [(f.checker, f.key) for f in found] == [
        ("incomplete-batch-conversion", "dec_mm_counter")
    ]
    lines = (root / "mm/rmap.c").read_text().splitlines()
    assert any("TTU_HWPOISON" in t for t in lines[found[0].line - 12 : found[0].line])


def test_madvise_batch_from_folio_size_is_found(kernel_tree: Path, tmp_path: Path) -> None:
    root = copy_tree(kernel_tree, tmp_path, "mm/madvise.c")
    assert blocking(findings_in(root, "mm/madvise.c", "madvise_folio_pte_batch")) == []
    path = root / "mm/madvise.c"
    text = path.read_text()
    old = "\tint max_nr = (end - addr) / PAGE_SIZE;\n"
    if text.count(old) != 1:
        pytest.skip("this kernel's madvise_folio_pte_batch() does not have the expected shape")
    path.write_text(text.replace(old, "\tint max_nr = folio_nr_pages(folio);\n"))
    found = blocking(findings_in(root, "mm/madvise.c", "madvise_folio_pte_batch"))
    assert [c for c, _ in found] == ["batch-bounds"]
    assert "folio_nr_pages() at line" in found[0][1] and "pmd_addr_end" in found[0][1]


def test_unmap_wrapper_without_pmd_clamp_is_found(kernel_tree: Path, tmp_path: Path) -> None:
    """The lazyfree wrapper scanning the whole folio from its first entry."""
    root = copy_tree(kernel_tree, tmp_path, "mm/rmap.c")
    wrapper = WRAPPER.replace(
        "\tunsigned long end = pmd_addr_end(addr, vma->vm_end);\n"
        "\tint max_nr = (end - addr) >> PAGE_SHIFT;\n",
        "\tint max_nr = folio_nr_pages(folio);\n",
    )
    assert wrapper != WRAPPER
    mutate_function(root, "mm/rmap.c", "try_to_unmap_one", LAZYFREE, wrapper)
    assert blocking(findings_in(root, "mm/rmap.c", "try_to_unmap_one")) == []
    found = blocking(findings_in(root, "mm/rmap.c", "lazyfree_unmap_batch"))
    assert [c for c, _ in found] == ["batch-bounds"]


ZAP_RETRY: list[Edit] = [
    (
        "\ttlb_change_page_size(tlb, PAGE_SIZE);\n\tinit_rss_vec(rss);\n",
        "retry:\n\ttlb_change_page_size(tlb, PAGE_SIZE);\n\tinit_rss_vec(rss);\n",
    ),
    (
        "\tif (force_flush)\n\t\ttlb_flush_mmu(tlb);\n\n\treturn addr;\n",
        "\tif (force_flush)\n\t\ttlb_flush_mmu(tlb);\n\n"
        "\tif (addr != end) {\n\t\tcond_resched();\n\t\tgoto retry;\n\t}\n\treturn addr;\n",
    ),
]
RESET_AFTER: Edit = (
    "retry:\n\ttlb_change_page_size(tlb, PAGE_SIZE);\n",
    "retry:\n\tforce_flush = false;\n\tforce_break = false;\n"
    "\ttlb_change_page_size(tlb, PAGE_SIZE);\n",
)


def _zap_retry(kernel_tree: Path, tmp_path: Path, reset_after: bool) -> list[Finding]:
    root = copy_tree(kernel_tree, tmp_path, "mm/memory.c")
    mutate_function(root, "mm/memory.c", "zap_pte_range", ZAP_RETRY)
    if reset_after:
        path = root / "mm/memory.c"
        path.write_text(path.read_text().replace(*RESET_AFTER))
    return findings_in(root, "mm/memory.c", "zap_pte_range")


def test_zap_flags_reset_before_retry_are_found(kernel_tree: Path, tmp_path: Path) -> None:
    """A retry loop in zap_pte_range() (newer kernels have one) whose
    force_flush/force_break are reset only once, before the label."""
    found = blocking(_zap_retry(kernel_tree, tmp_path, reset_after=False))
    assert [c for c, _ in found] == ["stale-pointer", "stale-pointer"]
    assert {m.split(" ", 1)[0] for _, m in found} == {"force_flush", "force_break"}
    assert all("before the retry: label" in m for _, m in found)


def test_zap_flags_reset_after_retry_are_quiet(kernel_tree: Path, tmp_path: Path) -> None:
    assert blocking(_zap_retry(kernel_tree, tmp_path, reset_after=True)) == []
