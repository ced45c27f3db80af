// SPDX-License-Identifier: GPL-2.0
/* rmaplint corpus: the main program of the stand-in radix-tree suite. */
#include <stdio.h>
#include <assert.h>

#include "../../../mm/counter.c"

int main(void)
{
	struct counter c = { .value = 0, .limit = 3 };
	unsigned int run = 0, passed = 0;

	printf("running tests\n");
	run++;
	passed += counter_add(&c, 2) == 0;
	run++;
	passed += counter_add(&c, 2) == -1;
	assert(c.value == 2);
	printf("Counter: %u of %u tests passed\n", passed, run);
	printf("tests completed\n");
	return 0;
}
