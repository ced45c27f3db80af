// SPDX-License-Identifier: GPL-2.0
/*
 * Callers of kernel/slots.c. table_drain() calls slot_put() with t->lock held, taken with
 * interrupts off; table_move() holds t->lock taken by a plain spin_lock() while o->lock,
 * taken with interrupts off, was held, and calls it through a helper that holds nothing.
 * The others call with interrupts on, or the helper that saves them.
 */
#include "anon.h"

struct slot;
struct table {
	spinlock_t lock;
	struct slot *slot;
	int busy;
};

void slot_put(struct slot *s);
void slot_put_saved(struct slot *s);
void slot_get(struct slot *s);
void local_irq_enable(void);

void table_drain(struct table *t)
{
	spin_lock_irq(&t->lock);
	t->busy = 0;
	slot_put(t->slot);
	spin_unlock_irq(&t->lock);
}

static void table_release(struct slot *s)
{
	slot_put(s);
}

void table_move(struct table *t, struct table *o)
{
	spin_lock_irq(&o->lock);
	spin_lock(&t->lock);
	spin_unlock(&o->lock);
	table_release(t->slot);
	spin_unlock(&t->lock);
	local_irq_enable();
}

void table_flush(struct table *t)
{
	unsigned long flags;

	spin_lock_irqsave(&t->lock, flags);
	slot_put_saved(t->slot);
	spin_unlock_irqrestore(&t->lock, flags);
}

void table_fill(struct table *t)
{
	slot_get(t->slot);
	spin_lock_irq(&t->lock);
	t->busy++;
	spin_unlock_irq(&t->lock);
	slot_get(t->slot);
}
