// SPDX-License-Identifier: GPL-2.0
/* Fixture for unguarded-access, written for rmaplint in kernel style. */
#include "kernel.h"

/* ---------------------------------------------------------------- declared */

/**
 * struct slot_pool - a pool of slots
 * @nr_used: slots handed out, protected by slot_pool->lock
 */
struct slot_pool {
	spinlock_t lock;
	unsigned long nr_used;
	unsigned long nr_free;		/* protected by lock */
	unsigned long limit;		/* protected by lock; read locklessly as a hint */
	struct slot_pool *parent;
};

void slot_get(struct slot_pool *pool)
{
	spin_lock(&pool->lock);
	pool->nr_free--;
	pool->nr_used++;
	spin_unlock(&pool->lock);
}

void slot_put(struct slot_pool *pool)
{
	spin_lock(&pool->lock);
	pool->nr_used--;
	spin_unlock(&pool->lock);
	// ruleid: unguarded-access[declared]
	pool->nr_free++;
}

/* A caller may hold the lock: nothing known here, nothing reported. */
void slot_account(struct slot_pool *pool)
{
	// ok: unguarded-access
	pool->nr_used++;
}

/* Just allocated, not yet published: its constructor needs no lock. */
struct slot_pool *slot_pool_new(unsigned long limit)
{
	struct slot_pool *pool = kzalloc(sizeof(*pool), GFP_KERNEL);

	if (!pool)
		return NULL;
	// ok: unguarded-access
	pool->nr_free = limit;
	pool->limit = limit;
	pool->nr_used = 0;
	return pool;
}

/* Being freed: nobody else can see it any more. */
void slot_pool_free(struct slot_pool *pool)
{
	spin_lock(&pool->lock);
	pool->limit = 0;
	spin_unlock(&pool->lock);
	// ok: unguarded-access
	pool->nr_free = 0;
	kfree(pool);
}

/*
 * Reads of a member declared protected are lockless by design unless the code guards its
 * reads: a hint read before taking the lock is not reported.
 */
bool slot_pool_full(struct slot_pool *pool)
{
	bool full;

	// ok: unguarded-access
	if (pool->nr_used >= pool->limit)
		return true;
	spin_lock(&pool->lock);
	full = pool->nr_used >= pool->limit;
	spin_unlock(&pool->lock);
	return full;
}

/* Marked lockless (KCSAN's vocabulary): intended. */
void slot_pool_shrink(struct slot_pool *pool)
{
	spin_lock(&pool->lock);
	pool->limit--;
	spin_unlock(&pool->lock);
	// ok: unguarded-access
	WRITE_ONCE(pool->nr_free, 0);
}

/* ---------------------------------------------------------------- mined */

/* Nothing says what guards ->resv: the code does, at eight writes of nine. */
struct reserve_map {
	struct mutex mutex;
	long resv;
	long peak;
};

void resv_add(struct reserve_map *map, long n)
{
	mutex_lock(&map->mutex);
	map->resv += n;
	mutex_unlock(&map->mutex);
}

void resv_sub(struct reserve_map *map, long n)
{
	mutex_lock(&map->mutex);
	map->resv -= n;
	mutex_unlock(&map->mutex);
}

void resv_clear(struct reserve_map *map)
{
	mutex_lock(&map->mutex);
	map->resv = 0;
	mutex_unlock(&map->mutex);
}

void resv_inc(struct reserve_map *map)
{
	mutex_lock(&map->mutex);
	map->resv++;
	mutex_unlock(&map->mutex);
}

void resv_dec(struct reserve_map *map)
{
	mutex_lock(&map->mutex);
	map->resv--;
	mutex_unlock(&map->mutex);
}

void resv_set(struct reserve_map *map, long n)
{
	mutex_lock(&map->mutex);
	map->resv = n;
	mutex_unlock(&map->mutex);
}

void resv_double(struct reserve_map *map)
{
	mutex_lock(&map->mutex);
	map->resv *= 2;
	mutex_unlock(&map->mutex);
}

long resv_move(struct reserve_map *from, struct reserve_map *to)
{
	long n;

	mutex_lock(&from->mutex);
	n = from->resv;
	from->resv = 0;
	mutex_unlock(&from->mutex);
	return n;
}

/* The deviant write: the function takes the mutex, but not around this update. */
void resv_commit(struct reserve_map *map, long n)
{
	mutex_lock(&map->mutex);
	if (map->resv > map->peak)
		map->peak = map->resv;
	mutex_unlock(&map->mutex);
	// ruleid: unguarded-access[mined]
	map->resv -= n;
}

/* ->peak is written under the mutex once and read without it elsewhere: too few to say. */
long resv_peak(struct reserve_map *map)
{
	// ok: unguarded-access
	return map->peak;
}

/* ---------------------------------------------------------------- file-scope objects */

static struct mutex registry_mutex;
static int nr_registered;		/* protected by registry_mutex */
static long registry_gen __guarded_by(registry_mutex);

void registry_add(void)
{
	mutex_lock(&registry_mutex);
	nr_registered++;
	registry_gen++;
	mutex_unlock(&registry_mutex);
}

void registry_remove(void)
{
	mutex_lock(&registry_mutex);
	nr_registered--;
	mutex_unlock(&registry_mutex);
	// ruleid: unguarded-access[declared]
	registry_gen++;
}

/* A lockless read of the count, as a hint: reads are not guarded here. */
bool registry_empty(void)
{
	// ok: unguarded-access
	return nr_registered == 0;
}

/* ---------------------------------------------------------------- struct-wide */

/* Every write of a queue's members that holds its lock takes it in the function. */
struct work_queue {
	spinlock_t lock;
	int head;
	int tail;
	int count;
	int high_water;
};

void queue_push(struct work_queue *q)
{
	spin_lock(&q->lock);
	q->tail++;
	q->count++;
	spin_unlock(&q->lock);
}

void queue_pop(struct work_queue *q)
{
	spin_lock(&q->lock);
	q->head++;
	q->count--;
	spin_unlock(&q->lock);
}

void queue_reset(struct work_queue *q)
{
	spin_lock(&q->lock);
	q->head = 0;
	q->tail = 0;
	q->count = 0;
	q->high_water = 0;
	spin_unlock(&q->lock);
}

/* ->high_water has two writes of its own: too few, but its struct's say enough. */
void queue_note_depth(struct work_queue *q)
{
	// ruleid: unguarded-access[mined-struct]
	q->high_water = q->count;
}
