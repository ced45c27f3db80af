// SPDX-License-Identifier: GPL-2.0
/* Calls through a struct gadget_ops (fs/gadget.c): with the mmap lock, and after it. */
#include "anon.h"

struct gadget_ops {
	int (*scan)(struct vm_area_struct *vma);
	int (*count)(struct vm_area_struct *vma);
};

int gadget_run(struct vm_area_struct *vma, const struct gadget_ops *ops)
{
	int n;

	mmap_read_lock(vma->vm_mm);
	n = ops->scan(vma);
	n += ops->count(vma);
	mmap_read_unlock(vma->vm_mm);
	return n;
}

int gadget_tail(struct vm_area_struct *vma, const struct gadget_ops *ops)
{
	int n;

	mmap_read_lock(vma->vm_mm);
	n = vma->vm_flags ? 1 : 0;
	mmap_read_unlock(vma->vm_mm);
	return n + ops->count(vma);
}
