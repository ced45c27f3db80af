// SPDX-License-Identifier: GPL-2.0
/*
 * A tally's members are written under its lock, each write in a function that takes it
 * (the struct's local discipline), except in two helpers that leave the lock to their
 * callers: tally_note_peak(), whose callers all hold it, and tally_note_drop(), one of
 * whose callers does not.
 */
#include "anon.h"

struct tally {
	spinlock_t lock;
	int hits;
	int misses;
	int total;
	int peak;
	int drops;
};

void tally_hit(struct tally *t)
{
	spin_lock(&t->lock);
	t->hits++;
	t->total++;
	spin_unlock(&t->lock);
}

void tally_miss(struct tally *t)
{
	spin_lock(&t->lock);
	t->misses++;
	t->total++;
	spin_unlock(&t->lock);
}

void tally_reset(struct tally *t)
{
	spin_lock(&t->lock);
	t->hits = 0;
	t->misses = 0;
	t->total = 0;
	t->peak = 0;
	t->drops = 0;
	spin_unlock(&t->lock);
}

void tally_merge(struct tally *t, struct tally *from)
{
	spin_lock(&t->lock);
	t->hits += from->hits;
	t->misses += from->misses;
	t->total += from->total;
	t->drops += from->drops;
	spin_unlock(&t->lock);
}

/* Called with t->lock held (by every caller). */
void tally_note_peak(struct tally *t)
{
	if (t->total > t->peak)
		t->peak = t->total;
}

/* Called with t->lock held; tally_flush() forgets it. */
void tally_note_drop(struct tally *t)
{
	t->drops = t->drops + 1;
}
