// SPDX-License-Identifier: GPL-2.0
/* Fixture for tests/test_independence.py: its structs live in a.c, not included here. */

void *wrapper_grow(struct wrapper *w, unsigned long size)
{
	void *p;

	down_write(&w->inner->rwsem);
	p = kmalloc(size, GFP_KERNEL);
	w->data = p;
	up_write(&w->inner->rwsem);
	return p;
}
