// SPDX-License-Identifier: GPL-2.0
/*
 * rmaplint corpus: a small suite printing what tools/testing/vma prints — an
 * "Assert FAILED at FILE:LINE:FUNC(): EXPR is FALSE." line for a failed check, a
 * "Test NAME FAILED" line per failing test, and "N tests run, N passed, N failed." last.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../../mm/counter.c"

#define ASSERT_TRUE(_expr)						\
	do {								\
		if (!(_expr)) {						\
			fprintf(stderr,					\
				"Assert FAILED at %s:%d:%s(): %s is FALSE.\n", \
				__FILE__, __LINE__, __func__, #_expr);	\
			return false;					\
		}							\
	} while (0)
#define ASSERT_EQ(_a, _b) ASSERT_TRUE((_a) == (_b))

static bool test_add_within_limit(void)
{
	struct counter c = { .value = 0, .limit = 10 };

	ASSERT_EQ(counter_add(&c, 4), 0);
	ASSERT_EQ(c.value, 4);
	return true;
}

static bool test_add_over_limit(void)
{
	struct counter c = { .value = 8, .limit = 10 };

	ASSERT_EQ(counter_add(&c, 4), -1);
	ASSERT_EQ(c.value, 8);
	return true;
}

static bool test_reset(void)
{
	struct counter c = { .value = 5, .limit = 10 };

	counter_reset(&c);
	ASSERT_EQ(c.value, 0);
	return true;
}

int main(void)
{
	int num_tests = 0, num_fail = 0;

#define TEST(name)							\
	do {								\
		num_tests++;						\
		if (!test_##name()) {					\
			num_fail++;					\
			fprintf(stderr, "Test " #name " FAILED\n");	\
		}							\
	} while (0)

	TEST(add_within_limit);
	TEST(add_over_limit);
	TEST(reset);
#undef TEST

	printf("%d tests run, %d passed, %d failed.\n",
	       num_tests, num_tests - num_fail, num_fail);
	return num_fail == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
