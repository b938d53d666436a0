// SPDX-License-Identifier: GPL-2.0
/*
 * Page faults on anonymous memory that was swapped out.
 *
 * When a process touches a page whose pte holds a swap entry, the fault
 * lands in do_swap_page(): it finds the page in the swap cache (or reads it
 * back from swap), maps it again, and drops the reference the pte held on
 * the swap slot.
 */
#include <linux/cacheflush.h>
#include <linux/compiler.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pgtable.h>
#include <linux/rmap.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/vmstat.h>

#include "internal.h"

/*
 * The fault handler was entered with vmf->pte mapped but not locked, and
 * vmf->orig_pte read without the lock.  Check under the lock that the pte
 * has not changed since, then unmap it: do_swap_page() may sleep.
 *
 * Returns false if the pte changed, in which case there is nothing to do.
 */
static bool pte_unmap_same(struct vm_fault *vmf)
{
	bool same;

	spin_lock(vmf->ptl);
	same = pte_same(ptep_get(vmf->pte), vmf->orig_pte);
	spin_unlock(vmf->ptl);
	pte_unmap(vmf->pte);
	vmf->pte = NULL;
	return same;
}

/*
 * Should the swap slot of a folio we just faulted in be released?  Yes if
 * swap is getting full, or if the folio cannot go back to swap anyway.  A
 * write fault by the only user of the folio will dirty it, which makes the
 * copy in swap stale: no point keeping it either.
 */
static inline bool should_try_to_free_swap(struct folio *folio,
					   struct vm_area_struct *vma,
					   unsigned int fault_flags)
{
	if (!folio_test_swapcache(folio))
		return false;
	if (vm_swap_full() || (vma->vm_flags & VM_LOCKED) ||
	    folio_test_mlocked(folio))
		return true;
	/* The swap cache holds one reference per page, we hold one more. */
	return (fault_flags & FAULT_FLAG_WRITE) &&
		folio_ref_count(folio) == folio_nr_pages(folio) + 1;
}

/*
 * We enter with the pte mapped but not locked (vmf->ptl is its lock, as
 * pte_offset_map_nolock() returns them), and vmf->orig_pte holding the swap
 * pte that faulted.  We return with the pte unmapped and unlocked.
 *
 * We may sleep (reading from swap, waiting for the folio lock), so the pte
 * has to be looked up and compared with vmf->orig_pte again before we
 * install anything.
 */
vm_fault_t do_swap_page(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct folio *folio = NULL;
	struct page *page;
	rmap_t rmap_flags = RMAP_NONE;
	bool exclusive = false;
	swp_entry_t entry;
	pte_t pte;
	vm_fault_t ret = 0;

	if (!pte_unmap_same(vmf))
		goto out;

	entry = pte_to_swp_entry(vmf->orig_pte);
	if (unlikely(non_swap_entry(entry))) {
		if (is_migration_entry(entry)) {
			migration_entry_wait(vma->vm_mm, vmf->pmd,
					     vmf->address);
		} else if (is_hwpoison_entry(entry)) {
			ret = VM_FAULT_HWPOISON;
		} else {
			ret = VM_FAULT_SIGBUS;
		}
		goto out;
	}

	folio = swap_cache_get_folio(entry, vma, vmf->address);
	if (!folio) {
		folio = swapin_readahead(entry, GFP_HIGHUSER_MOVABLE, vmf);
		if (!folio) {
			/*
			 * Back out if somebody else faulted in this pte
			 * while we were allocating.
			 */
			vmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd,
						       vmf->address, &vmf->ptl);
			if (likely(vmf->pte &&
				   pte_same(ptep_get(vmf->pte), vmf->orig_pte)))
				ret = VM_FAULT_OOM;
			goto unlock;
		}

		/* Had to read the page from swap area: major fault */
		ret = VM_FAULT_MAJOR;
		count_vm_event(PGMAJFAULT);
	}

	ret |= folio_lock_or_retry(folio, vmf);
	if (ret & VM_FAULT_RETRY)
		goto out_release;

	page = folio_file_page(folio, swp_offset(entry));

	/*
	 * The folio may have left the swap cache, or been reused for another
	 * entry, while we waited for its lock: then the pte has changed too,
	 * and the fault will be retried.
	 */
	if (unlikely(!folio_test_swapcache(folio) ||
		     page_swap_entry(page).val != entry.val))
		goto out_page;

	/*
	 * Back out if somebody else already faulted in this pte.
	 */
	vmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, vmf->address,
				       &vmf->ptl);
	if (unlikely(!vmf->pte || !pte_same(ptep_get(vmf->pte), vmf->orig_pte)))
		goto out_nomap;

	if (unlikely(!folio_test_uptodate(folio))) {
		ret = VM_FAULT_SIGBUS;
		goto out_nomap;
	}

	/*
	 * An exclusive swap pte means that no other process maps this page:
	 * we may map it writable without copying it first.
	 */
	exclusive = pte_swp_exclusive(vmf->orig_pte);

	/*
	 * Drop the reference the pte held on the swap slot.  The folio keeps
	 * its own reference, and its swap copy, unless that copy is of no use
	 * any more.
	 */
	swap_free(entry);
	if (should_try_to_free_swap(folio, vma, vmf->flags))
		folio_free_swap(folio);

	inc_mm_counter(vma->vm_mm, MM_ANONPAGES);
	dec_mm_counter(vma->vm_mm, MM_SWAPENTS);
	pte = mk_pte(page, vma->vm_page_prot);

	/*
	 * A page that nobody else maps, and that nobody else holds a
	 * reference to, is ours: a write fault can be resolved right here
	 * instead of by a copy-on-write fault later.
	 */
	if (exclusive || folio_ref_count(folio) == 1) {
		if (vmf->flags & FAULT_FLAG_WRITE) {
			pte = maybe_mkwrite(pte_mkdirty(pte), vma);
			vmf->flags &= ~FAULT_FLAG_WRITE;
		}
		rmap_flags |= RMAP_EXCLUSIVE;
	}
	flush_icache_page(vma, page);
	if (pte_swp_soft_dirty(vmf->orig_pte))
		pte = pte_mksoft_dirty(pte);
	if (pte_swp_uffd_wp(vmf->orig_pte))
		pte = pte_mkuffd_wp(pte);
	vmf->orig_pte = pte;

	folio_add_anon_rmap_pte(folio, page, vma, vmf->address, rmap_flags);
	set_pte_at(vma->vm_mm, vmf->address, vmf->pte, pte);
	arch_do_swap_page(vma->vm_mm, vma, vmf->address, pte, vmf->orig_pte);

	folio_unlock(folio);

	if (vmf->flags & FAULT_FLAG_WRITE) {
		/* Not ours alone: the write needs a copy of the page. */
		ret |= do_wp_page(vmf);
		if (ret & VM_FAULT_ERROR)
			ret &= VM_FAULT_ERROR;
		goto out;
	}

	/* No need to invalidate: the pte was not present before. */
	update_mmu_cache_range(vmf, vma, vmf->address, vmf->pte, 1);
unlock:
	if (vmf->pte)
		pte_unmap_unlock(vmf->pte, vmf->ptl);
out:
	return ret;
out_nomap:
	if (vmf->pte)
		pte_unmap_unlock(vmf->pte, vmf->ptl);
out_page:
	folio_unlock(folio);
out_release:
	folio_put(folio);
	return ret;
}
