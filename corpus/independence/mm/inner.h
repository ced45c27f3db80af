/* SPDX-License-Identifier: GPL-2.0 */
/* Fixture for tests/test_independence.py: c.c includes this. */

struct anon_vma {
	struct anon_vma *root;
	struct rw_semaphore rwsem;
};

struct holder {
	struct anon_vma *av;
	spinlock_t lock;
};
