/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Swap entries and swap ptes.
 *
 * A swap entry packs the swap device (type) into its top MAX_SWAPFILES_SHIFT
 * bits and the slot on that device (offset) into the rest.  Types from
 * MAX_SWAPFILES up are not swap devices: they mark migration and
 * hardware-poisoned entries.
 *
 * A swap pte is a non-present pte with _PAGE_SWP_MARK set, so that it is
 * never zero:
 *
 *   63               13 12    8    7       5       4        1       0
 *   [ offset          ][ type ][ mark ][ uffd-wp ][ soft-dirty ][ excl ][ 0 ]
 *
 * The soft-dirty, uffd-wp and exclusive bits belong to the pte, not to the
 * swap entry: pte_to_swp_entry() drops them.
 */
#ifndef _LINUX_SWAPOPS_H
#define _LINUX_SWAPOPS_H

#include <linux/mm_types.h>
#include <linux/pgtable.h>

#define MAX_SWAPFILES_SHIFT	5
#define SWP_HWPOISON_NUM	1
#define SWP_MIGRATION_NUM	1
#define MAX_SWAPFILES \
	((1 << MAX_SWAPFILES_SHIFT) - SWP_HWPOISON_NUM - SWP_MIGRATION_NUM)
#define SWP_HWPOISON		MAX_SWAPFILES
#define SWP_MIGRATION		(SWP_HWPOISON + SWP_HWPOISON_NUM)

#define SWP_TYPE_SHIFT		(64 - MAX_SWAPFILES_SHIFT)
#define SWP_OFFSET_MASK		((1UL << SWP_TYPE_SHIFT) - 1)

#define _PAGE_SWP_EXCLUSIVE	(1UL << 1)
#define _PAGE_SWP_SOFT_DIRTY	(1UL << 4)
#define _PAGE_SWP_UFFD_WP	(1UL << 5)
#define _PAGE_SWP_MARK		(1UL << 7)
#define __SWP_TYPE_SHIFT	8
#define __SWP_TYPE_MASK		((1UL << MAX_SWAPFILES_SHIFT) - 1)
#define __SWP_OFFSET_SHIFT	(__SWP_TYPE_SHIFT + MAX_SWAPFILES_SHIFT)

static inline swp_entry_t swp_entry(unsigned long type, pgoff_t offset)
{
	swp_entry_t entry;

	entry.val = (type << SWP_TYPE_SHIFT) | (offset & SWP_OFFSET_MASK);
	return entry;
}

static inline unsigned int swp_type(swp_entry_t entry)
{
	return entry.val >> SWP_TYPE_SHIFT;
}

static inline pgoff_t swp_offset(swp_entry_t entry)
{
	return entry.val & SWP_OFFSET_MASK;
}

static inline bool is_swap_pte(pte_t pte)
{
	return !pte_none(pte) && !pte_present(pte);
}

static inline swp_entry_t pte_to_swp_entry(pte_t pte)
{
	unsigned long val = pte_val(pte);

	return swp_entry((val >> __SWP_TYPE_SHIFT) & __SWP_TYPE_MASK,
			 val >> __SWP_OFFSET_SHIFT);
}

static inline pte_t swp_entry_to_pte(swp_entry_t entry)
{
	unsigned long type = swp_type(entry);

	return __pte((type << __SWP_TYPE_SHIFT) | _PAGE_SWP_MARK |
		     (swp_offset(entry) << __SWP_OFFSET_SHIFT));
}

static inline bool non_swap_entry(swp_entry_t entry)
{
	return swp_type(entry) >= MAX_SWAPFILES;
}

static inline bool is_migration_entry(swp_entry_t entry)
{
	return swp_type(entry) == SWP_MIGRATION;
}

static inline bool is_hwpoison_entry(swp_entry_t entry)
{
	return swp_type(entry) == SWP_HWPOISON;
}

static inline bool pte_swp_exclusive(pte_t pte)
{
	return pte_val(pte) & _PAGE_SWP_EXCLUSIVE;
}

static inline pte_t pte_swp_mkexclusive(pte_t pte)
{
	return __pte(pte_val(pte) | _PAGE_SWP_EXCLUSIVE);
}

static inline pte_t pte_swp_clear_exclusive(pte_t pte)
{
	return __pte(pte_val(pte) & ~_PAGE_SWP_EXCLUSIVE);
}

static inline bool pte_swp_soft_dirty(pte_t pte)
{
	return pte_val(pte) & _PAGE_SWP_SOFT_DIRTY;
}

static inline pte_t pte_swp_mksoft_dirty(pte_t pte)
{
	return __pte(pte_val(pte) | _PAGE_SWP_SOFT_DIRTY);
}

static inline pte_t pte_swp_clear_soft_dirty(pte_t pte)
{
	return __pte(pte_val(pte) & ~_PAGE_SWP_SOFT_DIRTY);
}

static inline bool pte_swp_uffd_wp(pte_t pte)
{
	return pte_val(pte) & _PAGE_SWP_UFFD_WP;
}

static inline pte_t pte_swp_mkuffd_wp(pte_t pte)
{
	return __pte(pte_val(pte) | _PAGE_SWP_UFFD_WP);
}

static inline pte_t pte_swp_clear_uffd_wp(pte_t pte)
{
	return __pte(pte_val(pte) & ~_PAGE_SWP_UFFD_WP);
}

/* Wait for the migration that @pmd's entry at @addr points to, to end. */
void migration_entry_wait(struct mm_struct *mm, pmd_t *pmd,
			  unsigned long addr);

#endif /* _LINUX_SWAPOPS_H */
