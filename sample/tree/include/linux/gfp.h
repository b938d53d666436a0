/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Allocation flags, reduced to the ones the sample passes around.
 */
#ifndef _LINUX_GFP_H
#define _LINUX_GFP_H

#include <linux/types.h>

#define __GFP_HIGHMEM		((gfp_t)0x02u)
#define __GFP_MOVABLE		((gfp_t)0x08u)
#define __GFP_IO		((gfp_t)0x40u)
#define __GFP_FS		((gfp_t)0x80u)
#define __GFP_RECLAIM		((gfp_t)0x400u)

#define GFP_KERNEL		(__GFP_RECLAIM | __GFP_IO | __GFP_FS)
#define GFP_HIGHUSER_MOVABLE	(GFP_KERNEL | __GFP_HIGHMEM | __GFP_MOVABLE)

#endif /* _LINUX_GFP_H */
