// SPDX-License-Identifier: GPL-2.0
/* Fixture for tests/test_independence.py: its types come from an included header. */
#include "inner.h"

void *holder_grow(struct holder *h, unsigned long size)
{
	void *p;

	down_write(&h->av->root->rwsem);
	p = kzalloc(size, GFP_KERNEL);
	up_write(&h->av->root->rwsem);
	spin_lock(&h->lock);
	h->av = p;
	spin_unlock(&h->lock);
	return p;
}
