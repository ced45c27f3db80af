// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture for irq-enable-under-lock, written for rmaplint in kernel style. A finding is the
 * release (or call) that turns interrupts back on while an outer lock taken with them off
 * is still held.
 */
#include "anon.h"

struct port {
	spinlock_t lock;
	int pending;
};

struct port_table {
	spinlock_t lock;
	int nr;
};

void local_irq_enable(void);
void local_irq_disable(void);

/* The inner lock's _irq pair turns interrupts on inside the outer irqsave region. */
void port_flush(struct port *p, struct port_table *t)
{
	unsigned long flags;

	spin_lock_irqsave(&p->lock, flags);
	spin_lock_irq(&t->lock);
	t->nr--;
	// ruleid: irq-enable-under-lock
	spin_unlock_irq(&t->lock);
	p->pending = 0;
	spin_unlock_irqrestore(&p->lock, flags);
}

/* The caller holds p->lock, which this file takes with interrupts off (port_flush). */
static void port_drop_locked(struct port *p, struct port_table *t)
{
	lockdep_assert_held(&p->lock);
	spin_lock_irq(&t->lock);
	t->nr--;
	// ruleid: irq-enable-under-lock
	spin_unlock_irq(&t->lock);
}

void port_drop(struct port *p, struct port_table *t)
{
	unsigned long flags;

	spin_lock_irqsave(&p->lock, flags);
	port_drop_locked(p, t);
	spin_unlock_irqrestore(&p->lock, flags);
}

/* The saved state comes back: fine. */
void port_count(struct port *p, struct port_table *t)
{
	unsigned long flags, tflags;

	spin_lock_irqsave(&p->lock, flags);
	spin_lock_irqsave(&t->lock, tflags);
	t->nr++;
	// ok: irq-enable-under-lock
	spin_unlock_irqrestore(&t->lock, tflags);
	spin_unlock_irqrestore(&p->lock, flags);
}

/* The outer lock was taken with interrupts on: turning them on again changes nothing. */
void port_touch(struct port_table *t, struct port *p)
{
	spin_lock(&t->lock);
	spin_lock_irq(&p->lock);
	p->pending++;
	// ok: irq-enable-under-lock
	spin_unlock_irq(&p->lock);
	spin_unlock(&t->lock);
}

/* local_irq_enable() inside an irqsave region. */
void port_poll(struct port *p)
{
	unsigned long flags;

	spin_lock_irqsave(&p->lock, flags);
	// ruleid: irq-enable-under-lock
	local_irq_enable();
	p->pending = 0;
	local_irq_disable();
	spin_unlock_irqrestore(&p->lock, flags);
}

/* A plain acquire made with interrupts off (the outer _irq acquire) is held with them off. */
void port_shift(struct port *p, struct port_table *t, struct port_table *u)
{
	spin_lock_irq(&t->lock);
	spin_lock(&p->lock);
	spin_unlock(&t->lock);
	spin_lock_irq(&u->lock);
	u->nr++;
	// ruleid: irq-enable-under-lock
	spin_unlock_irq(&u->lock);
	spin_unlock(&p->lock);
}

/* The outer lock's saved state came back before the plain acquire's region ends: the
 * interrupt state is the caller's, not known to be off. */
void port_settle(struct port *p, struct port_table *t, struct port_table *u)
{
	unsigned long flags;

	spin_lock_irqsave(&t->lock, flags);
	spin_lock(&p->lock);
	spin_unlock_irqrestore(&t->lock, flags);
	spin_lock_irq(&u->lock);
	u->nr++;
	// ok: irq-enable-under-lock
	spin_unlock_irq(&u->lock);
	spin_unlock(&p->lock);
}

struct port_slot {
	struct port *port;
	int busy;
};

/* Asserts its port's lock: for its caller, the one port lock it holds. */
static void port_slot_clear(struct port_slot *ps)
{
	lockdep_assert_held(&ps->port->lock);
	ps->busy = 0;
}

/*
 * The helper's assertion spells the caller's lock another way: releasing it with the _irq
 * pair leaves no lock held, whatever the assertion called it.
 */
void port_slot_release(struct port *p, struct port_slot *ps)
{
	spin_lock_irq(&p->lock);
	port_slot_clear(ps);
	// ok: irq-enable-under-lock
	spin_unlock_irq(&p->lock);
}
