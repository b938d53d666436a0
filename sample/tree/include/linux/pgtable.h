/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Page table entries of the sample architecture and the generic helpers
 * that read, build and install them.
 *
 * A present pte holds the page frame number above PTE_PFN_SHIFT and the
 * _PAGE_* bits below it.  A non-present, non-zero pte is a swap pte; see
 * <linux/swapops.h>.
 */
#ifndef _LINUX_PGTABLE_H
#define _LINUX_PGTABLE_H

#include <linux/compiler.h>
#include <linux/mm_types.h>
#include <linux/spinlock.h>

#define PAGE_SHIFT		12
#define PAGE_SIZE		(1UL << PAGE_SHIFT)
#define PAGE_MASK		(~(PAGE_SIZE - 1))

#define PMD_SHIFT		21
#define PMD_SIZE		(1UL << PMD_SHIFT)
#define PMD_MASK		(~(PMD_SIZE - 1))
#define PTRS_PER_PTE		512

#define PTE_PFN_SHIFT		PAGE_SHIFT

#define _PAGE_PRESENT		(1UL << 0)
#define _PAGE_WRITE		(1UL << 1)
#define _PAGE_DIRTY		(1UL << 2)
#define _PAGE_YOUNG		(1UL << 3)
#define _PAGE_SOFT_DIRTY	(1UL << 4)
#define _PAGE_UFFD_WP		(1UL << 5)

#define pte_val(x)		((x).pte)
#define __pte(x)		((pte_t) { (x) })
#define pmd_val(x)		((x).pmd)
#define pgprot_val(x)		((x).pgprot)

static inline bool pte_none(pte_t pte)
{
	return !pte_val(pte);
}

static inline bool pte_present(pte_t pte)
{
	return pte_val(pte) & _PAGE_PRESENT;
}

static inline bool pte_same(pte_t a, pte_t b)
{
	return pte_val(a) == pte_val(b);
}

static inline unsigned long pte_pfn(pte_t pte)
{
	return pte_val(pte) >> PTE_PFN_SHIFT;
}

static inline pte_t pfn_pte(unsigned long pfn, pgprot_t prot)
{
	return __pte((pfn << PTE_PFN_SHIFT) | pgprot_val(prot) | _PAGE_PRESENT);
}

static inline bool pte_write(pte_t pte)
{
	return pte_val(pte) & _PAGE_WRITE;
}

static inline bool pte_dirty(pte_t pte)
{
	return pte_val(pte) & _PAGE_DIRTY;
}

static inline bool pte_young(pte_t pte)
{
	return pte_val(pte) & _PAGE_YOUNG;
}

static inline bool pte_soft_dirty(pte_t pte)
{
	return pte_val(pte) & _PAGE_SOFT_DIRTY;
}

static inline bool pte_uffd_wp(pte_t pte)
{
	return pte_val(pte) & _PAGE_UFFD_WP;
}

static inline pte_t pte_mkwrite(pte_t pte)
{
	return __pte(pte_val(pte) | _PAGE_WRITE);
}

static inline pte_t pte_mkdirty(pte_t pte)
{
	return __pte(pte_val(pte) | _PAGE_DIRTY | _PAGE_SOFT_DIRTY);
}

static inline pte_t pte_mkclean(pte_t pte)
{
	return __pte(pte_val(pte) & ~_PAGE_DIRTY);
}

static inline pte_t pte_mkold(pte_t pte)
{
	return __pte(pte_val(pte) & ~_PAGE_YOUNG);
}

static inline pte_t pte_mksoft_dirty(pte_t pte)
{
	return __pte(pte_val(pte) | _PAGE_SOFT_DIRTY);
}

static inline pte_t pte_mkuffd_wp(pte_t pte)
{
	return __pte((pte_val(pte) & ~_PAGE_WRITE) | _PAGE_UFFD_WP);
}

/* The pte that maps the next page frame, with the same bits as @pte. */
static inline pte_t pte_next_pfn(pte_t pte)
{
	return __pte(pte_val(pte) + (1UL << PTE_PFN_SHIFT));
}

static inline pte_t ptep_get(pte_t *ptep)
{
	return READ_ONCE(*ptep);
}

static inline void set_pte(pte_t *ptep, pte_t pte)
{
	WRITE_ONCE(*ptep, pte);
}

/*
 * Map @nr consecutive pages starting with the one @pte maps, at @nr
 * consecutive entries from @ptep.  All entries get the bits of @pte.
 * The caller holds the page table lock.
 */
static inline void set_ptes(struct mm_struct *mm, unsigned long addr,
			    pte_t *ptep, pte_t pte, unsigned int nr)
{
	for (;;) {
		set_pte(ptep, pte);
		if (--nr == 0)
			break;
		ptep++;
		pte = pte_next_pfn(pte);
	}
}

static inline void set_pte_at(struct mm_struct *mm, unsigned long addr,
			      pte_t *ptep, pte_t pte)
{
	set_ptes(mm, addr, ptep, pte, 1);
}

/* End of the range [@addr, @end) that lies in the same pmd as @addr. */
static inline unsigned long pmd_addr_end(unsigned long addr, unsigned long end)
{
	unsigned long boundary = (addr + PMD_SIZE) & PMD_MASK;

	return boundary - 1 < end - 1 ? boundary : end;
}

/*
 * Map the pte table under @pmd and return a pointer to the entry for
 * @addr, or NULL if there is no pte table there any more (it may have been
 * freed or replaced by a huge pmd since the caller looked).  The pointer
 * stays valid until pte_unmap().
 */
pte_t *pte_offset_map(pmd_t *pmd, unsigned long addr);
void pte_unmap(pte_t *ptep);

/*
 * pte_offset_map() without taking the lock, which is returned in @ptlp for
 * the caller to take when it needs it.
 */
pte_t *pte_offset_map_nolock(struct mm_struct *mm, pmd_t *pmd,
			     unsigned long addr, spinlock_t **ptlp);

/*
 * pte_offset_map() and take the page table lock, returned in @ptlp.
 * Returns NULL, with nothing locked, when pte_offset_map() would.
 */
pte_t *pte_offset_map_lock(struct mm_struct *mm, pmd_t *pmd,
			   unsigned long addr, spinlock_t **ptlp);

static inline void pte_unmap_unlock(pte_t *ptep, spinlock_t *ptl)
{
	spin_unlock(ptl);
	pte_unmap(ptep);
}

/*
 * Architectures that keep metadata with swapped out pages (memory tags)
 * restore it here, once the new ptes are installed.  Nothing to do on the
 * sample architecture.
 */
static inline void arch_do_swap_page_nr(struct mm_struct *mm,
					struct vm_area_struct *vma,
					unsigned long addr,
					pte_t pte, pte_t oldpte, int nr)
{
}

static inline void arch_do_swap_page(struct mm_struct *mm,
				     struct vm_area_struct *vma,
				     unsigned long addr,
				     pte_t pte, pte_t oldpte)
{
	arch_do_swap_page_nr(mm, vma, addr, pte, oldpte, 1);
}

/* Let the MMU cache @nr new entries at @addr: they were not present. */
void update_mmu_cache_range(struct vm_fault *vmf,
			    struct vm_area_struct *vma,
			    unsigned long addr, pte_t *ptep,
			    unsigned int nr);

#endif /* _LINUX_PGTABLE_H */
