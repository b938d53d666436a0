/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Basic types of the sample tree.
 */
#ifndef _LINUX_TYPES_H
#define _LINUX_TYPES_H

#define NULL			((void *)0)

typedef _Bool bool;
enum {
	false	= 0,
	true	= 1
};

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned long pgoff_t;
typedef unsigned int gfp_t;

#endif /* _LINUX_TYPES_H */
