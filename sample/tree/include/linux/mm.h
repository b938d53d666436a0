/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Folios, mm counters and the fault interface of the sample tree.
 */
#ifndef _LINUX_MM_H
#define _LINUX_MM_H

#include <linux/compiler.h>
#include <linux/mm_types.h>
#include <linux/mmdebug.h>
#include <linux/pgtable.h>
#include <linux/vmstat.h>

#define VM_READ			0x00000001UL
#define VM_WRITE		0x00000002UL
#define VM_EXEC			0x00000004UL
#define VM_SHARED		0x00000008UL
#define VM_LOCKED		0x00002000UL

#define FAULT_FLAG_WRITE	0x01u
#define FAULT_FLAG_ALLOW_RETRY	0x04u
#define FAULT_FLAG_USER		0x40u

#define VM_FAULT_OOM		0x000001u
#define VM_FAULT_SIGBUS		0x000002u
#define VM_FAULT_MAJOR		0x000004u
#define VM_FAULT_HWPOISON	0x000010u
#define VM_FAULT_RETRY		0x000400u
#define VM_FAULT_ERROR		(VM_FAULT_OOM | VM_FAULT_SIGBUS | \
				 VM_FAULT_HWPOISON)

enum pageflags {
	PG_locked,
	PG_uptodate,
	PG_dirty,
	PG_swapcache,
	PG_mlocked,
	PG_anon_exclusive,
	PG_hwpoison,
};

static inline bool folio_test_locked(const struct folio *folio)
{
	return folio->page.flags & (1UL << PG_locked);
}

static inline bool folio_test_uptodate(const struct folio *folio)
{
	return folio->page.flags & (1UL << PG_uptodate);
}

static inline bool folio_test_swapcache(const struct folio *folio)
{
	return folio->page.flags & (1UL << PG_swapcache);
}

static inline bool folio_test_mlocked(const struct folio *folio)
{
	return folio->page.flags & (1UL << PG_mlocked);
}

static inline bool folio_test_large(const struct folio *folio)
{
	return folio->order > 0;
}

static inline long folio_nr_pages(const struct folio *folio)
{
	return 1L << folio->order;
}

/* The @n'th page of @folio, and the index of @page within its folio. */
struct page *folio_page(struct folio *folio, unsigned long n);
unsigned long folio_page_idx(const struct folio *folio,
			     const struct page *page);
unsigned long folio_pfn(const struct folio *folio);
unsigned long page_to_pfn(const struct page *page);

static inline int folio_ref_count(const struct folio *folio)
{
	return READ_ONCE(folio->_refcount);
}

void folio_ref_add(struct folio *folio, int nr);
void folio_put(struct folio *folio);

static inline void add_mm_counter(struct mm_struct *mm, int member, long value)
{
	mm->rss_stat.count[member] += value;
}

static inline void inc_mm_counter(struct mm_struct *mm, int member)
{
	add_mm_counter(mm, member, 1);
}

static inline void dec_mm_counter(struct mm_struct *mm, int member)
{
	add_mm_counter(mm, member, -1);
}

static inline pte_t mk_pte(struct page *page, pgprot_t prot)
{
	return pfn_pte(page_to_pfn(page), prot);
}

/* Make @pte writable if the area it belongs to may be written. */
static inline pte_t maybe_mkwrite(pte_t pte, struct vm_area_struct *vma)
{
	if (likely(vma->vm_flags & VM_WRITE))
		pte = pte_mkwrite(pte);
	return pte;
}

vm_fault_t do_swap_page(struct vm_fault *vmf);

#endif /* _LINUX_MM_H */
