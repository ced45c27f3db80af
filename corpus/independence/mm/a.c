// SPDX-License-Identifier: GPL-2.0
/* Fixture for tests/test_independence.py: the structs b.c uses, defined here only. */

struct inner {
	struct rw_semaphore rwsem;
	int count;
};

struct wrapper {
	struct inner *inner;
	void *data;
};

void wrapper_touch(struct wrapper *w)
{
	down_read(&w->inner->rwsem);
	w->inner->count++;
	up_read(&w->inner->rwsem);
}
