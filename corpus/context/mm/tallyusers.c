// SPDX-License-Identifier: GPL-2.0
/* Callers of kernel/tally.c's helpers that leave the tally's lock to them. */
#include "anon.h"

struct tally {
	spinlock_t lock;
	int hits;
	int misses;
	int total;
	int peak;
	int drops;
};

void tally_note_peak(struct tally *t);
void tally_note_drop(struct tally *t);

void tally_account(struct tally *t)
{
	spin_lock(&t->lock);
	t->total++;
	tally_note_peak(t);
	spin_unlock(&t->lock);
}

void tally_account_drop(struct tally *t)
{
	spin_lock(&t->lock);
	tally_note_peak(t);
	tally_note_drop(t);
	spin_unlock(&t->lock);
}

void tally_flush(struct tally *t)
{
	spin_lock(&t->lock);
	t->total = 0;
	spin_unlock(&t->lock);
	tally_note_drop(t);
}
