// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers that sleep with nothing of their own held: whether that is a bug is up to their
 * callers. nap_wait(), nap_peek() and nap_slow_poll() are called in atomic context.
 */
#include "anon.h"

struct nap {
	spinlock_t lock;
	struct mutex mutex;
	int ready;
};

struct nap_ops {
	int (*poll)(struct nap *n);
	void (*wake)(struct nap *n);
};

/* one callback, called by whatever chain the block is on: no caller of nap_note() */
struct nap_notifier {
	int (*call)(struct nap *n);
	int priority;
};

void msleep(unsigned int msecs);

static void nap_wait(struct nap *n)
{
	n->ready = 0;
	msleep(1);
}

/* gives its caller's spinlock back around the sleep: the usual, correct shape */
static void nap_drop(struct nap *n)
{
	spin_unlock(&n->lock);
	msleep(1);
	spin_lock(&n->lock);
}

void nap_tick(struct nap *n)
{
	spin_lock(&n->lock);
	nap_wait(n);
	nap_drop(n);
	spin_unlock(&n->lock);
}

static int nap_peek(struct nap *n, int timeout)
{
	if (!n->ready)
		msleep(timeout);
	return n->ready;
}

static int nap_poll(struct nap *n)
{
	return nap_peek(n, 0);
}

int nap_scan(struct nap *n)
{
	int ret;

	rcu_read_lock();
	ret = nap_poll(n);
	rcu_read_unlock();
	return ret;
}

static void nap_idle(struct nap *n)
{
	msleep(n->ready);
}

void nap_rest(struct nap *n)
{
	mutex_lock(&n->mutex);
	nap_idle(n);
	mutex_unlock(&n->mutex);
}

/* called by name from other files: judged where they call it, not here */
void nap_sleep(struct nap *n)
{
	msleep(n->ready);
}

/* reached only through nap_slow_ops.poll: its callers are those of ->poll on a nap_ops */
static int nap_slow_poll(struct nap *n)
{
	mutex_lock(&n->mutex);
	n->ready = 1;
	mutex_unlock(&n->mutex);
	return 0;
}

static void nap_slow_wake(struct nap *n)
{
	n->ready = 1;
}

const struct nap_ops nap_slow_ops = {
	.poll = nap_slow_poll,
	.wake = nap_slow_wake,
};

static int nap_note(struct nap *n)
{
	mutex_lock(&n->mutex);
	n->ready = 0;
	mutex_unlock(&n->mutex);
	return 0;
}

struct nap_notifier nap_nb = {
	.call = nap_note,
	.priority = 1,
};
