/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Spinlocks, reduced to what the sample needs.
 */
#ifndef _LINUX_SPINLOCK_H
#define _LINUX_SPINLOCK_H

typedef struct spinlock {
	unsigned int locked;
} spinlock_t;

void spin_lock(spinlock_t *lock);
void spin_unlock(spinlock_t *lock);

#endif /* _LINUX_SPINLOCK_H */
