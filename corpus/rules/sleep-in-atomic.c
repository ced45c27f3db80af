// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture for sleep-in-atomic, written for rmaplint in kernel style. A finding is the call
 * that may sleep; its region starts where the spinlock was taken.
 */
#include "anon.h"

/* A sleeping lock taken under a spinlock. */
void widget_sync(struct widget_list *wl, struct anon_vma *anon_vma)
{
	spin_lock(&wl->lock);
	// ruleid: sleep-in-atomic
	down_write(&anon_vma->root->rwsem);
	anon_vma->num_active_vmas++;
	up_write(&anon_vma->root->rwsem);
	spin_unlock(&wl->lock);
}

/* A listed sleeper under a spinlock. */
void widget_wait_users(struct widget_list *wl)
{
	spin_lock(&wl->lock);
	while (wl->users)
		// ruleid: sleep-in-atomic
		msleep(1);
	spin_unlock(&wl->lock);
}

/* Dropped around the sleep: fine. */
void widget_wait_users_unlocked(struct widget_list *wl)
{
	spin_lock(&wl->lock);
	while (wl->users) {
		// ruleid: lock-dropped-in-loop
		spin_unlock(&wl->lock);
		// ok: sleep-in-atomic
		msleep(1);
		spin_lock(&wl->lock);
	}
	spin_unlock(&wl->lock);
}

/* A helper of the file that sleeps, called under the spinlock. */
static void stash_release(struct stash *stash)
{
	might_sleep();
	vfree(stash->buf);
	stash->buf = NULL;
}

void widget_drop_stash(struct widget_list *wl, struct stash *stash)
{
	spin_lock(&wl->lock);
	wl->users--;
	// ruleid: sleep-in-atomic
	stash_release(stash);
	spin_unlock(&wl->lock);
}

/* A helper that drops the caller's spinlock around its sleep is the correct shape. */
static void widget_list_pause(struct widget_list *wl)
{
	spin_unlock(&wl->lock);
	cond_resched();
	spin_lock(&wl->lock);
}

void widget_scan(struct widget_list *wl)
{
	spin_lock(&wl->lock);
	while (wl->users > 8)
		// ok: sleep-in-atomic
		// ruleid: lock-dropped-in-loop
		widget_list_pause(wl);
	spin_unlock(&wl->lock);
}

/* A trylock of a sleeping lock does not sleep. */
int widget_try_sync(struct widget_list *wl, struct anon_vma *anon_vma)
{
	spin_lock(&wl->lock);
	// ok: sleep-in-atomic
	if (!down_write_trylock(&anon_vma->root->rwsem)) {
		spin_unlock(&wl->lock);
		return -EAGAIN;
	}
	anon_vma->num_active_vmas++;
	up_write(&anon_vma->root->rwsem);
	spin_unlock(&wl->lock);
	return 0;
}

/* Under a sleeping lock, sleeping is fine. */
void anon_wait(struct anon_vma *anon_vma)
{
	down_write(&anon_vma->root->rwsem);
	// ok: sleep-in-atomic
	msleep(1);
	up_write(&anon_vma->root->rwsem);
}

/*
 * Atomic sections with no lock object: an RCU read-side critical section, preemption or
 * interrupts off. They nest, and only one open on every path counts.
 */
void widget_rcu_flush(struct widget_list *wl, struct stash *stash)
{
	rcu_read_lock();
	if (wl->users)
		// ruleid: sleep-in-atomic
		vfree(stash->buf);
	rcu_read_unlock();
}

void widget_rcu_nested(struct widget_list *wl, struct anon_vma *anon_vma)
{
	rcu_read_lock();
	rcu_read_lock();
	wl->users++;
	rcu_read_unlock();
	/* still inside the outer section */
	// ruleid: sleep-in-atomic
	down_read(&anon_vma->root->rwsem);
	up_read(&anon_vma->root->rwsem);
	rcu_read_unlock();
	// ok: sleep-in-atomic
	cond_resched();
}

/* Open on one path only: not reported (a must-analysis). */
void widget_maybe_rcu(struct widget_list *wl, int pin)
{
	if (pin)
		rcu_read_lock();
	// ok: sleep-in-atomic
	cond_resched();
	if (pin)
		rcu_read_unlock();
}

/* Left and re-entered around the sleep: the correct shape. */
void widget_rcu_walk(struct widget_list *wl)
{
	rcu_read_lock();
	while (wl->users > 8) {
		rcu_read_unlock();
		// ok: sleep-in-atomic
		cond_resched();
		rcu_read_lock();
	}
	rcu_read_unlock();
}

/* A helper of the file that sleeps, called with preemption off. */
void widget_percpu_drop(struct widget_list *wl, struct stash *stash)
{
	preempt_disable();
	wl->users--;
	// ruleid: sleep-in-atomic
	stash_release(stash);
	preempt_enable();
}

/* The scope guard form, and interrupts off. */
void widget_guarded(struct widget_list *wl)
{
	unsigned long flags;

	scoped_guard(rcu) {
		// ruleid: sleep-in-atomic
		msleep(1);
	}
	// ok: sleep-in-atomic
	msleep(1);
	local_irq_save(flags);
	wl->users++;
	// ruleid: sleep-in-atomic
	might_sleep();
	local_irq_restore(flags);
}

/* A helper that leaves its caller's RCU section to sleep does not sleep inside it. */
static void widget_rcu_pause(void)
{
	rcu_read_unlock();
	cond_resched();
	rcu_read_lock();
}

void widget_rcu_scan(struct widget_list *wl)
{
	rcu_read_lock();
	while (wl->users > 8)
		// ok: sleep-in-atomic
		widget_rcu_pause();
	rcu_read_unlock();
}

struct widget_owner {
	spinlock_t lock;
	struct widget_list *list;
};

struct widget_slot {
	struct widget_owner *owner;
	int busy;
};

/* Asserts its owner's lock: for its caller, the one owner lock it holds. */
static void widget_slot_clear(struct widget_slot *ws)
{
	lockdep_assert_held(&ws->owner->lock);
	ws->busy = 0;
}

/*
 * The helper's assertion names the lock the caller holds under another spelling; after the
 * caller gives it back no lock is held, so the sleep is fine.
 */
void widget_owner_drain(struct widget_owner *wo, struct widget_slot *ws)
{
	spin_lock(&wo->lock);
	widget_slot_clear(ws);
	spin_unlock(&wo->lock);
	// ok: sleep-in-atomic
	msleep(1);
}
