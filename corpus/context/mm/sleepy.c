// SPDX-License-Identifier: GPL-2.0
/*
 * Calls made under a spinlock into helpers of other files: one sleeps two calls down
 * (kernel/waits.c -> lib/pool.c -> mutex_lock), one drops the caller's lock around its
 * sleep through an unlock wrapper, one only allocates with GFP_ATOMIC.
 */
#include "anon.h"

struct pool;
struct stats {
	spinlock_t lock;
	struct mutex mutex;
	struct pool *pool;
	int count;
};

int stats_refill(struct stats *st);
void stats_wait_unlocked(struct stats *st);
int stats_note_atomic(struct stats *st);

/* Sleeps: stats_refill() -> pool_grow() -> mutex_lock(), with st->lock held. */
int stats_add(struct stats *st)
{
	int ret;

	spin_lock(&st->lock);
	st->count++;
	ret = stats_refill(st);
	spin_unlock(&st->lock);
	return ret;
}

/* Quiet: the helper gives st->lock back before it waits. */
void stats_drain(struct stats *st)
{
	spin_lock(&st->lock);
	st->count = 0;
	stats_wait_unlocked(st);
}

/* Quiet: the helper's allocation does not sleep. */
int stats_note(struct stats *st)
{
	int ret;

	spin_lock(&st->lock);
	ret = stats_note_atomic(st);
	spin_unlock(&st->lock);
	return ret;
}
