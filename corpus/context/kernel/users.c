// SPDX-License-Identifier: GPL-2.0
/* Callers in another folder, two and three levels above the walk. */
#include "anon.h"

int count_for(struct vm_area_struct *vma);
int chain_sum(struct vm_area_struct *vma);

/* Three levels: count_twice -> count_for -> chain_count, the lock taken at the top. */
static int count_twice(struct vm_area_struct *vma)
{
	return count_for(vma) + count_for(vma);
}

int count_all(struct mm_struct *mm, struct vm_area_struct *vma)
{
	int n;

	mmap_read_lock(mm);
	n = count_twice(vma);
	mmap_read_unlock(mm);
	return n;
}

/* Gives the lock back before it sums: chain_sum walks unlocked. */
int sum_after_unlock(struct vm_area_struct *vma)
{
	mmap_read_lock(vma->vm_mm);
	if (!vma->anon_vma)
		vma->anon_vma = vma->vm_mm ? NULL : NULL;
	mmap_read_unlock(vma->vm_mm);
	return chain_sum(vma);
}
