// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture for lock-imbalance, written for rmaplint in kernel style.
 * A function whose callers cannot tell whether it returned with the lock held.
 */
#include "anon.h"

/* An early return inside the locked region forgets the unlock. */
void widget_drop(struct widget_list *wl, struct widget *w)
{
	// ruleid: lock-imbalance
	spin_lock(&wl->lock);
	if (!wl->users)
		return;
	wl->users--;
	list_del(&w->node);
	spin_unlock(&wl->lock);
}

/* The same return value on both paths: the caller cannot know. */
int anon_count(struct anon_vma *anon_vma)
{
	// ruleid: lock-imbalance
	anon_vma_lock_read(anon_vma);
	if (anon_vma->num_children > 1)
		return 0;
	anon_vma->num_active_vmas++;
	anon_vma_unlock_read(anon_vma);
	return 0;
}

/* goto error paths that all go through the unlock are balanced. */
int widget_add(struct widget_list *wl, struct widget *w)
{
	int err = 0;

	// ok: lock-imbalance
	spin_lock(&wl->lock);
	if (wl->users > 100) {
		err = -EBUSY;
		goto out;
	}
	if (!w->key) {
		err = -EINVAL;
		goto out;
	}
	list_add(&w->node, &wl->widgets);
out:
	spin_unlock(&wl->lock);
	return err;
}

/* A goto that jumps past the unlock. */
int widget_add_leak(struct widget_list *wl, struct widget *w)
{
	// ruleid: lock-imbalance
	spin_lock(&wl->lock);
	if (wl->users > 100)
		goto out;
	list_add(&w->node, &wl->widgets);
	spin_unlock(&wl->lock);
	return 0;
out:
	return 0;
}

/* A conditional-lock contract told by the return value: 0 locked, -EBUSY not. */
int widget_lock_unless_busy(struct widget_list *wl)
{
	// ok: lock-imbalance
	spin_lock(&wl->lock);
	if (wl->users > 100) {
		spin_unlock(&wl->lock);
		return -EBUSY;
	}
	return 0;
}

/* Trylock then lock fallback: held on every return. */
void widget_lock_any(struct widget_list *wl)
{
	// ok: lock-imbalance
	if (!spin_trylock(&wl->lock)) {
		cond_resched();
		spin_lock(&wl->lock);
		return;
	}
	wl->users++;
}

/* A helper that returns the locked object or NULL: the return value tells. */
struct anon_vma *vma_lock_anon(struct vm_area_struct *vma)
{
	struct anon_vma *anon_vma = vma->anon_vma;

	if (!anon_vma)
		return NULL;
	// ok: lock-imbalance
	anon_vma_lock_read(anon_vma);
	if (anon_vma != vma->anon_vma) {
		anon_vma_unlock_read(anon_vma);
		return NULL;
	}
	return anon_vma;
}

/* A contract names the lock: callers know it stays held. */
void widget_begin(struct widget_list *wl, bool fast)
	__acquires(&wl->lock)
{
	// ok: lock-imbalance
	spin_lock(&wl->lock);
	if (fast)
		return;
	spin_unlock(&wl->lock);
	cond_resched();
	spin_lock(&wl->lock);
}

/* A lock on a pointer checked for NULL, released under the same check: balanced. */
void mapping_touch(struct address_space *mapping, struct stash *stash)
{
	if (mapping)
		// ok: lock-imbalance
		i_mmap_lock_read(mapping);
	stash->hits++;
	if (mapping)
		i_mmap_unlock_read(mapping);
}

/* guard() releases on every return, scoped_guard() at the end of its block. */
int widget_users(struct widget_list *wl, bool quick)
{
	if (quick) {
		// ok: lock-imbalance
		guard(spinlock)(&wl->lock);
		if (!wl->users)
			return 0;
		wl->users--;
	}
	scoped_guard(spinlock, &wl->lock) {
		if (wl->users > 10)
			return 0;
	}
	return 0;
}

/* Early return from a scoped_guard() body after a manual lock of another lock. */
void widget_move(struct widget_list *from, struct widget_list *to, struct widget *w)
{
	// ruleid: lock-imbalance
	spin_lock(&to->lock);
	scoped_guard(spinlock, &from->lock) {
		if (!from->users)
			return;
		list_del(&w->node);
	}
	list_add(&w->node, &to->widgets);
	spin_unlock(&to->lock);
}

/* The result says whether the lock is held, through a variable. */
struct widget *widget_find_locked(struct widget_list *wl, int key)
{
	struct widget *w;

	spin_lock(&wl->lock);
	w = widget_lookup(wl, key);
	if (w)
		// ok: lock-imbalance
		return w;
	spin_unlock(&wl->lock);
	return w;
}

void widget_release_locked(int *ref);

/* The last put releases the lock from its release callback, which the analysis cannot see. */
static inline int widget_put_locked(struct widget *w)
{
	return kref_put(&w->ref, widget_release_locked);
}

void widget_done(struct widget_list *wl, struct widget *w)
{
	// ok: lock-imbalance
	spin_lock(&w->lock);
	w->count--;
	if (widget_put_locked(w))
		return;
	spin_unlock(&w->lock);
}

/* The lock is handed to a function that waits on it and drops it. */
void widget_wait(struct widget_list *wl, struct widget *w)
{
	// ok: lock-imbalance
	spin_lock(&wl->lock);
	if (w->count) {
		wait_on_widget_unlock(w, &wl->lock);
		return;
	}
	spin_unlock(&wl->lock);
}

/* A trylock helper whose result goes through a local and a comparison. */
static inline bool widget_trylock(struct widget_list *wl)
{
	bool ret;

	ret = spin_trylock(&wl->lock) != 0;
	return ret;
}

void widget_poke(struct widget_list *wl)
{
	// ok: lock-imbalance
	if (!widget_trylock(wl))
		return;
	wl->users++;
	spin_unlock(&wl->lock);
}

int widget_check(struct widget *w);
int widget_commit(struct widget *w);

/* An error returned from a variable, past the unlock, beside the unlocking exit. */
int widget_update(struct widget_list *wl, struct widget *w)
{
	int err;

	// ruleid: lock-imbalance[indistinguishable]
	spin_lock(&wl->lock);
	err = widget_check(w);
	if (err)
		return err;
	err = widget_commit(w);
	if (err)
		goto out;
	wl->users++;
out:
	spin_unlock(&wl->lock);
	return err;
}

/* An error return that keeps the lock the success path drops. */
int widget_insert(struct widget_list *wl, struct widget *w)
{
	// ruleid: lock-imbalance[error-path]
	spin_lock(&wl->lock);
	if (!w->key)
		return -EINVAL;
	list_add(&w->node, &wl->widgets);
	spin_unlock(&wl->lock);
	return 0;
}

/* The error path's value, set before the goto, keeps it apart from success. */
int widget_claim(struct widget_list *wl, struct widget *w)
{
	int ret = 0;

	// ok: lock-imbalance
	spin_lock(&wl->lock);
	if (w->count) {
		ret = -EBUSY;
		goto out_unlock;
	}
	w->count++;
	return 0;	/* a claimed widget stays locked: the caller unlocks */
out_unlock:
	spin_unlock(&wl->lock);
	return ret;
}

/* A flag set with the lock and tested before the unlock. */
void widget_maybe_bump(struct widget_list *wl, struct widget *w)
{
	bool locked = false;

	// ok: lock-imbalance
	if (w->key) {
		spin_lock(&wl->lock);
		locked = true;
	}
	w->count++;
	if (locked)
		spin_unlock(&wl->lock);
}

/* The same unchanged test before the lock and before the unlock. */
void widget_cond_bump(struct widget_list *wl, struct widget *w)
{
	// ok: lock-imbalance
	if (widget_is_shared(w))
		spin_lock(&wl->lock);
	w->count++;
	if (widget_is_shared(w))
		spin_unlock(&wl->lock);
}

int widget_setup(struct widget *w);
int widget_attach(struct widget *w);

/*
 * Two failing calls share one 'out: return err;', and the second fails with the lock held:
 * the returned variable's value comes from another call on each path, so the paths are not
 * joined before the return.
 */
int widget_bind(struct widget_list *wl, struct widget *w)
{
	int err;

	err = widget_setup(w);
	if (err < 0)
		goto out;
	// ruleid: lock-imbalance[error-path]
	spin_lock(&wl->lock);
	err = widget_attach(w);
	if (err < 0)
		goto out;
	wl->users++;
	spin_unlock(&wl->lock);
	return 0;
out:
	return err;
}

/* The same with the unlock on the failing path: every error exit is unlocked. */
int widget_bind_fixed(struct widget_list *wl, struct widget *w)
{
	int err;

	err = widget_setup(w);
	if (err < 0)
		goto out;
	// ok: lock-imbalance
	spin_lock(&wl->lock);
	err = widget_attach(w);
	if (err < 0) {
		spin_unlock(&wl->lock);
		goto out;
	}
	wl->users++;
	spin_unlock(&wl->lock);
	return 0;
out:
	return err;
}

/* A busy error jumps past the unlock to the one 'return ret;' the success path takes too. */
int widget_reserve(struct widget_list *wl, struct widget *w)
{
	int ret = 0;

	// ruleid: lock-imbalance[error-path]
	spin_lock(&wl->lock);
	if (!w->key) {
		ret = -EINVAL;
		goto out_unlock;
	}
	if (wl->users) {
		ret = -EBUSY;
		goto out;
	}
	wl->users++;
out_unlock:
	spin_unlock(&wl->lock);
out:
	return ret;
}

/* The caller learns through *locked whether the lock is still held. */
int widget_wait_locked(struct widget_list *wl, struct widget *w, int *locked)
{
	// ok: lock-imbalance
	spin_lock(&wl->lock);
	*locked = 1;
	if (w->count) {
		spin_unlock(&wl->lock);
		*locked = 0;
		return -EAGAIN;
	}
	if (!w->key)
		return -EINVAL;
	w->key++;
	return 0;
}

/*
 * ->writepage is called with the page locked and must unlock it (rules/locks.toml
 * [[method]]), except when it returns AOP_WRITEPAGE_ACTIVATE.
 */
struct page;
struct folio;
struct writeback_control {
	int sync_mode;
	int for_reclaim;
};

#define AOP_WRITEPAGE_ACTIVATE	0x80000
#define page_folio(p)		((struct folio *)(p))

void folio_unlock(struct folio *folio);
int widget_page_busy(struct page *page);
int widget_page_write(struct page *page);
void widget_redirty(struct writeback_control *wbc, struct page *page);

static inline void unlock_page(struct page *page)
{
	folio_unlock(page_folio(page));
}

/* The busy page is redirtied and left locked. */
// ruleid: lock-imbalance
static int widget_writepage(struct page *page, struct writeback_control *wbc)
{
	int err;

	if (widget_page_busy(page)) {
		widget_redirty(wbc, page);
		return 0;
	}
	err = widget_page_write(page);
	unlock_page(page);
	return err;
}

/* Kept locked only with the value the contract allows. */
// ok: lock-imbalance
static int widget_writepage_activate(struct page *page, struct writeback_control *wbc)
{
	if (wbc->for_reclaim) {
		widget_redirty(wbc, page);
		return AOP_WRITEPAGE_ACTIVATE;
	}
	unlock_page(page);
	return widget_page_write(page);
}

static const struct address_space_operations widget_aops = {
	.writepage	= widget_writepage,
};

static const struct address_space_operations widget_reclaim_aops = {
	.writepage	= widget_writepage_activate,
};

/* ------------------------------------------------------ sparse contexts and contracts */

/* A pair of run queues: their lock is ->__lock, reached through pair_lockp(). */
struct run_pair {
	spinlock_t __lock;
	struct run_pair *core;
	int nr_running;
};

static inline spinlock_t *pair_lockp(struct run_pair *rp)
{
	if (rp->core)
		return &rp->core->__lock;
	return &rp->__lock;
}

void pair_unlock_one(struct run_pair *rp)
{
	spin_unlock(pair_lockp(rp));
}

/*
 * The contract names ->lock, a member struct run_pair does not have: a sparse context
 * that __release() balances on the path where both queues share one lock, while the
 * other path releases the real lock through the helper. No lock the paths can keep.
 */
static inline void pair_unlock_both(struct run_pair *a, struct run_pair *b)
	__releases(a->lock)
	__releases(b->lock)
{
	// ok: lock-imbalance
	if (pair_lockp(a) != pair_lockp(b))
		pair_unlock_one(b);
	else
		__release(b->lock);
	pair_unlock_one(a);
}

/* A contract on a real member is a lock: the early return keeps it. */
// ruleid: lock-imbalance[contract]
void pair_finish(struct run_pair *rp, bool keep)
	__releases(&rp->__lock)
{
	rp->nr_running--;
	if (keep)
		return;
	spin_unlock(&rp->__lock);
}
