/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Spinlocks, reduced to what the sample needs.
 */
#ifndef _LINUX_SPINLOCK_H
#define _LINUX_SPINLOCK_H

typedef struct spinlock {
	unsigned int locked;
} spinlock_t;

extern void spin_lock(spinlock_t *lock);
extern void spin_unlock(spinlock_t *lock);

#endif /* _LINUX_SPINLOCK_H */
