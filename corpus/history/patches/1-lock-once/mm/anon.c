// SPDX-License-Identifier: GPL-2.0
/*
 * Attaching VMAs to anon_vmas: a corpus code base written for rmaplint, in the shape of
 * mm/rmap.c before the anon_vma clean-up. Not kernel source.
 */
#include <linux/anon.h>

static struct kmem_cache *chain_cachep;

static inline struct anon_vma_chain *chain_alloc(gfp_t gfp)
{
	return kmem_cache_alloc(chain_cachep, gfp);
}

static void chain_free(struct anon_vma_chain *avc)
{
	kmem_cache_free(chain_cachep, avc);
}

static void chain_assign(struct vm_area_struct *vma, struct anon_vma_chain *avc,
			 struct anon_vma *anon_vma)
{
	avc->vma = vma;
	avc->anon_vma = anon_vma;
	list_add(&avc->same_vma, &vma->anon_vma_chain);
}

/* Attach @dst to every anon_vma @src is attached to. */
int anon_vma_clone(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	struct anon_vma_chain *avc, *pavc;

	if (!src->anon_vma)
		return 0;

	anon_vma_lock_write(src->anon_vma);
	list_for_each_entry_reverse(pavc, &src->anon_vma_chain, same_vma) {
		struct anon_vma *anon_vma = pavc->anon_vma;

		avc = chain_alloc(GFP_NOWAIT | __GFP_NOWARN);
		if (unlikely(!avc)) {
			anon_vma_unlock_write(src->anon_vma);
			avc = chain_alloc(GFP_KERNEL);
			if (!avc)
				goto enomem_failure;
			anon_vma_lock_write(src->anon_vma);
		}
		chain_assign(dst, avc, anon_vma);
		anon_vma_interval_tree_insert(avc, &anon_vma->rb_root);
	}
	anon_vma_unlock_write(src->anon_vma);
	return 0;

enomem_failure:
	unlink_anon_vmas(dst);
	return -ENOMEM;
}

/* Detach @vma from all its anon_vmas. */
void unlink_anon_vmas(struct vm_area_struct *vma)
{
	struct anon_vma_chain *avc, *next;
	struct anon_vma *active = vma->anon_vma;

	if (!active)
		return;

	anon_vma_lock_write(active);
	list_for_each_entry_safe(avc, next, &vma->anon_vma_chain, same_vma) {
		struct anon_vma *anon_vma = avc->anon_vma;

		anon_vma_interval_tree_remove(avc, &anon_vma->rb_root);
		if (RB_EMPTY_ROOT(&anon_vma->rb_root.rb_root))
			anon_vma->parent->num_children--;
		list_del(&avc->same_vma);
		chain_free(avc);
	}
	anon_vma_unlock_write(active);
}

/* Give a forked VMA its own anon_vma, child of the parent VMA's. */
int anon_vma_fork(struct vm_area_struct *vma, struct vm_area_struct *pvma)
{
	struct anon_vma_chain *avc;
	struct anon_vma *anon_vma;
	int error;

	if (!pvma->anon_vma)
		return 0;
	error = anon_vma_clone(vma, pvma);
	if (error)
		return error;
	anon_vma = anon_vma_alloc();
	if (!anon_vma)
		goto out_error;
	avc = chain_alloc(GFP_KERNEL);
	if (!avc)
		goto out_error_free_anon_vma;
	anon_vma->root = pvma->anon_vma->root;
	anon_vma->parent = pvma->anon_vma;
	vma->anon_vma = anon_vma;
	chain_assign(vma, avc, anon_vma);
	anon_vma_lock_write(anon_vma);
	anon_vma_interval_tree_insert(avc, &anon_vma->rb_root);
	anon_vma->parent->num_children++;
	anon_vma_unlock_write(anon_vma);
	return 0;

out_error_free_anon_vma:
	put_anon_vma(anon_vma);
out_error:
	unlink_anon_vmas(vma);
	return -ENOMEM;
}
