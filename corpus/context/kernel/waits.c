// SPDX-License-Identifier: GPL-2.0
/* Helpers of mm/sleepy.c, in another folder. */
#include "anon.h"

struct pool;
struct stats {
	spinlock_t lock;
	struct mutex mutex;
	struct pool *pool;
	int count;
};

int pool_grow(struct pool *pool, struct mutex *m);
void *kmalloc(unsigned long size, unsigned int flags);
void msleep(unsigned int msecs);

#define stats_unlock(st)	spin_unlock(&(st)->lock)

int stats_refill(struct stats *st)
{
	if (st->count < 16)
		return 0;
	return pool_grow(st->pool, &st->mutex);
}

void stats_wait_unlocked(struct stats *st)
{
	stats_unlock(st);
	msleep(10);
}

int stats_note_atomic(struct stats *st)
{
	return kmalloc(sizeof(*st), GFP_ATOMIC) ? 0 : -ENOMEM;
}
