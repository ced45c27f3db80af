// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture for lock-order, written for rmaplint in kernel style. This folder has no
 * mm/rmap.c, so the hierarchy is rules/lockorder.toml's: mmap_lock, then i_mmap_rwsem, then
 * the anon_vma rwsem, then page_table_lock. A finding starts where the lock held first was
 * taken and ends where the lock that should have been taken before it is taken.
 */
#include "anon.h"

/* The file's tree first, then the anon_vma: the documented order. */
void link_both(struct address_space *mapping, struct anon_vma *anon_vma)
{
	// ok: lock-order
	i_mmap_lock_write(mapping);
	anon_vma_lock_write(anon_vma);
	anon_vma->num_active_vmas++;
	anon_vma_unlock_write(anon_vma);
	i_mmap_unlock_write(mapping);
}

/* The reverse: i_mmap_rwsem taken inside the anon_vma lock. */
void link_both_reversed(struct address_space *mapping, struct anon_vma *anon_vma)
{
	// ruleid: lock-order
	anon_vma_lock_write(anon_vma);
	i_mmap_lock_write(mapping);
	anon_vma->num_active_vmas++;
	i_mmap_unlock_write(mapping);
	anon_vma_unlock_write(anon_vma);
}

/* Released first, then the outer lock: no nesting. */
void link_one_by_one(struct address_space *mapping, struct anon_vma *anon_vma)
{
	anon_vma_lock_write(anon_vma);
	anon_vma->num_active_vmas++;
	anon_vma_unlock_write(anon_vma);
	// ok: lock-order
	i_mmap_lock_write(mapping);
	i_mmap_unlock_write(mapping);
}

/* Trying the outer lock while holding the inner one is the deadlock-free way round. */
int link_try_reversed(struct address_space *mapping, struct anon_vma *anon_vma)
{
	// ok: lock-order
	anon_vma_lock_write(anon_vma);
	if (!down_write_trylock(&mapping->i_mmap_rwsem)) {
		anon_vma_unlock_write(anon_vma);
		return -EAGAIN;
	}
	anon_vma->num_active_vmas++;
	up_write(&mapping->i_mmap_rwsem);
	anon_vma_unlock_write(anon_vma);
	return 0;
}

/* The trylock fails, everything is dropped and retaken in order. */
void link_try_fallback(struct address_space *mapping, struct anon_vma *anon_vma)
{
	anon_vma_lock_write(anon_vma);
	if (!down_write_trylock(&mapping->i_mmap_rwsem)) {
		anon_vma_unlock_write(anon_vma);
		// ok: lock-order
		i_mmap_lock_write(mapping);
		anon_vma_lock_write(anon_vma);
	}
	anon_vma->num_active_vmas++;
	i_mmap_unlock_write(mapping);
	anon_vma_unlock_write(anon_vma);
}

/* The mmap lock is outermost: taking it under an anon_vma lock inverts the order. */
static struct anon_vma *vma_lock_anon(struct vm_area_struct *vma)
{
	struct anon_vma *anon_vma = vma->anon_vma;

	if (!anon_vma)
		return NULL;
	anon_vma_lock_read(anon_vma);
	return anon_vma;
}

void vma_peek_mm(struct vm_area_struct *vma)
{
	// ruleid: lock-order
	struct anon_vma *anon_vma = vma_lock_anon(vma);

	mmap_read_lock(vma->vm_mm);
	if (anon_vma)
		anon_vma_unlock_read(anon_vma);
	mmap_read_unlock(vma->vm_mm);
}

/* Checked for NULL and unlocked before: the mmap lock is taken with nothing held. */
void vma_peek_mm_after(struct vm_area_struct *vma)
{
	struct anon_vma *anon_vma = vma_lock_anon(vma);

	if (anon_vma) {
		anon_vma->num_children++;
		anon_vma_unlock_read(anon_vma);
	}
	// ok: lock-order
	mmap_read_lock(vma->vm_mm);
	mmap_read_unlock(vma->vm_mm);
}

/* A conditional lock on a pointer checked for NULL: held whenever the mapping exists. */
void vma_note(struct address_space *mapping, struct vm_area_struct *vma)
{
	if (mapping)
		// ruleid: lock-order
		i_mmap_lock_read(mapping);
	mmap_read_lock(vma->vm_mm);
	mmap_read_unlock(vma->vm_mm);
	if (mapping)
		i_mmap_unlock_read(mapping);
}

/* The page table lock nests inside the anon_vma lock; guard() keeps it to the end. */
void anon_pte_update(struct anon_vma *anon_vma, struct mm_struct *mm)
{
	// ok: lock-order
	anon_vma_lock_read(anon_vma);
	scoped_guard(spinlock, &mm->page_table_lock)
		anon_vma->num_active_vmas++;
	anon_vma_unlock_read(anon_vma);
}

/* ...and taking the anon_vma lock under the page table lock inverts it. */
void pte_then_anon(struct anon_vma *anon_vma, struct mm_struct *mm)
{
	// ruleid: lock-order
	guard(spinlock)(&mm->page_table_lock);
	// ruleid: sleep-in-atomic
	anon_vma_lock_read(anon_vma);
	anon_vma->num_active_vmas++;
	anon_vma_unlock_read(anon_vma);
}

/* goto error path: the inner lock is dropped before the outer one is taken. */
int mm_then_anon(struct vm_area_struct *vma, struct anon_vma *anon_vma)
{
	int err = 0;

	anon_vma_lock_read(anon_vma);
	if (!anon_vma->num_children) {
		err = -ENOENT;
		goto out_unlock;
	}
	anon_vma->num_active_vmas++;
out_unlock:
	anon_vma_unlock_read(anon_vma);
	if (err)
		return err;
	// ok: lock-order
	mmap_read_lock(vma->vm_mm);
	mmap_read_unlock(vma->vm_mm);
	return 0;
}

/* A helper that only tries the outer lock: trying never waits, so no order is broken. */
static inline int mapping_try_lock(struct address_space *mapping)
{
	return down_write_trylock(&mapping->i_mmap_rwsem);
}

int link_try_helper_reversed(struct address_space *mapping, struct anon_vma *anon_vma)
{
	anon_vma_lock_write(anon_vma);
	// ok: lock-order
	if (!mapping_try_lock(mapping)) {
		anon_vma_unlock_write(anon_vma);
		return -EAGAIN;
	}
	anon_vma->num_active_vmas++;
	up_write(&mapping->i_mmap_rwsem);
	anon_vma_unlock_write(anon_vma);
	return 0;
}
