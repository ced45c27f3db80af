// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture for reclaim-under-lock, written for rmaplint in kernel style.
 * Reclaim walks the rmap trees: it takes the anon_vma rwsem and i_mmap_rwsem, so an
 * allocation that may enter direct reclaim must not run while they (or a spinlock) are held.
 */
#include "anon.h"

/* The 2011 shape: a sleeping allocation with the anon_vma lock held for write. */
int link_under_lock(struct vm_area_struct *vma, struct anon_vma *anon_vma)
{
	struct anon_vma_chain *avc;

	anon_vma_lock_write(anon_vma);
	// ruleid: reclaim-under-lock
	avc = chain_alloc(GFP_KERNEL);
	if (!avc) {
		anon_vma_unlock_write(anon_vma);
		return -ENOMEM;
	}
	chain_link(vma, avc, anon_vma);
	anon_vma_unlock_write(anon_vma);
	return 0;
}

/* The fix: try without reclaim under the lock, drop it for the sleeping retry. */
int link_with_retry(struct vm_area_struct *vma, struct anon_vma *anon_vma)
{
	struct anon_vma_chain *avc;

	anon_vma_lock_write(anon_vma);
	// ok: reclaim-under-lock
	avc = chain_alloc(GFP_NOWAIT | __GFP_NOWARN);
	if (unlikely(!avc)) {
		anon_vma_unlock_write(anon_vma);
		// ok: reclaim-under-lock
		avc = chain_alloc(GFP_KERNEL);
		if (!avc)
			return -ENOMEM;
		anon_vma_lock_write(anon_vma);
	}
	chain_link(vma, avc, anon_vma);
	anon_vma_unlock_write(anon_vma);
	return 0;
}

/* Reclaim masked off explicitly, or an atomic allocation: no direct reclaim. */
void *grab_masked(struct widget_list *wl, size_t size)
{
	void *p, *q;

	spin_lock(&wl->lock);
	// ok: reclaim-under-lock
	p = kmalloc(size, GFP_KERNEL & ~__GFP_DIRECT_RECLAIM);
	// ok: reclaim-under-lock
	q = kmalloc(size, GFP_ATOMIC | __GFP_ZERO);
	spin_unlock(&wl->lock);
	kfree(q);
	return p;
}

/* Under a spinlock any sleeping allocation is wrong; guard() holds it to the scope's end. */
struct widget *widget_new_locked(struct widget_list *wl)
{
	struct widget *w;

	guard(spinlock)(&wl->lock);
	// ruleid: reclaim-under-lock
	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (w)
		wl->users++;
	return w;
}

/* scoped_guard(): the allocation after the scope runs unlocked. */
struct widget *widget_new_after(struct widget_list *wl)
{
	struct widget *w;

	scoped_guard(spinlock, &wl->lock) {
		if (wl->users > 100)
			return NULL;
		wl->users++;
	}
	// ok: reclaim-under-lock
	w = kzalloc(sizeof(*w), GFP_KERNEL);
	return w;
}

/* Trylock, and a blocking lock as fallback: held on both paths afterwards. */
int link_trylock(struct vm_area_struct *vma, struct anon_vma *anon_vma)
{
	struct anon_vma_chain *avc;

	if (!anon_vma_trylock_write(anon_vma)) {
		// ok: reclaim-under-lock
		avc = chain_alloc(GFP_KERNEL);
		anon_vma_lock_write(anon_vma);
	} else {
		// ruleid: reclaim-under-lock
		avc = chain_alloc(GFP_NOFS);
	}
	if (avc)
		chain_link(vma, avc, anon_vma);
	anon_vma_unlock_write(anon_vma);
	return avc ? 0 : -ENOMEM;
}

/* A helper that returns the object locked, or NULL with nothing locked. */
static struct anon_vma *vma_lock_anon(struct vm_area_struct *vma)
{
	struct anon_vma *anon_vma = vma->anon_vma;

	if (!anon_vma)
		return NULL;
	anon_vma_lock_read(anon_vma);
	return anon_vma;
}

int stash_anon(struct vm_area_struct *vma, struct stash *stash)
{
	struct anon_vma *anon_vma = vma_lock_anon(vma);

	if (!anon_vma) {
		// ok: reclaim-under-lock
		stash->buf = kmalloc(64, GFP_KERNEL);
		return stash->buf ? 0 : -ENOMEM;
	}
	/* the read lock is enough for reclaim to queue behind a waiting writer */
	// ruleid: reclaim-under-lock
	stash->buf = kmalloc(64, GFP_KERNEL_ACCOUNT);
	anon_vma_unlock_read(anon_vma);
	return 0;
}

/* A lock on a pointer checked for NULL: held exactly when the object exists. */
void note_mapping(struct address_space *mapping, struct stash *stash)
{
	if (mapping)
		i_mmap_lock_write(mapping);
	// ruleid: reclaim-under-lock
	stash->buf = kmalloc(64, GFP_NOIO);
	if (mapping)
		i_mmap_unlock_write(mapping);
	// ok: reclaim-under-lock
	stash->extra = kmalloc(64, GFP_KERNEL);
}

/* goto error paths: the unlock label comes before the sleeping allocation. */
int refill(struct widget_list *wl, struct stash *stash)
{
	int err = 0;

	spin_lock(&wl->lock);
	if (wl->users == 0) {
		err = -ENOENT;
		goto out_unlock;
	}
	wl->users--;
out_unlock:
	spin_unlock(&wl->lock);
	if (err)
		return err;
	// ok: reclaim-under-lock
	stash->buf = kmalloc(64, GFP_KERNEL);
	return 0;
}

/* A sleeping allocation on one branch while the lock is taken on the other: a may-hold. */
void maybe_locked(struct widget_list *wl, struct stash *stash, bool locked)
{
	if (locked)
		spin_lock(&wl->lock);
	// ruleid: reclaim-under-lock
	stash->buf = kmalloc(64, locked ? GFP_ATOMIC : GFP_KERNEL);
	if (locked)
		spin_unlock(&wl->lock);
}

/* The flags belong to the nested allocation, not to the call that consumes its result. */
void publish(struct widget_list *wl, struct stash *stash)
{
	spin_lock(&wl->lock);
	// ok: reclaim-under-lock
	stash_set(stash, wl->users, GFP_NOWAIT);
	spin_unlock(&wl->lock);
	// ok: reclaim-under-lock
	stash_set(stash, wl->users, GFP_KERNEL);
}

/* Reading the flags is not allocating; the page table lock is released by the macro. */
int pick_zone(struct mm_struct *mm, spinlock_t *ptl, pte_t *pte, struct stash *stash)
{
	int zone;

	spin_lock(ptl);
	// ok: reclaim-under-lock
	zone = gfp_zone(GFP_HIGHUSER_MOVABLE);
	pte_unmap_unlock(pte, ptl);
	// ok: reclaim-under-lock
	stash->buf = kmalloc(64, GFP_KERNEL);
	return zone;
}

/*
 * Called with the list lock held; drops it for the sleeping retry. The contract names a
 * local declared in the body: the lock it means is the one released before the retry.
 */
static void widget_send(struct widget *w)
	__releases(wl->lock)
	__acquires(wl->lock)
{
	struct widget_list *wl = widget_list_of(w);
	int err;

	// ok: reclaim-under-lock
	err = widget_queue(w, GFP_ATOMIC);
	if (err == -ENOMEM) {
		spin_unlock(&wl->lock);
		// ok: reclaim-under-lock
		err = widget_queue(w, GFP_NOFS | __GFP_NOFAIL);
		spin_lock(&wl->lock);
	}
}
