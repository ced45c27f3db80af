// SPDX-License-Identifier: GPL-2.0
/* Fixture for modify-unlocked, written for rmaplint in kernel style. */
#include "anon.h"

void link_read_locked(struct anon_vma *anon_vma, struct anon_vma_chain *avc)
{
	anon_vma_lock_read(anon_vma);
	// ruleid: modify-unlocked
	anon_vma_interval_tree_insert(avc, &anon_vma->rb_root);
	anon_vma_unlock_read(anon_vma);
}

void link_write_locked(struct anon_vma *anon_vma, struct anon_vma_chain *avc)
{
	anon_vma_lock_write(anon_vma);
	// ok: modify-unlocked
	anon_vma_interval_tree_insert(avc, &anon_vma->rb_root);
	anon_vma_unlock_write(anon_vma);
}

/* Nothing known: a warning asking for an assertion. */
void unlink_one(struct anon_vma_chain *avc)
{
	// ruleid: modify-unlocked
	anon_vma_interval_tree_remove(avc, &avc->anon_vma->rb_root);
}

void unlink_one_asserted(struct anon_vma_chain *avc)
{
	lockdep_assert_held_write(&avc->anon_vma->root->rwsem);
	// ok: modify-unlocked
	anon_vma_interval_tree_remove(avc, &avc->anon_vma->rb_root);
}

/* Unlocked on the error path before the removal. */
int unlink_checked(struct anon_vma_chain *avc, bool busy)
{
	struct anon_vma *anon_vma = avc->anon_vma;

	anon_vma_lock_write(anon_vma);
	if (busy)
		goto out_unlock;
	anon_vma_interval_tree_remove(avc, &anon_vma->rb_root);
	anon_vma_unlock_write(anon_vma);
	return 0;
out_unlock:
	anon_vma_unlock_write(anon_vma);
	// ruleid: modify-unlocked
	anon_vma_interval_tree_remove(avc, &anon_vma->rb_root);
	return -EBUSY;
}

/* A new anon_vma is private until it is published: no lock needed yet. */
struct anon_vma *new_anon(struct anon_vma_chain *avc)
{
	struct anon_vma *anon_vma = anon_vma_alloc();

	if (!anon_vma)
		return NULL;
	anon_vma->root = anon_vma;
	// ok: modify-unlocked
	anon_vma_interval_tree_insert(avc, &anon_vma->rb_root);
	return anon_vma;
}

/* A VMA's chain list: mmap lock for read plus the page table lock is enough. */
void chain_link(struct vm_area_struct *vma, struct anon_vma_chain *avc)
{
	struct mm_struct *mm = vma->vm_mm;

	mmap_assert_locked(mm);
	spin_lock(&mm->page_table_lock);
	// ok: modify-unlocked
	list_add(&avc->same_vma, &vma->anon_vma_chain);
	spin_unlock(&mm->page_table_lock);
}

void chain_link_read_only(struct vm_area_struct *vma, struct anon_vma_chain *avc)
{
	mmap_read_lock(vma->vm_mm);
	// ruleid: modify-unlocked
	list_add(&avc->same_vma, &vma->anon_vma_chain);
	mmap_read_unlock(vma->vm_mm);
}

struct anon_vma *find_anon(struct vm_area_struct *vma);

/* Allocated on one path, found on the other: where the paths meet it is not private. */
void prepare_anon(struct vm_area_struct *vma, struct anon_vma_chain *avc)
{
	struct anon_vma *anon_vma = find_anon(vma);

	if (!anon_vma)
		anon_vma = anon_vma_alloc();
	if (!anon_vma)
		return;
	// ruleid: modify-unlocked[no-lock-known]
	anon_vma_interval_tree_insert(avc, &anon_vma->rb_root);
}

/* Stored where others can see it before the insert: published, no longer private. */
struct anon_vma *publish_anon(struct vm_area_struct *vma, struct anon_vma_chain *avc)
{
	struct anon_vma *anon_vma = anon_vma_alloc();

	if (!anon_vma)
		return NULL;
	vma->anon_vma = anon_vma;
	// ruleid: modify-unlocked[no-lock-known]
	anon_vma_interval_tree_insert(avc, &anon_vma->rb_root);
	return anon_vma;
}
