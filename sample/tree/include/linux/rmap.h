/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reverse mapping: accounting which page tables map a folio.
 */
#ifndef _LINUX_RMAP_H
#define _LINUX_RMAP_H

#include <linux/mm_types.h>

typedef int rmap_t;

#define RMAP_NONE		((rmap_t)0)
/* The pages are exclusive to this process (anon only). */
#define RMAP_EXCLUSIVE		((rmap_t)(1 << 0))

/*
 * Account @nr_pages pages of @folio, starting with @page, as mapped by
 * ptes of @vma from @address on.  The caller holds the page table lock.
 */
void folio_add_anon_rmap_ptes(struct folio *folio, struct page *page,
			      int nr_pages, struct vm_area_struct *vma,
			      unsigned long address, rmap_t flags);

static inline void folio_add_anon_rmap_pte(struct folio *folio,
					   struct page *page,
					   struct vm_area_struct *vma,
					   unsigned long address, rmap_t flags)
{
	folio_add_anon_rmap_ptes(folio, page, 1, vma, address, flags);
}

#endif /* _LINUX_RMAP_H */
