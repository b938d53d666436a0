/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Instruction cache maintenance for newly mapped pages.  The sample
 * architecture has coherent caches: nothing to do.
 */
#ifndef _LINUX_CACHEFLUSH_H
#define _LINUX_CACHEFLUSH_H

#include <linux/mm_types.h>

static inline void flush_icache_pages(struct vm_area_struct *vma,
				      struct page *page, unsigned int nr)
{
}

static inline void flush_icache_page(struct vm_area_struct *vma,
				     struct page *page)
{
	flush_icache_pages(vma, page, 1);
}

#endif /* _LINUX_CACHEFLUSH_H */
