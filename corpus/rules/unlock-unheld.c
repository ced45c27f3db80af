// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture for unlock-unheld, written for rmaplint in kernel style.
 */
#include "anon.h"

/* The error path unlocks twice: the goto target unlocks again. */
int widget_insert(struct widget_list *wl, struct widget *w)
{
	spin_lock(&wl->lock);
	if (wl->users > 100) {
		spin_unlock(&wl->lock);
		goto out_unlock;
	}
	list_add(&w->node, &wl->widgets);
	spin_unlock(&wl->lock);
	return 0;
out_unlock:
	// ruleid: unlock-unheld
	spin_unlock(&wl->lock);
	return -EBUSY;
}

/* The error label unlocks, and only lock-holding paths reach it. */
int widget_insert_ok(struct widget_list *wl, struct widget *w)
{
	int err = 0;

	spin_lock(&wl->lock);
	if (wl->users > 100) {
		err = -EBUSY;
		goto out_unlock;
	}
	list_add(&w->node, &wl->widgets);
out_unlock:
	// ok: unlock-unheld
	spin_unlock(&wl->lock);
	return err;
}

/* Unlocking what the caller holds (state unknown here) is not reported. */
void widget_release_caller(struct widget_list *wl)
{
	wl->users--;
	// ok: unlock-unheld
	spin_unlock(&wl->lock);
}

/*
 * Trylock failed: the unlock on that path releases nothing. A known miss: the failure edge
 * leaves the lock as the caller left it (unknown), and unknown is never "not held".
 */
void widget_try(struct widget_list *wl)
{
	if (!spin_trylock(&wl->lock)) {
		wl->users++;
		// todoruleid: unlock-unheld
		spin_unlock(&wl->lock);
		return;
	}
	wl->users++;
	// ok: unlock-unheld
	spin_unlock(&wl->lock);
}

/* A helper that returns the locked object or NULL; the NULL path unlocks nothing. */
static struct anon_vma *vma_lock_anon(struct vm_area_struct *vma)
{
	struct anon_vma *anon_vma = vma->anon_vma;

	if (!anon_vma)
		return NULL;
	anon_vma_lock_read(anon_vma);
	return anon_vma;
}

int vma_peek(struct vm_area_struct *vma)
{
	struct anon_vma *anon_vma = vma_lock_anon(vma);
	int n;

	if (!anon_vma)
		return 0;
	n = anon_vma->num_children;
	// ok: unlock-unheld
	anon_vma_unlock_read(anon_vma);
	// ruleid: unlock-unheld
	anon_vma_unlock_read(anon_vma);
	return n;
}

/* A conditional lock on a pointer checked for NULL, released under the same check. */
void mapping_note(struct address_space *mapping, struct stash *stash)
{
	if (mapping)
		i_mmap_lock_write(mapping);
	stash->hits++;
	if (mapping)
		// ok: unlock-unheld
		i_mmap_unlock_write(mapping);
}

/* A guard released by scope end; a manual unlock after it releases it twice. */
void widget_scoped(struct widget_list *wl)
{
	scoped_guard(spinlock, &wl->lock) {
		wl->users++;
	}
	// ruleid: unlock-unheld
	spin_unlock(&wl->lock);
}

/* Released in a loop that took it in the same iteration. */
void widget_each(struct widget_list *wl, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		spin_lock(&wl->lock);
		wl->users++;
		// ok: unlock-unheld
		spin_unlock(&wl->lock);
	}
}

/* A helper with a loop that takes and releases the lock itself: not the caller's release. */
static int widget_sum(struct widget_list *wl)
{
	struct widget *w;
	int sum = 0;

	spin_lock(&wl->lock);
	list_for_each_entry(w, &wl->widgets, node)
		sum += w->count;
	spin_unlock(&wl->lock);
	return sum;
}

int widget_total(struct widget_list *wl)
{
	int n;

	spin_lock(&wl->lock);
	n = wl->users;
	spin_unlock(&wl->lock);
	// ok: unlock-unheld
	return n + widget_sum(wl);
}

/* The lock pointer is stored by a callee that takes it (pte_offset_map_lock() style). */
int table_update(struct mm_struct *mm, pmd_t *pmd, spinlock_t **ptlp, struct stash *stash)
{
	spinlock_t *ptl;
	pte_t *pte;

	pte = map_and_lock(mm, pmd, &ptl);
	if (!pte)
		return -EAGAIN;
	stash->hits++;
	spin_unlock(ptl);
	pte = map_and_lock(mm, pmd, &ptl);
	if (!pte)
		return -EAGAIN;
	// ok: unlock-unheld
	spin_unlock(ptl);
	return 0;
}

/* A put helper: the lock is taken only when the count drops to zero, and released then. */
static void widget_put(struct widget_list *wl, struct widget *w)
{
	if (refcount_dec_and_lock(&w->ref, &wl->lock)) {
		list_del(&w->node);
		spin_unlock(&wl->lock);
		kfree(w);
	}
}

void widget_retire(struct widget_list *wl, struct widget *w)
{
	spin_lock(&wl->lock);
	wl->users--;
	spin_unlock(&wl->lock);
	// ok: unlock-unheld
	widget_put(wl, w);
}

/* A macro that stores the lock it takes through its out-parameter (pte_offset_map_lock()). */
int widget_first_key(struct widget_list *wl)
{
	spinlock_t *ptl;
	struct widget *w;
	int key;

	w = widget_lock_first(wl, &ptl);
	key = w->key;
	// ok: unlock-unheld
	spin_unlock(ptl);
	return key;
}

int widget_first_key_twice(struct widget_list *wl)
{
	spinlock_t *ptl;
	struct widget *w;
	int key;

	w = widget_lock_first(wl, &ptl);
	key = w->key;
	spin_unlock(ptl);
	// ruleid: unlock-unheld[not-held]
	spin_unlock(ptl);
	return key;
}

/*
 * A relock helper built on a lookup with two #if definitions: one returns the address of
 * an embedded list (never NULL), the other a looked-up pointer. The caller starts with
 * no list and releases only the list its last relock returned (folio_lruvec_relock_irq()
 * through __mlock_folio()).
 */
struct widget_node {
	struct widget_list local;
};

struct widget_node *widget_node_of(struct widget *w);
struct widget_list *widget_list_lookup(struct widget *w);

static inline int widget_list_matches(struct widget_list *wl, struct widget *w)
{
	return wl->first == w;
}

#ifdef CONFIG_WIDGET_GROUPS
struct widget_list *widget_list_grab(struct widget *w)
{
	struct widget_list *wl = widget_list_lookup(w);

	spin_lock(&wl->lock);
	wl->users++;
	return wl;
}
#else
static inline struct widget_list *widget_list_grab(struct widget *w)
{
	struct widget_node *node = widget_node_of(w);

	spin_lock(&node->local.lock);
	return &node->local;
}
#endif

static inline struct widget_list *widget_list_relock(struct widget *w,
						     struct widget_list *locked)
{
	if (locked) {
		if (widget_list_matches(locked, w))
			return locked;
		spin_unlock(&locked->lock);
	}
	return widget_list_grab(w);
}

int widget_ready(struct widget *w);

static struct widget_list *widget_tag_one(struct widget *w, struct widget_list *wl)
{
	if (!widget_ready(w))
		return wl;
	wl = widget_list_relock(w, wl);
	w->key++;
	return wl;
}

void widget_batch_tag(struct widget **batch, int n)
{
	struct widget_list *wl = NULL;
	int i;

	for (i = 0; i < n; i++)
		// ok: unlock-unheld
		wl = widget_tag_one(batch[i], wl);
	if (wl)
		// ok: unlock-unheld
		spin_unlock(&wl->lock);
}

/*
 * A retry that drops the lock on one path and jumps back past its acquire: on that path
 * both releases below release a lock no longer held.
 */
int widget_busy(struct widget *w);

int widget_export(struct widget_list *wl, struct widget *w)
{
	int tries = 0;

	spin_lock(&wl->lock);
retry:
	if (widget_busy(w)) {
		// ruleid: unlock-unheld[some-paths]
		spin_unlock(&wl->lock);
		if (++tries > 3)
			return -EBUSY;
		goto retry;
	}
	w->key++;
	// ruleid: unlock-unheld[some-paths]
	spin_unlock(&wl->lock);
	return 0;
}

/* Two lists that may be one: the second is taken and dropped only when it is another. */
void widget_lists_bump(struct widget_list *a, struct widget_list *b)
{
	spin_lock(&a->lock);
	if (b != a)
		spin_lock(&b->lock);
	a->users++;
	if (b != a)
		// ok: unlock-unheld
		spin_unlock(&b->lock);
	// ok: unlock-unheld
	spin_unlock(&a->lock);
}

static inline struct widget_list *widget_lock_list(struct widget *w)
{
	struct widget_list *wl = widget_list_lookup(w);

	spin_lock(&wl->lock);
	return wl;
}

void widget_wait_ready(struct widget *w);

/* The relock's result is dropped: it is the list already in hand, which is held again. */
void widget_tag_all(struct widget **batch, int n)
{
	struct widget_list *wl = widget_lock_list(batch[0]);
	int i;

	for (i = 0; i < n; i++) {
		if (!widget_ready(batch[i])) {
			spin_unlock(&wl->lock);
			widget_wait_ready(batch[i]);
			widget_lock_list(batch[0]);
		}
	}
	// ok: unlock-unheld
	spin_unlock(&wl->lock);
}

/*
 * An early exit that jumps to the unlock label before the lock is taken: the function takes
 * the lock itself (a statement of its own block, as the caller left it), so no caller holds
 * it, and the jump releases a lock nobody took.
 */
struct tag_list {
	spinlock_t lock;
	int gen;
};

int tags_rename(struct tag_list *tl, int key)
{
	int err = 0;

	if (key < 0) {
		err = -EINVAL;
		goto out;
	}
	spin_lock(&tl->lock);
	tl->gen = key;
out:
	// ruleid: unlock-unheld
	spin_unlock(&tl->lock);
	return err;
}

/* The caller's flag says who holds the lock: the acquire is a branch, not the function's. */
void tags_touch(struct tag_list *tl, int locked)
{
	if (!locked)
		spin_lock(&tl->lock);
	tl->gen++;
	// ok: unlock-unheld
	spin_unlock(&tl->lock);
}

/* Gives the caller's lock back and takes it again: the release comes first. */
void tags_relax(struct tag_list *tl)
{
	// ok: unlock-unheld
	spin_unlock(&tl->lock);
	cond_resched();
	spin_lock(&tl->lock);
}
