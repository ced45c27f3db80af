// SPDX-License-Identifier: GPL-2.0
/* Helpers of mm/relock.c: each takes a queue lock or the global list lock. */
#include "anon.h"

struct queue {
	struct mutex mutex;
	struct queue *parent;
	int users;
};

spinlock_t queues_lock;
static int nr_queues;

void msleep(unsigned int msecs);

static void __queue_remove(struct queue *q)
{
	q->users = -1;
}

void queue_remove(struct queue *q)
{
	mutex_lock(&q->mutex);
	__queue_remove(q);
	mutex_unlock(&q->mutex);
}

void queue_wait(struct queue *q)
{
	mutex_unlock(&q->mutex);
	msleep(1);
	mutex_lock(&q->mutex);
}

void queue_lock_parent(struct queue *q)
{
	mutex_lock(&q->parent->mutex);
	q->parent->users++;
	mutex_unlock(&q->parent->mutex);
}

void queue_up_lock(struct queue *q)
{
	q = q->parent;
	mutex_lock(&q->mutex);
	q->users++;
	mutex_unlock(&q->mutex);
}

static void queues_recount(void)
{
	spin_lock(&queues_lock);
	nr_queues++;
	spin_unlock(&queues_lock);
}

void queue_count(struct queue *q)
{
	q->users++;
	queues_recount();
}

/* Takes q->mutex only when told to: the caller's flag decides, not shown as a retake. */
void queue_maybe_lock(struct queue *q, bool take)
{
	if (take)
		mutex_lock(&q->mutex);
	q->users++;
	if (take)
		mutex_unlock(&q->mutex);
}
