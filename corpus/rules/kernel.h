/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel API the rule fixtures use, declared for rmaplint in kernel style, so that the
 * fixtures are C a compiler accepts (the clang frontend reads them too). Only shapes: no
 * function here has a body that locks, the lock model knows the primitives by name.
 */
#ifndef RMAPLINT_FIXTURE_KERNEL_H
#define RMAPLINT_FIXTURE_KERNEL_H

#define NULL ((void *)0)
typedef _Bool bool;
#define true 1
#define false 0

#define EAGAIN 11
#define EINTR 4
#define EBUSY 16
#define EINVAL 22
#define ENOENT 2
#define ENOMEM 12

typedef unsigned long size_t;
typedef unsigned int gfp_t;

/* sparse's lock contracts: nothing to the compiler */
#define __acquires(x)
#define __releases(x)
#define __must_hold(x)
/* sparse marks: the checker counts a context, the compiler sees nothing */
#define __acquire(x) (void)0
#define __release(x) (void)0
#define __GFP_DIRECT_RECLAIM 0x400u
#define __GFP_KSWAPD_RECLAIM 0x800u
#define __GFP_IO 0x40u
#define __GFP_FS 0x80u
#define __GFP_HIGH 0x20u
#define __GFP_NOWARN 0x2000u
#define __GFP_NOFAIL 0x8000u
#define __GFP_ZERO 0x100u
#define __GFP_ACCOUNT 0x400000u
#define __GFP_RECLAIM (__GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM)
#define GFP_ATOMIC (__GFP_HIGH | __GFP_KSWAPD_RECLAIM)
#define GFP_NOWAIT (__GFP_KSWAPD_RECLAIM)
#define GFP_NOIO (__GFP_RECLAIM)
#define GFP_NOFS (__GFP_RECLAIM | __GFP_IO)
#define GFP_KERNEL (__GFP_RECLAIM | __GFP_IO | __GFP_FS)
#define GFP_KERNEL_ACCOUNT (GFP_KERNEL | __GFP_ACCOUNT)
#define GFP_HIGHUSER_MOVABLE (GFP_KERNEL | 0x8u)

#define unlikely(x) __builtin_expect(!!(x), 0)
#define WARN_ON_ONCE(cond) unlikely(cond)
#define VM_WARN_ON_ONCE(cond) ((void)(cond))

struct list_head {
	struct list_head *next, *prev;
};

struct rb_node {
	struct rb_node *rb_left, *rb_right;
};

struct rb_root_cached {
	struct rb_node *rb_node, *rb_leftmost;
};

struct rw_semaphore {
	long count;
};

typedef struct spinlock {
	int locked;
} spinlock_t;

typedef struct {
	int locked;
} rwlock_t;

struct mutex {
	long owner;
};

typedef struct {
	unsigned long pte;
} pte_t;

typedef struct {
	unsigned long pmd;
} pmd_t;

void down_read(struct rw_semaphore *sem);
void down_write(struct rw_semaphore *sem);
int down_read_trylock(struct rw_semaphore *sem);
int down_write_trylock(struct rw_semaphore *sem);
int down_write_killable(struct rw_semaphore *sem);
void up_read(struct rw_semaphore *sem);
void up_write(struct rw_semaphore *sem);
void spin_lock(spinlock_t *lock);
int spin_trylock(spinlock_t *lock);
void spin_unlock(spinlock_t *lock);
void read_lock(rwlock_t *lock);
void read_unlock(rwlock_t *lock);
void mutex_lock(struct mutex *lock);
void mutex_unlock(struct mutex *lock);
void cond_resched(void);
void might_sleep(void);
void rcu_read_lock(void);
void rcu_read_unlock(void);
void preempt_disable(void);
void preempt_enable(void);
#define local_irq_save(flags) ((flags) = arch_local_irq_save())
unsigned long arch_local_irq_save(void);
void local_irq_restore(unsigned long flags);
typedef int class_rcu_t;
class_rcu_t class_rcu_constructor(void);
void class_rcu_destructor(class_rcu_t *unused);
struct kref {
	int refcount;
};
void kref_get(struct kref *kref);
typedef struct {
	int counter;
} atomic_t;
void atomic_inc(atomic_t *v);
struct rb_root {
	struct rb_node *rb_node;
};
struct rb_node *rb_next(const struct rb_node *node);
#define rb_entry(ptr, type, member) container_of(ptr, type, member)
int kref_get_unless_zero(struct kref *kref);
void msleep(unsigned int msecs);
void vfree(const void *addr);
int need_resched(void);
void *kmalloc(unsigned long size, gfp_t gfp);
void *kzalloc(unsigned long size, gfp_t gfp);
void kfree(const void *p);

#define lockdep_assert_held(l) ((void)(l))
#define lockdep_assert_held_write(l) ((void)(l))

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - __builtin_offsetof(type, member)))
#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(ptr, type, member) list_entry((ptr)->next, type, member)
void list_del(struct list_head *entry);
#define list_for_each_entry(pos, head, member)					\
	for (pos = list_entry((head)->next, typeof(*pos), member);		\
	     &pos->member != (head);						\
	     pos = list_entry(pos->member.next, typeof(*pos), member))
#define list_for_each_entry_reverse(pos, head, member)				\
	for (pos = list_entry((head)->prev, typeof(*pos), member);		\
	     &pos->member != (head);						\
	     pos = list_entry(pos->member.prev, typeof(*pos), member))
#define list_for_each_entry_safe(pos, n, head, member)				\
	for (pos = list_entry((head)->next, typeof(*pos), member),		\
		n = list_entry(pos->member.next, typeof(*pos), member);	\
	     &pos->member != (head);						\
	     pos = n, n = list_entry(n->member.next, typeof(*n), member))

struct anon_vma_chain;
struct anon_vma_chain *anon_vma_interval_tree_iter_first(struct rb_root_cached *root,
		unsigned long first, unsigned long last);
struct anon_vma_chain *anon_vma_interval_tree_iter_next(struct anon_vma_chain *node,
		unsigned long first, unsigned long last);
#define anon_vma_interval_tree_foreach(avc, root, start, last)			\
	for (avc = anon_vma_interval_tree_iter_first(root, start, last);	\
	     avc; avc = anon_vma_interval_tree_iter_next(avc, start, last))

/* Scope guards, shaped like include/linux/cleanup.h's: a variable with a cleanup. */
#define __guard_paste(a, b) a##b
#define __guard_id(n) __guard_paste(__guard_, n)
#define guard(_name) \
	class_##_name##_t __guard_id(__COUNTER__) \
		__attribute__((cleanup(class_##_name##_destructor))) = class_##_name##_constructor
#define scoped_guard(_name, args...)						\
	for (class_##_name##_t scope						\
		__attribute__((cleanup(class_##_name##_destructor))) =		\
		class_##_name##_constructor(args), *done = NULL; !done;	\
	     done = (void *)1)

typedef spinlock_t *class_spinlock_t;
class_spinlock_t class_spinlock_constructor(spinlock_t *lock);
void class_spinlock_destructor(class_spinlock_t *lock);
typedef struct rw_semaphore *class_rwsem_read_t;
class_rwsem_read_t class_rwsem_read_constructor(struct rw_semaphore *sem);
void class_rwsem_read_destructor(class_rwsem_read_t *sem);

/*
 * An iterator whose position lives in its state, not in the entry it yields: the advance
 * reads the xa_state alone, which caches a node of the tree.
 */
struct xarray;
struct xa_state {
	struct xarray *xa;
	unsigned long xa_index;
	void *xa_node;
};
void *xas_find(struct xa_state *xas, unsigned long max);
void *xas_next_entry(struct xa_state *xas, unsigned long max);
void xas_pause(struct xa_state *xas);
#define xas_for_each(xas, entry, max) \
	for (entry = xas_find(xas, max); entry; \
	     entry = xas_next_entry(xas, max))

#endif /* RMAPLINT_FIXTURE_KERNEL_H */
