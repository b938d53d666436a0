/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Locking folios and finding the page of a folio that holds a given index.
 */
#ifndef _LINUX_PAGEMAP_H
#define _LINUX_PAGEMAP_H

#include <linux/mm.h>

/*
 * The page of @folio that holds @index of its mapping (for a folio in the
 * swap cache: the swap offset).  Folios are naturally aligned, so the low
 * bits of @index select the page.
 */
static inline struct page *folio_file_page(struct folio *folio, pgoff_t index)
{
	return folio_page(folio, index & (folio_nr_pages(folio) - 1));
}

void folio_lock(struct folio *folio);
void folio_unlock(struct folio *folio);

/*
 * Lock @folio for the fault described by @vmf.  Returns 0 with the folio
 * locked, or VM_FAULT_RETRY when the fault may be retried and the folio
 * is not available: the caller then drops what it holds and returns.
 */
vm_fault_t folio_lock_or_retry(struct folio *folio,
			       struct vm_fault *vmf);

#endif /* _LINUX_PAGEMAP_H */
