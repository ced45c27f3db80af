// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture for used-after-unlock, written for rmaplint in kernel style: an object found
 * through a lock's owner while the lock is held, dereferenced after the lock is released
 * with no reference taken and without taking it out of the structure first.
 */
#include "kernel.h"

struct gadget {
	struct list_head node;
	struct rb_node rb;
	unsigned long start, end;
	struct gadget_policy *policy;
	struct kref ref;
	atomic_t users;
	int state;
};

struct gadget_policy {
	unsigned long flags;
	unsigned long mask;
};

struct gadget_tree {
	spinlock_t lock;
	struct rb_root root;
	struct list_head all;
	struct gadget *cached;
};

struct gadget_space {
	struct rw_semaphore sem;
	struct gadget_tree tree;
};

struct gadget *gadget_find(struct gadget_tree *t, unsigned long key);
struct gadget *gadget_find_in(struct gadget_space *gs, unsigned long key);
struct gadget *gadget_alloc(unsigned long start, unsigned long end,
			    struct gadget_policy *pol);
void gadget_insert(struct gadget_tree *t, struct gadget *g);
void gadget_report(unsigned long flags);

/* Found in the tree under its lock, then read after the lock is given back. */
int gadget_state(struct gadget_tree *t, unsigned long key)
{
	struct gadget *g;

	spin_lock(&t->lock);
	g = gadget_find(t, key);
	spin_unlock(&t->lock);
	if (!g)
		return -ENOENT;
	// ruleid: used-after-unlock
	return g->state;
}

/* A reference taken before the unlock keeps it. */
int gadget_state_ref(struct gadget_tree *t, unsigned long key)
{
	struct gadget *g;
	int state;

	spin_lock(&t->lock);
	g = gadget_find(t, key);
	if (g)
		kref_get(&g->ref);
	spin_unlock(&t->lock);
	if (!g)
		return -ENOENT;
	// ok: used-after-unlock
	state = g->state;
	gadget_report(state);
	return state;
}

/* Taken off the list under the lock: private to this thread afterwards. */
int gadget_take_first(struct gadget_tree *t)
{
	struct gadget *g;

	spin_lock(&t->lock);
	g = list_first_entry(&t->all, struct gadget, node);
	list_del(&g->node);
	spin_unlock(&t->lock);
	// ok: used-after-unlock
	return g->state;
}

/* Read while the lock is held: nothing is used after it. */
int gadget_state_locked(struct gadget_tree *t, unsigned long key)
{
	struct gadget *g;
	int state = -ENOENT;

	spin_lock(&t->lock);
	g = gadget_find(t, key);
	if (g)
		// ok: used-after-unlock
		state = g->state;
	spin_unlock(&t->lock);
	return state;
}

/* A member of an object found under the lock is only as alive as that object. */
unsigned long gadget_policy_flags(struct gadget_space *gs, unsigned long key)
{
	struct gadget *g;
	struct gadget_policy *pol = NULL;
	unsigned long flags;

	down_read(&gs->sem);
	g = gadget_find_in(gs, key);
	if (g)
		pol = g->policy;
	if (g)
		up_read(&gs->sem);
	if (!pol)
		return 0;
	// ruleid: used-after-unlock
	flags = pol->flags;
	if (!g)
		up_read(&gs->sem);
	return flags;
}

/* The same with the lock kept until the policy has been read. */
unsigned long gadget_policy_flags_ok(struct gadget_space *gs, unsigned long key)
{
	struct gadget *g;
	struct gadget_policy *pol = NULL;
	unsigned long flags = 0;

	down_read(&gs->sem);
	g = gadget_find_in(gs, key);
	if (g)
		pol = g->policy;
	if (pol)
		// ok: used-after-unlock
		flags = pol->flags;
	up_read(&gs->sem);
	return flags;
}

/*
 * Splitting a node needs a spare one: the lock is dropped to allocate it, and the copy is
 * made from the node found before the drop, which another CPU may have freed meanwhile.
 */
int gadget_split(struct gadget_tree *t, unsigned long start, unsigned long end)
{
	struct gadget *g, *spare = NULL;
	struct rb_node *next;

restart:
	spin_lock(&t->lock);
	g = gadget_find(t, start);
	while (g && g->start < end) {
		next = rb_next(&g->rb);
		if (g->end > end) {
			if (!spare)
				goto alloc_new;
			spare->start = end;
			g->end = start;
			gadget_insert(t, spare);
			spare = NULL;
			break;
		}
		if (!next)
			break;
		g = rb_entry(next, struct gadget, rb);
	}
	spin_unlock(&t->lock);
	return 0;

alloc_new:
	spin_unlock(&t->lock);
	// ruleid: used-after-unlock
	spare = gadget_alloc(end, g->end, g->policy);
	if (!spare)
		return -ENOMEM;
	goto restart;
}

/* The fixed shape: the spare is allocated without reading the node, then the walk restarts. */
int gadget_split_ok(struct gadget_tree *t, unsigned long start, unsigned long end)
{
	struct gadget *g, *spare = NULL;
	struct rb_node *next;

restart:
	spin_lock(&t->lock);
	g = gadget_find(t, start);
	while (g && g->start < end) {
		next = rb_next(&g->rb);
		if (g->end > end) {
			if (!spare)
				goto alloc_new;
			spare->start = end;
			spare->end = g->end;
			g->end = start;
			gadget_insert(t, spare);
			spare = NULL;
			break;
		}
		if (!next)
			break;
		g = rb_entry(next, struct gadget, rb);
	}
	spin_unlock(&t->lock);
	return 0;

alloc_new:
	spin_unlock(&t->lock);
	// ok: used-after-unlock
	spare = gadget_alloc(0, 0, NULL);
	if (!spare)
		return -ENOMEM;
	goto restart;
}

/* A member of the lock's owner that the lock does not guard: the owner outlives it. */
int gadget_cached_state(struct gadget_tree *t)
{
	struct gadget *g;

	spin_lock(&t->lock);
	t->root.rb_node = NULL;
	g = t->cached;
	spin_unlock(&t->lock);
	// ok: used-after-unlock
	return g ? g->state : 0;
}

/* Not found on the path that unlocks early: nothing to use. */
int gadget_bump(struct gadget_tree *t, unsigned long key)
{
	struct gadget *g;

	spin_lock(&t->lock);
	g = gadget_find(t, key);
	if (!g) {
		spin_unlock(&t->lock);
		return -ENOENT;
	}
	// ok: used-after-unlock
	g->state++;
	spin_unlock(&t->lock);
	return 0;
}

/* A counted user taken with the counter before the unlock. */
int gadget_use(struct gadget_tree *t, unsigned long key)
{
	struct gadget *g;

	spin_lock(&t->lock);
	g = gadget_find(t, key);
	if (!g) {
		spin_unlock(&t->lock);
		return -ENOENT;
	}
	atomic_inc(&g->users);
	spin_unlock(&t->lock);
	// ok: used-after-unlock
	g->state++;
	return 0;
}

/* Popped off the free list by a helper that changes the tree it is given: now ours. */
static struct gadget *gadget_pop(struct gadget_tree *t)
{
	struct gadget *g = t->cached;

	if (g)
		t->cached = NULL;
	return g;
}

int gadget_take_cached(struct gadget_tree *t)
{
	struct gadget *g;

	spin_lock(&t->lock);
	g = gadget_pop(t);
	spin_unlock(&t->lock);
	if (!g)
		return -ENOENT;
	// ok: used-after-unlock
	return g->state;
}

struct gadget_locked {
	spinlock_t lock;
	int state;
};

struct gadget_locked *gadget_find_locked(struct gadget_tree *t, unsigned long key);

/* Hand over hand: the found object's own lock is taken before the tree's is dropped. */
int gadget_handover(struct gadget_tree *t, unsigned long key)
{
	struct gadget_locked *g;
	int state;

	spin_lock(&t->lock);
	g = gadget_find_locked(t, key);
	if (!g) {
		spin_unlock(&t->lock);
		return -ENOENT;
	}
	spin_lock(&g->lock);
	spin_unlock(&t->lock);
	// ok: used-after-unlock
	state = g->state;
	spin_unlock(&g->lock);
	return state;
}

/* A lookup that takes the reference itself, two calls down. */
static struct gadget *__gadget_find_get(struct gadget_tree *t, unsigned long key, int strict)
{
	struct gadget *g = gadget_find(t, key);

	if (!g || (strict && g->start > key))
		return NULL;
	kref_get(&g->ref);
	return g;
}

static struct gadget *gadget_find_get(struct gadget_tree *t, unsigned long key)
{
	return __gadget_find_get(t, key, 1);
}

int gadget_state_found_get(struct gadget_tree *t, unsigned long key)
{
	struct gadget *g;

	spin_lock(&t->lock);
	g = gadget_find_get(t, key);
	spin_unlock(&t->lock);
	if (!g)
		return -ENOENT;
	// ok: used-after-unlock
	return g->state;
}

/* Used under the lock of the space that also holds it: the code relies on that one. */
int gadget_state_moved(struct gadget_tree *t, struct gadget_space *gs, unsigned long key)
{
	struct gadget *g;
	int state;

	spin_lock(&t->lock);
	g = gadget_find(t, key);
	spin_unlock(&t->lock);
	if (!g)
		return -ENOENT;
	down_read(&gs->sem);
	// ok: used-after-unlock
	state = g->state;
	up_read(&gs->sem);
	return state;
}

/*
 * The walk's cursor is an entry of the list: the same after the unlock, but an entry still on
 * a list may be kept by its membership, which nothing here shows: a question, not a warning.
 */
int gadget_find_walk(struct gadget_tree *t, int state)
{
	struct gadget *g, *hit = NULL;

	spin_lock(&t->lock);
	list_for_each_entry(g, &t->all, node) {
		if (g->state == state) {
			hit = g;
			break;
		}
	}
	spin_unlock(&t->lock);
	if (!hit)
		return -ENOENT;
	// ruleid: used-after-unlock[listed]
	return hit->start == 0;
}

bool gadget_still_there(struct gadget_tree *t, struct gadget *g);
struct gadget_policy *gadget_policy_alloc(void);

/* The lock is dropped to allocate and taken again; the gadget found before is trusted. */
int gadget_attach_policy(struct gadget_tree *t, unsigned long key)
{
	struct gadget_policy *pol;
	struct gadget *g;

	spin_lock(&t->lock);
	g = gadget_find(t, key);
	if (!g) {
		spin_unlock(&t->lock);
		return -ENOENT;
	}
	spin_unlock(&t->lock);
	pol = gadget_policy_alloc();
	spin_lock(&t->lock);
	// ruleid: used-after-unlock[retaken]
	g->policy = pol;
	spin_unlock(&t->lock);
	return 0;
}

/* The same, looking the gadget up again after the retake. */
int gadget_attach_policy_again(struct gadget_tree *t, unsigned long key)
{
	struct gadget_policy *pol;
	struct gadget *g;

	pol = gadget_policy_alloc();
	spin_lock(&t->lock);
	g = gadget_find(t, key);
	if (!g) {
		spin_unlock(&t->lock);
		return -ENOENT;
	}
	spin_unlock(&t->lock);
	pol = gadget_policy_alloc();
	spin_lock(&t->lock);
	g = gadget_find(t, key);
	if (g)
		// ok: used-after-unlock
		g->policy = pol;
	spin_unlock(&t->lock);
	return 0;
}

/* The same, checking that the gadget is still in the tree before using it. */
int gadget_attach_policy_checked(struct gadget_tree *t, unsigned long key)
{
	struct gadget_policy *pol;
	struct gadget *g;

	spin_lock(&t->lock);
	g = gadget_find(t, key);
	if (!g) {
		spin_unlock(&t->lock);
		return -ENOENT;
	}
	spin_unlock(&t->lock);
	pol = gadget_policy_alloc();
	spin_lock(&t->lock);
	if (gadget_still_there(t, g))
		// ok: used-after-unlock
		g->policy = pol;
	spin_unlock(&t->lock);
	return 0;
}

struct gadget_gen_tree {
	spinlock_t lock;
	struct rb_root root;
	unsigned long gen;
};

struct gadget *gadget_gen_find(struct gadget_gen_tree *t, unsigned long key);

/* A generation count saved under the lock and compared after the retake revalidates. */
int gadget_attach_policy_gen(struct gadget_gen_tree *t, unsigned long key)
{
	struct gadget_policy *pol;
	struct gadget *g;
	unsigned long gen;

again:
	spin_lock(&t->lock);
	g = gadget_gen_find(t, key);
	if (!g) {
		spin_unlock(&t->lock);
		return -ENOENT;
	}
	gen = t->gen;
	spin_unlock(&t->lock);
	pol = gadget_policy_alloc();
	spin_lock(&t->lock);
	if (gen != t->gen) {
		spin_unlock(&t->lock);
		goto again;
	}
	// ok: used-after-unlock
	g->policy = pol;
	spin_unlock(&t->lock);
	return 0;
}
