// SPDX-License-Identifier: GPL-2.0
/*
 * Calls made with a lock held into helpers of kernel/queue.c. Two take the held lock
 * again (one directly, one two calls down through a global); three are quiet: a helper
 * that gives the lock back before it retakes it, one that locks the parent queue, one
 * whose parameter is moved to the parent before it locks.
 */
#include "anon.h"

struct queue {
	struct mutex mutex;
	struct queue *parent;
	int users;
};

extern spinlock_t queues_lock;

void queue_remove(struct queue *q);
void queue_wait(struct queue *q);
void queue_lock_parent(struct queue *q);
void queue_up_lock(struct queue *q);
void queue_count(struct queue *q);

/* Deadlock: queue_remove() takes q->mutex again. */
void queue_setup_failed(struct queue *q)
{
	mutex_lock(&q->mutex);
	q->users = 0;
	queue_remove(q);
	mutex_unlock(&q->mutex);
}

/* Deadlock: queue_count() -> queues_recount() takes queues_lock again. */
void queue_account(struct queue *q)
{
	spin_lock(&queues_lock);
	queue_count(q);
	spin_unlock(&queues_lock);
}

/* Quiet: the helper gives q->mutex back before it takes it again. */
void queue_sleep(struct queue *q)
{
	mutex_lock(&q->mutex);
	queue_wait(q);
	mutex_unlock(&q->mutex);
}

/* Quiet: another object's lock. */
void queue_nest(struct queue *q)
{
	mutex_lock(&q->mutex);
	queue_lock_parent(q);
	mutex_unlock(&q->mutex);
}

/* Quiet: the helper locks the parent it moved to. */
void queue_climb(struct queue *q)
{
	mutex_lock(&q->mutex);
	queue_up_lock(q);
	mutex_unlock(&q->mutex);
}
