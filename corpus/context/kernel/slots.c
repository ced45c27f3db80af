// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of mm/slotusers.c, in another folder. slot_put() takes its own lock with the
 * _irq pair: interrupts are on after it, whatever its caller had.
 */
#include "anon.h"

struct slot {
	spinlock_t lock;
	int refs;
};

static void slot_drop_ref(struct slot *s)
{
	lockdep_assert_held(&s->lock);
	s->refs--;
}

void slot_put(struct slot *s)
{
	spin_lock_irq(&s->lock);
	slot_drop_ref(s);
	spin_unlock_irq(&s->lock);
}

/* The same with the caller's state saved and put back: fine under any caller. */
void slot_put_saved(struct slot *s)
{
	unsigned long flags;

	spin_lock_irqsave(&s->lock, flags);
	s->refs--;
	spin_unlock_irqrestore(&s->lock, flags);
}

/* The _irq pair again, but every caller runs it with interrupts on. */
void slot_get(struct slot *s)
{
	spin_lock_irq(&s->lock);
	s->refs++;
	spin_unlock_irq(&s->lock);
}
