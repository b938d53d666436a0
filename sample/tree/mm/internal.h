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

#endif /* __MM_INTERNAL_H */
