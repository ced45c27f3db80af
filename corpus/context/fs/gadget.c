// SPDX-License-Identifier: GPL-2.0
/*
 * Walks reached only through an operations table: their callers are the calls through
 * ->scan and ->count of a struct gadget_ops (mm/gadgetusers.c).
 */
#include "anon.h"

struct gadget_ops {
	int (*scan)(struct vm_area_struct *vma);
	int (*count)(struct vm_area_struct *vma);
};

/* every call through ->scan holds the mmap lock */
static int gadget_scan(struct vm_area_struct *vma)
{
	struct anon_vma_chain *avc;
	int n = 0;

	list_for_each_entry(avc, &vma->anon_vma_chain, same_vma)
		n++;
	return n;
}

/* one call through ->count has given it back */
static int gadget_count(struct vm_area_struct *vma)
{
	struct anon_vma_chain *avc;
	int n = 0;

	list_for_each_entry(avc, &vma->anon_vma_chain, same_vma)
		n += avc->anon_vma ? 1 : 0;
	return n;
}

const struct gadget_ops gadget_ops = {
	.scan = gadget_scan,
	.count = gadget_count,
};
