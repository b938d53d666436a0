/* SPDX-License-Identifier: GPL-2.0 */
/*
 * min() and max() for two values of the same type.
 */
#ifndef _LINUX_MINMAX_H
#define _LINUX_MINMAX_H

#define min(x, y)	((x) < (y) ? (x) : (y))
#define max(x, y)	((x) > (y) ? (x) : (y))

#endif /* _LINUX_MINMAX_H */
