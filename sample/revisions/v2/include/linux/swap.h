/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Swap devices, the swap cache and swap-in.
 */
#ifndef _LINUX_SWAP_H
#define _LINUX_SWAP_H

#include <linux/gfp.h>
#include <linux/mm_types.h>
#include <linux/spinlock.h>
#include <linux/swapops.h>

/*
 * One swap device.  swap_map[offset] counts the references to the slot at
 * offset: the ptes and the swap cache that point to it.  A slot is free
 * when its count is zero.
 */
struct swap_info_struct {
	spinlock_t lock;		/* protects swap_map and inuse_pages */
	unsigned long flags;
	unsigned int type;
	unsigned char *swap_map;
	unsigned long max;		/* number of slots */
	unsigned int inuse_pages;
};

#define SWP_USED		(1UL << 0)
#define SWP_WRITEOK		(1UL << 1)

extern struct swap_info_struct *swap_info[];
extern unsigned int nr_swapfiles;

void swap_free(swp_entry_t entry);
void swap_free_nr(swp_entry_t entry, int nr_pages);
bool vm_swap_full(void);
bool folio_free_swap(struct folio *folio);

/* The swap entry of @page, which belongs to a folio in the swap cache. */
swp_entry_t page_swap_entry(struct page *page);

/*
 * Find the folio that caches @entry, with a reference held, or NULL if
 * the entry is not in the swap cache.
 */
struct folio *swap_cache_get_folio(swp_entry_t entry,
				   struct vm_area_struct *vma,
				   unsigned long addr);

/*
 * Read @entry, and maybe the entries around it, from swap into the swap
 * cache.  Returns the folio that holds @entry, with a reference held, or
 * NULL when memory could not be allocated.
 */
struct folio *swapin_readahead(swp_entry_t entry, gfp_t gfp_mask,
			       struct vm_fault *vmf);

#endif /* _LINUX_SWAP_H */
