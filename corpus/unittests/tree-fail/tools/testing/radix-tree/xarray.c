// SPDX-License-Identifier: GPL-2.0
/* rmaplint corpus: prints a group's "NAME: P of R tests passed" line, as the XArray
 * checks of tools/testing/radix-tree do. */
#include <stdio.h>

static unsigned int tests_run, tests_passed;

#define CHECK(x) do {						\
	tests_run++;						\
	if (!(x))						\
		printf("BUG at %s:%d\n", __func__, __LINE__);	\
	else							\
		tests_passed++;					\
} while (0)

static void check_sums(void)
{
	CHECK(1 + 1 == 2);
	CHECK(2 * 3 == 7);
}

int main(void)
{
	check_sums();
	printf("XArray: %u of %u tests passed\n", tests_passed, tests_run);
	return 0;
}
