"""Derive the post-images of each revision (sample/revisions/vN/) from sample/tree/.

Each revision of the sample series is the base tree plus the edits below, so the
seeded bugs are written down once, as edits, and a change to the base tree
(a comment, a header) is carried into every revision by re-running this script
instead of by hand.  It writes mm/internal.h, mm/swapfile.c, include/linux/swap.h
and mm/memory.c under sample/revisions/vN/; cover.txt and patchN.txt there are
written by hand.  Then run make_series.py to regenerate the mboxes.

    python sample/derive_revisions.py          # rewrite the post-images
    python sample/derive_revisions.py --check  # exit 1 if any is out of date
"""

# ruff: noqa: E101  (the C below is indented with tabs and aligned with spaces)
from __future__ import annotations

import argparse
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent
TREE = SAMPLE / "tree"
REVISIONS = SAMPLE / "revisions"

# --- patch 1/3: swap_pte_batch() in mm/internal.h ------------------------------

INTERNAL_END = "#endif /* __MM_INTERNAL_H */\n"

# v1 and v2: the expected pte is rebuilt from the swap entry (no soft-dirty,
# no uffd-wp) and both bits are cleared from each scanned pte: seeded bug
# "batch-bit-uniformity".
SWAP_PTE_BATCH_V1 = """/**
 * swap_pte_batch - count consecutive swap ptes of consecutive swap slots
 * @start_ptep: the first pte of the range, mapped and locked
 * @max_nr: the number of ptes to look at, at least 1
 * @pte: the value of *@start_ptep, a swap pte
 *
 * Count the ptes from @start_ptep on that hold consecutive entries of the
 * swap device of @pte, starting with the entry of @pte, and that have the
 * same exclusive bit as @pte.  The caller makes sure that the @max_nr ptes
 * are in the same page table.
 *
 * Return: the number of such ptes, between 1 and @max_nr.
 */
static inline int swap_pte_batch(pte_t *start_ptep, int max_nr, pte_t pte)
{
	swp_entry_t entry = pte_to_swp_entry(pte);
	bool exclusive = pte_swp_exclusive(pte);
	pte_t expected_pte, cur_pte;
	int nr;

	VM_WARN_ON(max_nr < 1);
	VM_WARN_ON(!is_swap_pte(pte));
	VM_WARN_ON(non_swap_entry(entry));

	for (nr = 1; nr < max_nr; nr++) {
		entry = swp_entry(swp_type(entry), swp_offset(entry) + 1);
		expected_pte = swp_entry_to_pte(entry);
		if (exclusive)
			expected_pte = pte_swp_mkexclusive(expected_pte);

		cur_pte = ptep_get(start_ptep + nr);
		cur_pte = pte_swp_clear_soft_dirty(cur_pte);
		cur_pte = pte_swp_clear_uffd_wp(cur_pte);
		if (!pte_same(cur_pte, expected_pte))
			break;
	}
	return nr;
}

"""

# v3: whole ptes are compared, each expected one derived from the previous one.
SWAP_PTE_BATCH_V3 = """/*
 * The swap pte for the slot after the one @pte holds, on the same swap
 * device, with the soft-dirty, uffd-wp and exclusive bits of @pte.
 */
static inline pte_t pte_next_swp_offset(pte_t pte)
{
	swp_entry_t entry = pte_to_swp_entry(pte);
	pte_t next_pte;

	next_pte = swp_entry_to_pte(swp_entry(swp_type(entry),
					      swp_offset(entry) + 1));
	if (pte_swp_soft_dirty(pte))
		next_pte = pte_swp_mksoft_dirty(next_pte);
	if (pte_swp_uffd_wp(pte))
		next_pte = pte_swp_mkuffd_wp(next_pte);
	if (pte_swp_exclusive(pte))
		next_pte = pte_swp_mkexclusive(next_pte);
	return next_pte;
}

/**
 * swap_pte_batch - count consecutive swap ptes of consecutive swap slots
 * @start_ptep: the first pte of the range, mapped and locked
 * @max_nr: the number of ptes to look at, at least 1
 * @pte: the value of *@start_ptep, a swap pte
 *
 * Count the ptes from @start_ptep on that hold consecutive entries of the
 * swap device of @pte, starting with the entry of @pte, and that have
 * exactly the soft-dirty, uffd-wp and exclusive bits of @pte: the caller
 * may apply those bits of @pte to the whole batch.  The caller makes sure
 * that the @max_nr ptes are in the same page table.
 *
 * Return: the number of such ptes, between 1 and @max_nr.
 */
static inline int swap_pte_batch(pte_t *start_ptep, int max_nr, pte_t pte)
{
	pte_t expected_pte = pte;
	int nr;

	VM_WARN_ON(max_nr < 1);
	VM_WARN_ON(!is_swap_pte(pte));
	VM_WARN_ON(non_swap_entry(pte_to_swp_entry(pte)));

	for (nr = 1; nr < max_nr; nr++) {
		expected_pte = pte_next_swp_offset(expected_pte);
		if (!pte_same(ptep_get(start_ptep + nr), expected_pte))
			break;
	}
	return nr;
}

"""

# --- patch 2/3: swap_free_nr() in mm/swapfile.c and include/linux/swap.h ----------

SWAPFILE_ANCHOR = "/* Is more than half of the swap space in use? */"
SWAP_FREE_NR = """/**
 * swap_free_nr - drop a reference to each of a run of swap slots
 * @entry: the swap entry of the first slot
 * @nr_pages: the number of consecutive slots, all on the same device
 *
 * Called when @nr_pages ptes that held consecutive entries starting at
 * @entry no longer do.  Takes the device lock once for the whole run.
 */
void swap_free_nr(swp_entry_t entry, int nr_pages)
{
	struct swap_info_struct *si = swap_entry_to_info(entry);
	unsigned long offset = swp_offset(entry);
	int i;

	if (WARN_ON_ONCE(!si || nr_pages < 1 || offset + nr_pages > si->max))
		return;

	spin_lock(&si->lock);
	for (i = 0; i < nr_pages; i++)
		swap_entry_put_locked(si, offset + i);
	spin_unlock(&si->lock);
}

"""
SWAP_H_OLD = "void swap_free(swp_entry_t entry);\n"
SWAP_H_NEW = SWAP_H_OLD + "void swap_free_nr(swp_entry_t entry, int nr_pages);\n"

# --- patch 3/3: do_swap_page() in mm/memory.c -------------------------------------


def rep(s: str, old: str, new: str) -> str:
    if s.count(old) != 1:
        raise SystemExit(
            f"base tree changed: {old.strip().splitlines()[0]!r} found {s.count(old)} times"
        )
    return s.replace(old, new)


REMAP = """	vmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, vmf->address,
				       &vmf->ptl);
	if (unlikely(!vmf->pte || !pte_same(ptep_get(vmf->pte), vmf->orig_pte)))
		goto out_nomap;
"""


def common(s: str, ptep: str) -> str:
    """The batching every revision does: references, counters, rmap, set_ptes()."""
    s = rep(
        s,
        """	swap_free(entry);
	if (should_try_to_free_swap(folio, vma, vmf->flags))
		folio_free_swap(folio);

	inc_mm_counter(vma->vm_mm, MM_ANONPAGES);
	dec_mm_counter(vma->vm_mm, MM_SWAPENTS);
""",
        """	swap_free(entry);
	if (should_try_to_free_swap(folio, vma, vmf->flags))
		folio_free_swap(folio);

	/* Each pte that maps a page of the folio holds a reference to it. */
	folio_ref_add(folio, nr_pages - 1);
	add_mm_counter(vma->vm_mm, MM_ANONPAGES, nr_pages);
	add_mm_counter(vma->vm_mm, MM_SWAPENTS, -nr_pages);
""",
    )
    s = rep(
        s,
        """	/*
	 * A page that nobody else maps, and that nobody else holds a
	 * reference to, is ours: a write fault can be resolved right here
	 * instead of by a copy-on-write fault later.
	 */
	if (exclusive || folio_ref_count(folio) == 1) {
""",
        """	/*
	 * A folio that nobody else maps, and that nobody else holds a
	 * reference to, is ours once all of it is mapped here: a write fault
	 * can be resolved right here instead of by a copy-on-write fault
	 * later.
	 */
	if (exclusive || (folio_ref_count(folio) == nr_pages &&
			  folio_nr_pages(folio) == nr_pages)) {
""",
    )
    s = rep(
        s,
        """	vmf->orig_pte = pte;

	folio_add_anon_rmap_pte(folio, page, vma, vmf->address, rmap_flags);
	set_pte_at(vma->vm_mm, vmf->address, vmf->pte, pte);
""",
        f"""
	folio_add_anon_rmap_ptes(folio, page, nr_pages, vma, start_address,
				 rmap_flags);
	set_ptes(vma->vm_mm, start_address, {ptep}, pte, nr_pages);
	/* do_wp_page() below works on the pte of the faulting address. */
	vmf->orig_pte = ptep_get(vmf->pte);
""",
    )
    s = rep(
        s,
        """	update_mmu_cache_range(vmf, vma, vmf->address, vmf->pte, 1);
""",
        f"""	update_mmu_cache_range(vmf, vma, start_address, {ptep}, nr_pages);
""",
    )
    return s


BLOCK_HEAD = """
	/* A large folio in the swap cache: try to map all of it at once. */
	if (folio_test_large(folio)) {
		int nr = folio_nr_pages(folio);
		unsigned long idx = folio_page_idx(folio, page);
		unsigned long folio_start = vmf->address - idx * PAGE_SIZE;
"""
BOUNDS = """		unsigned long folio_end = folio_start + nr * PAGE_SIZE;
		pte_t *folio_ptep;
		pte_t folio_pte;

		/* Keep the batch inside the vma and inside this pte table. */
		if (unlikely(folio_start < max(vmf->address & PMD_MASK,
					       vma->vm_start)))
			goto {label};
		if (unlikely(folio_end > pmd_addr_end(vmf->address,
						      vma->vm_end)))
			goto {label};
"""
NOBOUNDS = """		pte_t *folio_ptep;
		pte_t folio_pte;
"""
BLOCK_TAIL = """
		folio_ptep = vmf->pte - idx;
		folio_pte = ptep_get(folio_ptep);
		if (!is_swap_pte(folio_pte) ||
		    pte_to_swp_entry(folio_pte).val != folio->swap.val ||
		    swap_pte_batch(folio_ptep, nr, folio_pte) != nr)
			goto {label};

		start_address = folio_start;
		{ptep} = folio_ptep;
		nr_pages = nr;
		entry = folio->swap;
		page = folio_page(folio, 0);
	}}
"""


def block(bounds: bool, label: str, ptep: str) -> str:
    """The large-folio block; without ``bounds`` it is seeded bug batch-bounds."""
    mid = BOUNDS.replace("{label}", label) if bounds else NOBOUNDS
    return BLOCK_HEAD + mid + BLOCK_TAIL.format(label=label, ptep=ptep)


DECL = "	vm_fault_t ret = 0;\n"


def memory_v1(base: str) -> str:
    """Seeded: stale-pointer, unchecked-null-pte, batch-bit-uniformity (with
    SWAP_PTE_BATCH_V1), swap_free() and flush_icache_page() left single,
    batch-bounds, ptep-naming (start_pte)."""
    s = base
    s = rep(
        s,
        DECL,
        DECL
        + """	int nr_pages = 1;
	unsigned long start_address = vmf->address;
	pte_t *start_pte = vmf->pte;
""",
    )
    remap, check = REMAP.split("	if (unlikely")
    s = rep(
        s,
        REMAP,
        remap + block(False, "check_pte", "start_pte") + "\ncheck_pte:\n	if (unlikely" + check,
    )
    s = common(s, "start_pte")
    s = rep(
        s,
        "	arch_do_swap_page(vma->vm_mm, vma, vmf->address, pte, vmf->orig_pte);\n",
        "	arch_do_swap_page_nr(vma->vm_mm, vma, start_address, pte, vmf->orig_pte,\n"
        "			     nr_pages);\n",
    )
    return s


def memory_v2(base: str) -> str:
    """v1 with swap_free_nr(), the bounds and start_ptep; keeps the stale copy, the
    early NULL use, the bit smearing and flush_icache_page(), and newly calls
    the single-entry arch_do_swap_page()."""
    s = base
    s = rep(
        s,
        DECL,
        DECL
        + """	int nr_pages = 1;
	unsigned long start_address = vmf->address;
	pte_t *start_ptep = vmf->pte;
""",
    )
    remap, check = REMAP.split("	if (unlikely")
    s = rep(
        s,
        REMAP,
        remap + block(True, "check_pte", "start_ptep") + "\ncheck_pte:\n	if (unlikely" + check,
    )
    s = common(s, "start_ptep")
    s = rep(s, "	swap_free(entry);\n", "	swap_free_nr(entry, nr_pages);\n")
    s = rep(
        s,
        "	arch_do_swap_page(vma->vm_mm, vma, vmf->address, pte, vmf->orig_pte);\n",
        "	arch_do_swap_page(vma->vm_mm, vma, start_address, pte, vmf->orig_pte);\n",
    )
    return s


def memory_v3(base: str) -> str:
    """Everything fixed: defaults after the re-map and its check, bounds, batched calls."""
    s = base
    s = rep(
        s,
        DECL,
        DECL
        + """	int nr_pages;
	unsigned long start_address;
	pte_t *start_ptep;
""",
    )
    s = rep(
        s,
        REMAP,
        REMAP
        + """
	/* Unless the whole folio can be mapped, map just the faulting page. */
	nr_pages = 1;
	start_address = vmf->address;
	start_ptep = vmf->pte;
"""
        + block(True, "check_folio", "start_ptep")
        + "\ncheck_folio:\n",
    )
    # the label now sits right before the uptodate check: drop the blank line
    s = rep(
        s,
        "\ncheck_folio:\n\n	if (unlikely(!folio_test_uptodate",
        "\ncheck_folio:\n	if (unlikely(!folio_test_uptodate",
    )
    s = common(s, "start_ptep")
    s = rep(s, "	swap_free(entry);\n", "	swap_free_nr(entry, nr_pages);\n")
    s = rep(
        s, "	flush_icache_page(vma, page);\n", "	flush_icache_pages(vma, page, nr_pages);\n"
    )
    s = rep(
        s,
        "	arch_do_swap_page(vma->vm_mm, vma, vmf->address, pte, vmf->orig_pte);\n",
        "	arch_do_swap_page_nr(vma->vm_mm, vma, start_address, pte, vmf->orig_pte,\n"
        "			     nr_pages);\n",
    )
    return s


def memory_v3_commented(base: str) -> str:
    s = memory_v3(base)
    return rep(
        s,
        """	flush_icache_pages(vma, page, nr_pages);
	if (pte_swp_soft_dirty(vmf->orig_pte))""",
        """	flush_icache_pages(vma, page, nr_pages);
	/* swap_pte_batch() checked that the whole batch has these bits. */
	if (pte_swp_soft_dirty(vmf->orig_pte))""",
    )


MEMORY = {1: memory_v1, 2: memory_v2, 3: memory_v3_commented}


def derive(version: int) -> dict[str, str]:
    """The post-image of every file the series touches, for one revision."""
    internal = (TREE / "mm" / "internal.h").read_text()
    batch = SWAP_PTE_BATCH_V3 if version == 3 else SWAP_PTE_BATCH_V1
    return {
        "mm/internal.h": rep(internal, INTERNAL_END, batch + INTERNAL_END),
        "mm/swapfile.c": rep(
            (TREE / "mm" / "swapfile.c").read_text(),
            SWAPFILE_ANCHOR,
            SWAP_FREE_NR + SWAPFILE_ANCHOR,
        ),
        "include/linux/swap.h": rep(
            (TREE / "include" / "linux" / "swap.h").read_text(), SWAP_H_OLD, SWAP_H_NEW
        ),
        "mm/memory.c": MEMORY[version]((TREE / "mm" / "memory.c").read_text()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    stale = []
    for version in (1, 2, 3):
        for rel, content in derive(version).items():
            path = REVISIONS / f"v{version}" / rel
            if path.exists() and path.read_text() == content:
                continue
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content)
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'}: {path.relative_to(SAMPLE.parent)}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
