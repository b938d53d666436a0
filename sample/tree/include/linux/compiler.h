/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Compiler hints used by the sample mm code.
 */
#ifndef _LINUX_COMPILER_H
#define _LINUX_COMPILER_H

#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)

/* A single, untorn load that the compiler may not merge or repeat. */
#define READ_ONCE(x)		(*(const volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, val)	(*(volatile typeof(x) *)&(x) = (val))

#endif /* _LINUX_COMPILER_H */
