// SPDX-License-Identifier: GPL-2.0
/*
 * Swap slot accounting of the sample tree.
 *
 * Each swap device keeps one count per slot in swap_map: the number of
 * swap ptes and swap cache entries that still refer to that slot.  A slot
 * whose count drops to zero can be handed out again.
 */
#include <linux/mm.h>
#include <linux/spinlock.h>
#include <linux/swap.h>
#include <linux/swapops.h>

struct swap_info_struct *swap_info[MAX_SWAPFILES];
unsigned int nr_swapfiles;

/* The swap device that @entry belongs to, or NULL if there is none. */
static struct swap_info_struct *swap_entry_to_info(swp_entry_t entry)
{
	unsigned int type = swp_type(entry);

	if (type >= READ_ONCE(nr_swapfiles))
		return NULL;
	return READ_ONCE(swap_info[type]);
}

/*
 * Drop one reference to the slot at @offset of @si, which must have one.
 * Called with si->lock held.
 */
static void swap_entry_put_locked(struct swap_info_struct *si,
				  unsigned long offset)
{
	unsigned char count = si->swap_map[offset];

	if (WARN_ON_ONCE(!count))
		return;

	count--;
	si->swap_map[offset] = count;
	if (!count)
		si->inuse_pages--;
}

/**
 * swap_free - drop a reference to a swap slot
 * @entry: the swap entry of the slot
 *
 * Called when a pte that held @entry no longer does.
 */
void swap_free(swp_entry_t entry)
{
	struct swap_info_struct *si = swap_entry_to_info(entry);
	unsigned long offset = swp_offset(entry);

	if (WARN_ON_ONCE(!si || offset >= si->max))
		return;

	spin_lock(&si->lock);
	swap_entry_put_locked(si, offset);
	spin_unlock(&si->lock);
}

/**
 * swap_free_nr - drop a reference to each of a run of swap slots
 * @entry: the swap entry of the first slot
 * @nr_pages: the number of consecutive slots, all on the same device
 *
 * Called when @nr_pages ptes that held consecutive entries starting at
 * @entry no longer do.  Takes the device lock once for the whole run.
 */
void swap_free_nr(swp_entry_t entry, int nr_pages)
{
	struct swap_info_struct *si = swap_entry_to_info(entry);
	unsigned long offset = swp_offset(entry);
	int i;

	if (WARN_ON_ONCE(!si || nr_pages < 1 || offset + nr_pages > si->max))
		return;

	spin_lock(&si->lock);
	for (i = 0; i < nr_pages; i++)
		swap_entry_put_locked(si, offset + i);
	spin_unlock(&si->lock);
}

/* Is more than half of the swap space in use? */
bool vm_swap_full(void)
{
	unsigned long total = 0, used = 0;
	unsigned int type;

	for (type = 0; type < READ_ONCE(nr_swapfiles); type++) {
		struct swap_info_struct *si = READ_ONCE(swap_info[type]);

		if (!si || !(si->flags & SWP_WRITEOK))
			continue;
		total += si->max;
		used += si->inuse_pages;
	}
	return used * 2 > total;
}
