/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the files of mm/ and not meant for the rest of the
 * kernel.
 */
#ifndef __MM_INTERNAL_H
#define __MM_INTERNAL_H

#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/swapops.h>

/*
 * Resolve a write fault on a present pte that is not writable: copy the
 * page unless it can be reused.  Entered with vmf->pte mapped and locked and
 * vmf->orig_pte its value; returns with the pte unmapped and unlocked.
 */
vm_fault_t do_wp_page(struct vm_fault *vmf);

/* Is @addr inside @vma? */
static inline bool vma_contains(struct vm_area_struct *vma, unsigned long addr)
{
	return addr >= vma->vm_start && addr < vma->vm_end;
}

/* The present pte @pte without the bits that hardware sets on access. */
static inline pte_t pte_clear_access_bits(pte_t pte)
{
	return pte_mkold(pte_mkclean(pte));
}

/**
 * folio_pte_batch - count consecutive present ptes that map one folio
 * @folio: the folio that @pte maps a page of
 * @start_ptep: the first pte of the range, mapped and locked
 * @pte: the value of *@start_ptep
 * @max_nr: the number of ptes to look at, at least 1
 *
 * Starting with @pte, count the ptes that map consecutive pages of
 * @folio and differ from @pte only in their dirty and young bits.  The
 * caller makes sure that the @max_nr ptes are in the same page table.
 *
 * Return: the number of such ptes, between 1 and @max_nr.
 */
static inline int folio_pte_batch(struct folio *folio, pte_t *start_ptep,
				  pte_t pte, int max_nr)
{
	unsigned long end_pfn = folio_pfn(folio) + folio_nr_pages(folio);
	int nr_left = end_pfn - pte_pfn(pte);
	pte_t expected_pte = pte_clear_access_bits(pte);
	int nr;

	VM_WARN_ON(max_nr < 1);
	VM_WARN_ON(!pte_present(pte));

	max_nr = min(max_nr, nr_left);

	for (nr = 1; nr < max_nr; nr++) {
		pte_t cur_pte = ptep_get(start_ptep + nr);

		expected_pte = pte_next_pfn(expected_pte);
		if (!pte_same(pte_clear_access_bits(cur_pte), expected_pte))
			break;
	}
	return nr;
}

/*
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

#endif /* __MM_INTERNAL_H */
