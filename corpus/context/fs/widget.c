// SPDX-License-Identifier: GPL-2.0
/* An ->mmap method: its caller holds the mmap lock for write (rules/locks.toml [[method]]). */
#include "anon.h"

int chain_peek(struct vm_area_struct *vma);

static int widget_mmap(struct file *file, struct vm_area_struct *vma)
{
	return chain_peek(vma) ? 0 : -EINVAL;
}

static const struct file_operations widget_fops = {
	.owner		= NULL,
	.mmap		= widget_mmap,
};
