// SPDX-License-Identifier: GPL-2.0
/* The callees: they need the mmap lock and do not take it. */
#include "anon.h"

/* Walks src's chain: every caller holds src->vm_mm->mmap_lock. */
int chain_count(struct vm_area_struct *src)
{
	struct anon_vma_chain *pavc;
	int n = 0;

	list_for_each_entry(pavc, &src->anon_vma_chain, same_vma)
		n++;
	return n;
}

/* Walks vma's chain: one caller has dropped the lock before the call. */
int chain_sum(struct vm_area_struct *vma)
{
	struct anon_vma_chain *avc;
	int n = 0;

	list_for_each_entry(avc, &vma->anon_vma_chain, same_vma)
		n += avc->anon_vma ? 1 : 0;
	return n;
}

/*
 * Drops the anon_vma root lock in the middle of the walk to allocate: the walk itself is
 * protected by src->vm_mm->mmap_lock, which every caller holds.
 */
int chain_copy(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	struct anon_vma_chain *avc, *pavc;
	struct anon_vma *root = src->anon_vma->root;

	down_write(&root->rwsem);
	list_for_each_entry_reverse(pavc, &src->anon_vma_chain, same_vma) {
		avc = chain_alloc(GFP_NOWAIT | __GFP_NOWARN);
		if (!avc) {
			up_write(&root->rwsem);
			avc = chain_alloc(GFP_KERNEL);
			down_write(&root->rwsem);
			if (!avc)
				break;
		}
		chain_assign(dst, avc, pavc->anon_vma);
	}
	up_write(&root->rwsem);
	return 0;
}
