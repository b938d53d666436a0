/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Assertions.  BUG() stops the kernel; WARN_ON() reports and carries on,
 * and evaluates to its condition so that callers can bail out.
 */
#ifndef _LINUX_BUG_H
#define _LINUX_BUG_H

#include <linux/compiler.h>

void __noreturn bug_at(const char *file, int line);
void warn_at(const char *file, int line);

#define BUG()			bug_at(__FILE__, __LINE__)
#define BUG_ON(cond)		do { if (unlikely(cond)) BUG(); } while (0)

#define WARN_ON(cond)		({					\
	int __ret_warn_on = !!(cond);					\
	if (unlikely(__ret_warn_on))					\
		warn_at(__FILE__, __LINE__);				\
	unlikely(__ret_warn_on);					\
})
#define WARN_ON_ONCE(cond)	WARN_ON(cond)

#endif /* _LINUX_BUG_H */
