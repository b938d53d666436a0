/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Global event counters shown in /proc/vmstat.
 */
#ifndef _LINUX_VMSTAT_H
#define _LINUX_VMSTAT_H

enum vm_event_item {
	PGFAULT,
	PGMAJFAULT,
	PSWPIN,
	PSWPOUT,
	NR_VM_EVENT_ITEMS
};

void count_vm_events(enum vm_event_item item, long delta);

static inline void count_vm_event(enum vm_event_item item)
{
	count_vm_events(item, 1);
}

#endif /* _LINUX_VMSTAT_H */
