// SPDX-License-Identifier: GPL-2.0
/*
 * rmaplint corpus: a stand-in for a kernel file that a userland suite compiles directly
 * (as tools/testing/vma compiles mm/vma.c). Written for rmaplint's tests.
 */

struct counter {
	long value;
	long limit;
};

static int counter_add(struct counter *c, long n)
{
	if (c->value + n > c->limit)
		return -1;
	c->value += n;
	return 0;
}

static void counter_reset(struct counter *c)
{
	c->value = 0;
}
