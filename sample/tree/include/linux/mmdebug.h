/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Debug-only assertions of the mm code: they compile away without
 * CONFIG_DEBUG_VM.
 */
#ifndef _LINUX_MMDEBUG_H
#define _LINUX_MMDEBUG_H

#include <linux/bug.h>

#ifdef CONFIG_DEBUG_VM
#define VM_BUG_ON(cond)			BUG_ON(cond)
#define VM_WARN_ON(cond)		((void)WARN_ON(cond))
#define VM_WARN_ON_ONCE(cond)		((void)WARN_ON_ONCE(cond))
#else
#define VM_BUG_ON(cond)			do { } while (0)
#define VM_WARN_ON(cond)		do { } while (0)
#define VM_WARN_ON_ONCE(cond)		do { } while (0)
#endif

#endif /* _LINUX_MMDEBUG_H */
