// SPDX-License-Identifier: GPL-2.0
/* Fixture for root-assumed-shared, written for rmaplint in kernel style. */
#include "anon.h"

/* One lock for the whole chain: correct only if every anon_vma shares src's root. */
void link_all(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	struct anon_vma_chain *pavc;

	mmap_assert_write_locked(src->vm_mm);
	// ruleid: root-assumed-shared
	anon_vma_lock_write(src->anon_vma);
	list_for_each_entry(pavc, &src->anon_vma_chain, same_vma)
		anon_vma_interval_tree_insert(new_avc(dst), &pavc->anon_vma->rb_root);
	anon_vma_unlock_write(src->anon_vma);
}

/* The same, with the invariant checked where it is relied on. */
void link_all_checked(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	struct anon_vma_chain *pavc;

	mmap_assert_write_locked(src->vm_mm);
	// ok: root-assumed-shared
	anon_vma_lock_write(src->anon_vma);
	list_for_each_entry(pavc, &src->anon_vma_chain, same_vma) {
		VM_WARN_ON_ONCE(pavc->anon_vma->root != src->anon_vma->root);
		anon_vma_interval_tree_insert(new_avc(dst), &pavc->anon_vma->rb_root);
	}
	anon_vma_unlock_write(src->anon_vma);
}

/* Only the comment states it: a note. */
void link_all_documented(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	struct anon_vma_chain *pavc;

	mmap_assert_write_locked(src->vm_mm);
	/* Every anon_vma on one VMA's chain has the same root: one lock covers them all. */
	// ruleid: root-assumed-shared
	anon_vma_lock_write(src->anon_vma);
	list_for_each_entry(pavc, &src->anon_vma_chain, same_vma)
		anon_vma_interval_tree_insert(new_avc(dst), &pavc->anon_vma->rb_root);
	anon_vma_unlock_write(src->anon_vma);
}

/* Locking the object's own root each time needs no invariant. */
void link_each(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	struct anon_vma_chain *pavc;

	mmap_assert_write_locked(src->vm_mm);
	list_for_each_entry(pavc, &src->anon_vma_chain, same_vma) {
		anon_vma_lock_write(pavc->anon_vma);
		// ok: root-assumed-shared
		anon_vma_interval_tree_insert(new_avc(dst), &pavc->anon_vma->rb_root);
		anon_vma_unlock_write(pavc->anon_vma);
	}
}

/* Two spellings of one object are one lock. */
void link_alias(struct anon_vma_chain *avc)
{
	struct anon_vma *anon_vma = avc->anon_vma;

	// ok: root-assumed-shared
	anon_vma_lock_write(avc->anon_vma);
	anon_vma_interval_tree_insert(avc, &anon_vma->rb_root);
	anon_vma_unlock_write(anon_vma);
}
