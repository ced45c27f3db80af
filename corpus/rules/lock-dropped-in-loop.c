// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture for lock-dropped-in-loop, written for rmaplint in kernel style.
 * The shapes follow the anon_vma clean-up: a conditional root-switching helper, an
 * explicit unlock/relock around a sleeping allocation, and the form without a drop.
 */
#include "anon.h"

static inline struct anon_vma *take_root(struct anon_vma *root, struct anon_vma *anon_vma)
{
	struct anon_vma *new_root = anon_vma->root;

	if (new_root != root) {
		if (WARN_ON_ONCE(root))
			up_write(&root->rwsem);
		root = new_root;
		down_write(&root->rwsem);
	}
	return root;
}

static inline void drop_root(struct anon_vma *root)
{
	if (root)
		up_write(&root->rwsem);
}

/* The helper form: the lock is dropped for the retry through drop_root(). */
int clone_with_helpers(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	struct anon_vma_chain *avc, *pavc;
	struct anon_vma *root = NULL;

	/* as in the kernel, no assertion says the caller holds the mmap lock */
	// ruleid: walk-unlocked
	list_for_each_entry_reverse(pavc, &src->anon_vma_chain, same_vma) {
		struct anon_vma *anon_vma;

		avc = chain_alloc(GFP_NOWAIT | __GFP_NOWARN);
		if (unlikely(!avc)) {
			// ruleid: lock-dropped-in-loop
			drop_root(root);
			root = NULL;
			avc = chain_alloc(GFP_KERNEL);
			if (!avc)
				goto enomem;
		}
		anon_vma = pavc->anon_vma;
		// ok: lock-dropped-in-loop
		root = take_root(root, anon_vma);
		chain_assign(dst, avc, anon_vma);
		anon_vma_interval_tree_insert(avc, &anon_vma->rb_root);
	}
	drop_root(root);
	return 0;
enomem:
	return -ENOMEM;
}

/* The explicit form: one lock for the whole walk, dropped around the sleeping retry. */
int clone_locked_once(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	struct anon_vma_chain *avc, *pavc;

	mmap_assert_write_locked(src->vm_mm);
	// ruleid: root-assumed-shared
	anon_vma_lock_write(src->anon_vma);
	list_for_each_entry_reverse(pavc, &src->anon_vma_chain, same_vma) {
		avc = chain_alloc(GFP_NOWAIT | __GFP_NOWARN);
		if (unlikely(!avc)) {
			// ruleid: lock-dropped-in-loop
			anon_vma_unlock_write(src->anon_vma);
			avc = chain_alloc(GFP_KERNEL);
			anon_vma_lock_write(src->anon_vma);
			if (!avc)
				goto enomem;
		}
		chain_assign(dst, avc, pavc->anon_vma);
		anon_vma_interval_tree_insert(avc, &pavc->anon_vma->rb_root);
	}
	anon_vma_unlock_write(src->anon_vma);
	return 0;
enomem:
	anon_vma_unlock_write(src->anon_vma);
	return -ENOMEM;
}

/* Allocate first, then one locked pass: nothing is dropped mid-walk. */
int clone_alloc_first(struct vm_area_struct *dst, struct vm_area_struct *src,
		      struct list_head *prealloc)
{
	struct anon_vma_chain *avc, *pavc;

	mmap_assert_write_locked(src->vm_mm);
	// ok: root-assumed-shared
	anon_vma_lock_write(src->anon_vma);
	// ok: lock-dropped-in-loop
	list_for_each_entry_reverse(pavc, &src->anon_vma_chain, same_vma) {
		avc = list_first_entry(prealloc, struct anon_vma_chain, same_vma);
		list_del(&avc->same_vma);
		chain_assign(dst, avc, pavc->anon_vma);
		VM_WARN_ON_ONCE(pavc->anon_vma->root != src->anon_vma->root);
		anon_vma_interval_tree_insert(avc, &pavc->anon_vma->rb_root);
	}
	anon_vma_unlock_write(src->anon_vma);
	return 0;
}

/* Locked per iteration: held only inside the body, so nothing is dropped mid-walk. */
void bump_each(struct widget_list *wl)
{
	struct widget *w;

	list_for_each_entry(w, &wl->widgets, node) {
		spin_lock(&wl->lock);
		w->count++;
		// ok: lock-dropped-in-loop
		spin_unlock(&wl->lock);
	}
}

/* Dropped and the walk abandoned: the lock is not retaken inside the loop. */
int find_and_leave(struct widget_list *wl, int key)
{
	struct widget *w;

	spin_lock(&wl->lock);
	list_for_each_entry(w, &wl->widgets, node) {
		if (w->key == key) {
			// ok: lock-dropped-in-loop
			spin_unlock(&wl->lock);
			// ruleid: used-after-unlock[listed]
			return w->value;
		}
	}
	spin_unlock(&wl->lock);
	return -ENOENT;
}

/* A helper that drops and retakes the caller's lock is a drop too. */
static void widget_relax(struct widget_list *wl)
{
	spin_unlock(&wl->lock);
	cond_resched();
	spin_lock(&wl->lock);
}

void scan_widgets(struct widget_list *wl)
{
	struct widget *w;

	spin_lock(&wl->lock);
	list_for_each_entry(w, &wl->widgets, node) {
		w->count = 0;
		if (need_resched())
			// ruleid: lock-dropped-in-loop
			widget_relax(wl);
	}
	spin_unlock(&wl->lock);
}

/* A justified drop is still reported, marked justified. */
void scan_justified(struct widget_list *wl)
{
	struct widget *w;

	spin_lock(&wl->lock);
	list_for_each_entry(w, &wl->widgets, node) {
		w->count = 0;
		// ruleid: lock-dropped-in-loop[walk]
		spin_unlock(&wl->lock);
		/* rmaplint: allow lock-dropped-in-loop — widgets are pinned by wl->users */
		cond_resched();
		spin_lock(&wl->lock);
	}
	spin_unlock(&wl->lock);
}

/* Dropped and retaken, but the walk ends right after: nothing resumes on a changed list. */
int find_and_wait(struct widget_list *wl, int key)
{
	struct widget *w;
	int ret = -ENOENT;

	spin_lock(&wl->lock);
	list_for_each_entry(w, &wl->widgets, node) {
		if (w->key == key) {
			// ok: lock-dropped-in-loop
			widget_relax(wl);
			ret = 0;
			break;
		}
	}
	spin_unlock(&wl->lock);
	return ret;
}

/* A retry loop made by a backward goto is a loop like any other. */
void widget_wait_quiet(struct widget_list *wl)
{
	spin_lock(&wl->lock);
retry:
	if (wl->users) {
		// ruleid: lock-dropped-in-loop[revalidated]
		spin_unlock(&wl->lock);
		cond_resched();
		spin_lock(&wl->lock);
		goto retry;
	}
	wl->users = -1;
	spin_unlock(&wl->lock);
}

struct widget *widget_list_next(struct widget_list *wl, struct widget *w);
void widget_flush(struct widget *w);

/*
 * The loop moves to the next widget through the one in hand, read before the drop and
 * used again after the retake: if it was freed meanwhile, the walk follows a stale pointer.
 */
void widget_flush_all(struct widget_list *wl)
{
	struct widget *w = wl->first;

	spin_lock(&wl->lock);
	while (w) {
		// ruleid: lock-dropped-in-loop[loop]
		spin_unlock(&wl->lock);
		widget_flush(w);
		spin_lock(&wl->lock);
		w = widget_list_next(wl, w);
	}
	spin_unlock(&wl->lock);
}

struct pinned_widget {
	struct kref ref;
	struct widget w;
};

/* The same walk with the widget pinned by a reference before the drop. */
void widget_flush_pinned(struct widget_list *wl, struct pinned_widget *first)
{
	struct pinned_widget *p = first;

	spin_lock(&wl->lock);
	while (p) {
		kref_get(&p->ref);
		// ruleid: lock-dropped-in-loop[revalidated]
		spin_unlock(&wl->lock);
		widget_flush(&p->w);
		spin_lock(&wl->lock);
		p = (struct pinned_widget *)widget_list_next(wl, &p->w);
	}
	spin_unlock(&wl->lock);
}

/* A helper of our own that takes the reference: its body hands the widget to kref_get(). */
static void pinned_widget_hold(struct pinned_widget *p)
{
	kref_get(&p->ref);
}

/* A helper that takes the reference unless the widget is going away, and says so. */
static bool pinned_widget_tryhold(struct pinned_widget *p)
{
	return kref_get_unless_zero(&p->ref);
}

/* The reference tried in the loop's test: a widget going away is skipped, kept otherwise. */
void widget_flush_tried(struct widget_list *wl, struct pinned_widget *first)
{
	struct pinned_widget *p = first;

	spin_lock(&wl->lock);
	while (p) {
		if (!pinned_widget_tryhold(p))
			break;
		// ruleid: lock-dropped-in-loop[revalidated]
		spin_unlock(&wl->lock);
		widget_flush(&p->w);
		spin_lock(&wl->lock);
		p = (struct pinned_widget *)widget_list_next(wl, &p->w);
	}
	spin_unlock(&wl->lock);
}

/* A helper that only looks at the widget pins nothing. */
static int pinned_widget_busy(struct pinned_widget *p)
{
	return p->w.count;
}

/* The pinned walk again, the reference taken through the helper. */
void widget_flush_held(struct widget_list *wl, struct pinned_widget *first)
{
	struct pinned_widget *p = first;

	spin_lock(&wl->lock);
	while (p) {
		pinned_widget_hold(p);
		// ruleid: lock-dropped-in-loop[revalidated]
		spin_unlock(&wl->lock);
		widget_flush(&p->w);
		spin_lock(&wl->lock);
		p = (struct pinned_widget *)widget_list_next(wl, &p->w);
	}
	spin_unlock(&wl->lock);
}

/* The same shape through a helper that pins nothing: the widget may be gone. */
void widget_flush_looked(struct widget_list *wl, struct pinned_widget *first)
{
	struct pinned_widget *p = first;

	spin_lock(&wl->lock);
	while (p) {
		if (pinned_widget_busy(p))
			break;
		// ruleid: lock-dropped-in-loop[loop]
		spin_unlock(&wl->lock);
		// ruleid: used-after-unlock
		widget_flush(&p->w);
		spin_lock(&wl->lock);
		p = (struct pinned_widget *)widget_list_next(wl, &p->w);
	}
	spin_unlock(&wl->lock);
}

/* The head is read again after the retake: each pass starts from the list itself. */
void widget_drain(struct widget_list *wl)
{
	struct widget *w;

	spin_lock(&wl->lock);
	while ((w = wl->first) != NULL) {
		wl->first = NULL;
		// ruleid: lock-dropped-in-loop[revalidated]
		spin_unlock(&wl->lock);
		widget_flush(w);
		spin_lock(&wl->lock);
	}
	spin_unlock(&wl->lock);
}

struct widget_list *widget_home(struct widget *w);

/*
 * A hand-off between two lists' locks: the old list's lock is dropped, the variable is
 * rebound to the other list, and that list's lock is taken. No lock is dropped mid-walk.
 */
void widget_sort_home(struct widget **ws, int n)
{
	struct widget_list *wl = NULL, *wl2;
	int i;

	for (i = 0; i < n; i++) {
		wl2 = widget_home(ws[i]);
		if (wl != wl2) {
			if (wl)
				// ok: lock-dropped-in-loop
				spin_unlock(&wl->lock);
			wl = wl2;
			spin_lock(&wl->lock);
		}
		wl->users++;
	}
	if (wl)
		spin_unlock(&wl->lock);
}

/*
 * An iterator whose advance reads its state (the xa_state caches a tree node): continuing
 * after the lock was dropped follows a node that may have been freed, unless the state is
 * paused first (the next step then walks down from the index again).
 */
void widget_tag_all(struct widget_list *wl, struct xa_state *xas)
{
	struct widget *w;

	spin_lock(&wl->lock);
	xas_for_each(xas, w, ~0UL) {
		w->key = 1;
		if (!need_resched())
			continue;
		// ruleid: lock-dropped-in-loop[walk]
		spin_unlock(&wl->lock);
		cond_resched();
		spin_lock(&wl->lock);
	}
	spin_unlock(&wl->lock);
}

void widget_tag_all_paused(struct widget_list *wl, struct xa_state *xas)
{
	struct widget *w;

	spin_lock(&wl->lock);
	xas_for_each(xas, w, ~0UL) {
		w->key = 1;
		if (!need_resched())
			continue;
		xas_pause(xas);
		// ruleid: lock-dropped-in-loop[revalidated]
		spin_unlock(&wl->lock);
		cond_resched();
		spin_lock(&wl->lock);
	}
	spin_unlock(&wl->lock);
}

/*
 * Each pass walks the list afresh after the retake: a walk that starts from the head
 * reads no cursor of the pass before.
 */
void widget_age_passes(struct widget_list *wl, int passes)
{
	struct widget *w;
	int i;

	spin_lock(&wl->lock);
	for (i = 0; i < passes; i++) {
		list_for_each_entry(w, &wl->widgets, node)
			w->count++;
		// ruleid: lock-dropped-in-loop[revalidated]
		spin_unlock(&wl->lock);
		cond_resched();
		spin_lock(&wl->lock);
		list_for_each_entry(w, &wl->widgets, node)
			w->key = 0;
	}
	spin_unlock(&wl->lock);
}

/*
 * A _safe walk moves to the entry it read before the body ran: after a drop, that next
 * entry may be gone, unless it is read again from the list after the retake.
 */
void widget_flush_safe(struct widget_list *wl)
{
	struct widget *w, *next;

	spin_lock(&wl->lock);
	list_for_each_entry_safe(w, next, &wl->widgets, node) {
		list_del(&w->node);
		// ruleid: lock-dropped-in-loop[walk]
		spin_unlock(&wl->lock);
		widget_flush(w);
		spin_lock(&wl->lock);
	}
	spin_unlock(&wl->lock);
}

void widget_flush_safe_reread(struct widget_list *wl)
{
	struct widget *w, *next;

	spin_lock(&wl->lock);
	list_for_each_entry_safe(w, next, &wl->widgets, node) {
		list_del(&w->node);
		// ruleid: lock-dropped-in-loop[revalidated]
		spin_unlock(&wl->lock);
		widget_flush(w);
		spin_lock(&wl->lock);
		next = list_first_entry(&wl->widgets, struct widget, node);
	}
	spin_unlock(&wl->lock);
}

static struct widget *widget_list_lock_first(struct widget_list *wl)
{
	spin_lock(&wl->lock);
	return wl->first;
}

/* The retake returns the pointer the walk goes on with: it is read under the lock again. */
void widget_flush_relocked(struct widget_list *wl)
{
	struct widget *w;

	w = widget_list_lock_first(wl);
	while (w) {
		w->count++;
		// ruleid: lock-dropped-in-loop[revalidated]
		spin_unlock(&wl->lock);
		widget_flush(w);
		w = widget_list_lock_first(wl);
	}
	spin_unlock(&wl->lock);
}

/*
 * After the retake the walk first tests whether the list moved under it, and starts over
 * when it did: the state it relies on is re-validated.
 */
void widget_flush_recheck(struct widget_list *wl)
{
	struct widget *w;

	spin_lock(&wl->lock);
again:
	w = wl->first;
	while (w) {
		// ruleid: lock-dropped-in-loop[revalidated]
		spin_unlock(&wl->lock);
		widget_flush(w);
		spin_lock(&wl->lock);
		if (w != wl->first)
			goto again;
		w = widget_list_next(wl, w);
	}
	spin_unlock(&wl->lock);
}

void widget_copy(struct widget *w, char *to, long n);

/*
 * A position in a buffer moved across the drop is no object another CPU may free: the copy
 * goes on from where it was.
 */
void widget_dump(struct widget *w, char *buf, long len)
{
	spin_lock(&w->lock);
	while (len > 0) {
		// ruleid: lock-dropped-in-loop[revalidated]
		spin_unlock(&w->lock);
		cond_resched();
		spin_lock(&w->lock);
		widget_copy(w, buf, 64);
		buf += 64;
		len -= 64;
	}
	spin_unlock(&w->lock);
}

/*
 * The widget is unlinked from the shared list before the drop: no other CPU finds it there,
 * so using it after the retake is using the walker's own object. The loop takes the list's
 * first entry again each time round.
 */
void widget_reap(struct widget_list *wl)
{
	struct widget *w;

	spin_lock(&wl->lock);
	while (!list_empty(&wl->widgets)) {
		w = list_first_entry(&wl->widgets, struct widget, node);
		list_del_init(&w->node);
		// ruleid: lock-dropped-in-loop[revalidated]
		spin_unlock(&wl->lock);
		cond_resched();
		spin_lock(&wl->lock);
		widget_flush(w);
	}
	spin_unlock(&wl->lock);
}

/* The same walk without the unlink: the widget may be freed while the lock is dropped. */
void widget_reap_linked(struct widget_list *wl)
{
	struct widget *w;

	spin_lock(&wl->lock);
	while (!list_empty(&wl->widgets)) {
		w = list_first_entry(&wl->widgets, struct widget, node);
		// ruleid: lock-dropped-in-loop[loop]
		spin_unlock(&wl->lock);
		cond_resched();
		spin_lock(&wl->lock);
		widget_flush(w);
		list_del_init(&w->node);
	}
	spin_unlock(&wl->lock);
}
