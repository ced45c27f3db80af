// SPDX-License-Identifier: GPL-2.0
/* Callers in the callees' folder. */
#include "anon.h"

int chain_count(struct vm_area_struct *src);
int chain_sum(struct vm_area_struct *vma);
int chain_copy(struct vm_area_struct *dst, struct vm_area_struct *src);

/* Holds the lock of the very object it passes. */
int count_locked(struct vm_area_struct *vma)
{
	int n;

	mmap_read_lock(vma->vm_mm);
	n = chain_count(vma);
	mmap_read_unlock(vma->vm_mm);
	return n;
}

/* Passes its own parameter on: its callers decide (kernel/users.c). */
int count_for(struct vm_area_struct *vma)
{
	return chain_count(vma);
}

int sum_locked(struct vm_area_struct *vma)
{
	int n;

	mmap_read_lock(vma->vm_mm);
	n = chain_sum(vma);
	mmap_read_unlock(vma->vm_mm);
	return n;
}

int copy_locked(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	int err;

	down_write(&src->vm_mm->mmap_lock);
	err = chain_copy(dst, src);
	up_write(&src->vm_mm->mmap_lock);
	return err;
}
