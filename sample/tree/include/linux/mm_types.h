/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The objects of memory management: pages and folios, address spaces and
 * their areas, page table entries and swap entries.
 */
#ifndef _LINUX_MM_TYPES_H
#define _LINUX_MM_TYPES_H

#include <linux/types.h>
#include <linux/spinlock.h>

/*
 * A page table entry.  The layout is described in <linux/pgtable.h> for a
 * present entry and in <linux/swapops.h> for a swap entry.
 */
typedef struct {
	unsigned long pte;
} pte_t;

typedef struct {
	unsigned long pmd;
} pmd_t;

typedef struct {
	unsigned long pgprot;
} pgprot_t;

/*
 * A swap entry: the swap device (type) and the slot on it (offset),
 * packed into one word as described in <linux/swapops.h>.
 */
typedef struct {
	unsigned long val;
} swp_entry_t;

struct page {
	unsigned long flags;
	unsigned long private;	/* swap entry while in the swap cache */
	int _mapcount;
};

/*
 * A folio is a power-of-two number of contiguous pages managed as one
 * object.  @page is its first page; folio_page() finds the others.
 */
struct folio {
	struct page page;
	unsigned int order;
	int _refcount;
	int _large_mapcount;
	swp_entry_t swap;	/* entry of the first page, if swapcache */
	void *mapping;
	pgoff_t index;
};

enum {
	MM_FILEPAGES,			/* resident file mapping pages */
	MM_ANONPAGES,			/* resident anonymous pages */
	MM_SWAPENTS,			/* anonymous swap entries */
	MM_SHMEMPAGES,			/* resident shared memory pages */
	NR_MM_COUNTERS
};

struct mm_rss_stat {
	long count[NR_MM_COUNTERS];
};

struct mm_struct {
	pmd_t *pmd_table;
	spinlock_t page_table_lock;
	struct mm_rss_stat rss_stat;
};

struct vm_area_struct {
	unsigned long vm_start;	/* first address inside the area */
	unsigned long vm_end;	/* first address after the area */
	struct mm_struct *vm_mm;
	pgprot_t vm_page_prot;
	unsigned long vm_flags;
	pgoff_t vm_pgoff;
};

typedef unsigned int vm_fault_t;

/*
 * What a fault handler knows about the fault it handles.  @pte is only
 * valid while the page table is mapped, and @ptl is the lock that protects
 * the entry it points to.
 */
struct vm_fault {
	struct vm_area_struct *vma;
	unsigned int flags;	/* FAULT_FLAG_xxx */
	unsigned long address;	/* faulting address, page aligned */
	pmd_t *pmd;		/* pmd entry that maps the pte table */
	pte_t orig_pte;		/* the pte when the fault began */
	pte_t *pte;		/* mapped pointer to the pte, or NULL */
	spinlock_t *ptl;	/* page table lock of @pte */
};

#endif /* _LINUX_MM_TYPES_H */
