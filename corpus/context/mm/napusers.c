// SPDX-License-Identifier: GPL-2.0
/* Callers of kernel/naps.c under a spinlock: by name, and through two structs' ->poll. */
#include "anon.h"

struct nap;
struct nap_ops {
	int (*poll)(struct nap *n);
	void (*wake)(struct nap *n);
};
struct nap_notifier {
	int (*call)(struct nap *n);
	int priority;
};
struct dial_ops {
	int (*poll)(struct nap *n);
};
struct napper {
	spinlock_t lock;
	struct nap *nap;
	const struct nap_ops *ops;
	const struct dial_ops *dial;
};

void nap_sleep(struct nap *n);

void napper_tick(struct napper *p)
{
	spin_lock(&p->lock);
	nap_sleep(p->nap);
	spin_unlock(&p->lock);
}

/* through the member of another struct: not a caller of nap_slow_poll() */
int napper_dial(struct napper *p)
{
	int ret;

	spin_lock(&p->lock);
	ret = p->dial->poll(p->nap);
	spin_unlock(&p->lock);
	return ret;
}

int napper_kick(struct napper *p)
{
	int ret;

	spin_lock(&p->lock);
	ret = p->ops->poll(p->nap);
	spin_unlock(&p->lock);
	return ret;
}

/* a one-callback holder: its member is no edge to the functions stored in one */
int napper_notify(struct napper *p, struct nap_notifier *nb)
{
	int ret;

	spin_lock(&p->lock);
	ret = nb->call(p->nap);
	spin_unlock(&p->lock);
	return ret;
}
