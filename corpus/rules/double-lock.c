// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture for double-lock, written for rmaplint in kernel style.
 */
#include "anon.h"

/* Two wrappers that take the same root lock: anon_vma and its root share it. */
void anon_vma_bump(struct anon_vma *anon_vma)
{
	anon_vma_lock_write(anon_vma);
	anon_vma->num_children++;
	// ruleid: double-lock
	anon_vma_lock_write(anon_vma);
	anon_vma_unlock_write(anon_vma);
}

/*
 * A static helper that takes the lock its only caller already holds: reported in the helper,
 * whose entry state is its callers', and at the call (kind "callee": the helper takes it
 * again and gives it back, so its summary has no net effect).
 */
static void widget_count(struct widget_list *wl)
{
	// ruleid: double-lock
	spin_lock(&wl->lock);
	wl->users++;
	spin_unlock(&wl->lock);
}

void widget_reset(struct widget_list *wl)
{
	spin_lock(&wl->lock);
	wl->users = 0;
	// ruleid: double-lock
	widget_count(wl);
	spin_unlock(&wl->lock);
}

/* Trylock then lock fallback: the lock is taken once on each path. */
void widget_grab(struct widget_list *wl)
{
	if (!spin_trylock(&wl->lock))
		// ok: double-lock
		spin_lock(&wl->lock);
	wl->users++;
	spin_unlock(&wl->lock);
}

/* A trylock of a held lock is not a deadlock (it fails); not reported. */
void widget_poll(struct widget_list *wl)
{
	spin_lock(&wl->lock);
	// ok: double-lock
	if (spin_trylock(&wl->lock))
		wl->users++;
	spin_unlock(&wl->lock);
}

/* Lock, unlock on the error path, relock: never twice. */
int widget_retry(struct widget_list *wl, struct stash *stash)
{
	spin_lock(&wl->lock);
	if (!wl->users) {
		spin_unlock(&wl->lock);
		stash->buf = kmalloc(64, GFP_KERNEL);
		if (!stash->buf)
			return -ENOMEM;
		// ok: double-lock
		spin_lock(&wl->lock);
	}
	wl->users++;
	spin_unlock(&wl->lock);
	return 0;
}

/* An rwsem read lock taken again for read: a writer queued between them deadlocks both. */
int anon_vma_peek(struct anon_vma *anon_vma)
{
	int n;

	anon_vma_lock_read(anon_vma);
	n = anon_vma->num_children;
	// ruleid: double-lock
	down_read(&anon_vma->root->rwsem);
	n += anon_vma->num_active_vmas;
	up_read(&anon_vma->root->rwsem);
	anon_vma_unlock_read(anon_vma);
	return n;
}

/* rwlock_t readers nest only in interrupt context: with queued rwlocks a second read_lock()
 * waits behind a writer that queued after the first. */
struct table {
	rwlock_t lock;
	int n;
};

int table_read(struct table *t)
{
	int n;

	read_lock(&t->lock);
	// ruleid: double-lock[held]
	read_lock(&t->lock);
	n = t->n;
	read_unlock(&t->lock);
	read_unlock(&t->lock);
	return n;
}

/* A lock on a pointer checked for NULL, and a helper returning the locked object or NULL. */
static struct anon_vma *vma_lock_anon(struct vm_area_struct *vma)
{
	struct anon_vma *anon_vma = vma->anon_vma;

	if (!anon_vma)
		return NULL;
	anon_vma_lock_write(anon_vma);
	return anon_vma;
}

void vma_relink(struct vm_area_struct *vma, struct anon_vma *anon_vma)
{
	struct anon_vma *locked = vma_lock_anon(vma);

	if (!locked)
		// ok: double-lock
		anon_vma_lock_write(anon_vma);
	anon_vma->num_active_vmas++;
	if (locked)
		// ruleid: double-lock
		anon_vma_lock_write(locked);
}

/* scoped_guard() releases at the end of its block: the lock after it is taken once. */
void widget_twice(struct widget_list *wl)
{
	scoped_guard(spinlock, &wl->lock)
		wl->users++;
	// ok: double-lock
	spin_lock(&wl->lock);
	wl->users++;
	spin_unlock(&wl->lock);
}

/* guard() holds to the end of the function. */
void widget_guarded(struct widget_list *wl)
{
	guard(spinlock)(&wl->lock);
	wl->users++;
	// ruleid: double-lock
	spin_lock(&wl->lock);
}

/* A helper with a loop that asserts the lock: asserted, not acquired. */
static void widget_scan_locked(struct widget_list *wl)
{
	struct widget *w;

	lockdep_assert_held(&wl->lock);
	list_for_each_entry(w, &wl->widgets, node)
		w->count = 0;
}

void widget_scan(struct widget_list *wl)
{
	spin_lock(&wl->lock);
	// ok: double-lock
	widget_scan_locked(wl);
	spin_unlock(&wl->lock);
}

/* A trylock helper whose result goes through a local: the fallback lock is taken once. */
static inline bool widget_trylock(struct widget_list *wl)
{
	bool ret;

	ret = spin_trylock(&wl->lock) != 0;
	return ret;
}

void widget_take(struct widget_list *wl)
{
	if (!widget_trylock(wl))
		// ok: double-lock
		spin_lock(&wl->lock);
	wl->users++;
	spin_unlock(&wl->lock);
}

/* The callee reports through &locked that it dropped the lock (the GUP convention). */
long populate(struct mm_struct *mm, unsigned long start, unsigned long end)
{
	int locked = 1;
	long pages;

	mmap_read_lock(mm);
	while (start < end) {
		pages = fault_in_range(mm, start, end, &locked);
		if (!locked) {
			// ok: double-lock
			mmap_read_lock(mm);
			locked = 1;
		}
		start += pages;
	}
	mmap_read_unlock(mm);
	return 0;
}

/* A wait function (elsewhere) that returns with the lock dropped: the caller retakes it. */
void widget_wait_idle(struct widget_list *wl)
{
	spin_lock(&wl->lock);
	while (wl->users) {
		wait_for_widgets_unlocked(wl);
		// ok: double-lock
		spin_lock(&wl->lock);
	}
	spin_unlock(&wl->lock);
}

static struct mutex widget_mutex;
static int widget_table[16];
void widget_table_unlock(void);
static void widget_register(int id);

/* One registration helper called again and again. Its unlock helper has no body here, but
 * the mutex is static to this file: no function of another file can release it, so the
 * second call deadlocks. */
void widgets_register_all(void)
{
	widget_register(1);
	// ruleid: double-lock[held]
	widget_register(2);
}

static void widget_register(int id)
{
	mutex_lock(&widget_mutex);
	widget_table[id] = 1;
	widget_table_unlock();
}

/* Released under another name for the same object, then retaken under the first one. */
void widget_switch(struct widget_list *wl, struct widget_list *other)
{
	struct widget_list *locked = wl;

	lockdep_assert_held(&wl->lock);
	if (other->users > wl->users) {
		spin_unlock(&locked->lock);
		locked = other;
		spin_lock(&locked->lock);
	}
	/* other->lock is held only when the branch above was taken */
	// ruleid: unguarded-access
	other->users++;
	if (locked != wl) {
		spin_unlock(&locked->lock);
		// ok: double-lock
		spin_lock(&wl->lock);
	}
}

/* A lock taken through a macro the tree defines is the lock the macro takes. */
void widget_list_reset(struct widget_list *wl)
{
	widget_list_lock(wl);
	wl->users = 0;
	// ruleid: double-lock[held]
	widget_list_lock(wl);
	widget_list_unlock(wl);
}

/* A killable acquire sleeps for the lock like down_write(): taking it again deadlocks. */
int anon_lock_killable_twice(struct anon_vma *anon_vma)
{
	down_write(&anon_vma->root->rwsem);
	// ruleid: double-lock
	if (down_write_killable(&anon_vma->root->rwsem)) {
		up_write(&anon_vma->root->rwsem);
		return -EINTR;
	}
	anon_vma->num_active_vmas++;
	up_write(&anon_vma->root->rwsem);
	return 0;
}

/* Taken on one path, then taken again on every path: a feasible path takes it twice. */
void widget_bump_twice(struct widget_list *wl, struct widget *w)
{
	if (w->key)
		spin_lock(&wl->lock);
	w->count++;
	// ruleid: double-lock[some-paths]
	spin_lock(&wl->lock);
	wl->users++;
	spin_unlock(&wl->lock);
}

/* An iterator this file defines, whose cursor is its second argument. */
#define for_each_widget_slot(wl, i) for ((i) = 0; (i) < (wl)->users; (i)++)

static void widget_list_clear(struct widget_list *wl)
{
	int i;

	spin_lock(&wl->lock);
	for_each_widget_slot(wl, i)
		wl->first = NULL;
	spin_unlock(&wl->lock);
}

/* The helper takes and gives back the lock: calling it twice holds nothing twice. */
void widget_list_clear_twice(struct widget_list *wl)
{
	// ok: double-lock
	widget_list_clear(wl);
	// ok: double-lock
	widget_list_clear(wl);
}

/* A helper that drops the lock reports it through *dropped (its result handed on to another
 * call); its caller takes the lock back. */
static int widget_drop_for_io(struct widget_list *wl, int *dropped)
{
	spin_unlock(&wl->lock);
	*dropped = 1;
	return 0;
}

static int widget_credits(int need, int err)
{
	return err < 0 ? err : need;
}

static int widget_ensure_room(struct widget_list *wl, int need)
{
	int dropped = 0;
	int ret;

	ret = widget_credits(need, widget_drop_for_io(wl, &dropped));
	if (dropped)
		spin_lock(&wl->lock);
	return ret;
}

int widget_grow(struct widget_list *wl, int need)
{
	int ret;

	spin_lock(&wl->lock);
	ret = widget_ensure_room(wl, need);
	wl->users += need;
	// ok: unlock-unheld
	spin_unlock(&wl->lock);
	return ret;
}
