// SPDX-License-Identifier: GPL-2.0
/* The sleeping end of mm/sleepy.c's chain: a third folder. */
#include "anon.h"

struct pool {
	int size;
};

static void pool_resize(struct pool *pool, struct mutex *m)
{
	mutex_lock(m);
	pool->size *= 2;
	mutex_unlock(m);
}

int pool_grow(struct pool *pool, struct mutex *m)
{
	if (!pool)
		return -EINVAL;
	pool_resize(pool, m);
	return 0;
}
