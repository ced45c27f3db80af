/* SPDX-License-Identifier: GPL-2.0 */
/* Types and wrappers used by the rule fixtures, written for rmaplint in kernel style. */
#ifndef RMAPLINT_FIXTURE_ANON_H
#define RMAPLINT_FIXTURE_ANON_H

#include "kernel.h"

struct anon_vma {
	struct anon_vma *root;
	struct rw_semaphore rwsem;
	struct anon_vma *parent;
	struct rb_root_cached rb_root;
	unsigned long num_children;
	unsigned long num_active_vmas;
};

struct anon_vma_chain {
	struct vm_area_struct *vma;
	struct anon_vma *anon_vma;
	struct list_head same_vma;
	struct rb_node rb;
};

struct mm_struct {
	struct rw_semaphore mmap_lock;
	spinlock_t page_table_lock;
};

struct vm_area_struct {
	struct mm_struct *vm_mm;
	struct list_head anon_vma_chain;
	struct anon_vma *anon_vma;
};

struct widget {
	struct list_head node;
	spinlock_t lock;
	int count;
	int ref;
	int key;
	void *value;
};

struct stash {
	void *buf;
	void *extra;
	int hits;
};

struct widget_list {
	spinlock_t lock;
	struct list_head widgets;
	int users;
	struct widget *first;
};

static inline void anon_vma_lock_write(struct anon_vma *anon_vma)
{
	down_write(&anon_vma->root->rwsem);
}

static inline void anon_vma_unlock_write(struct anon_vma *anon_vma)
{
	up_write(&anon_vma->root->rwsem);
}

static inline void anon_vma_lock_read(struct anon_vma *anon_vma)
{
	down_read(&anon_vma->root->rwsem);
}

static inline void anon_vma_unlock_read(struct anon_vma *anon_vma)
{
	up_read(&anon_vma->root->rwsem);
}

/* Added for the reclaim, imbalance, double-lock and lock-order fixtures. */
struct address_space {
	struct rw_semaphore i_mmap_rwsem;
	struct rw_semaphore invalidate_lock;
	struct rb_root_cached i_mmap;
	spinlock_t i_private_lock;
};

struct lruvec {
	spinlock_t lru_lock;
};

static inline void i_mmap_lock_write(struct address_space *mapping)
{
	down_write(&mapping->i_mmap_rwsem);
}

static inline void i_mmap_unlock_write(struct address_space *mapping)
{
	up_write(&mapping->i_mmap_rwsem);
}

static inline void i_mmap_lock_read(struct address_space *mapping)
{
	down_read(&mapping->i_mmap_rwsem);
}

static inline void i_mmap_unlock_read(struct address_space *mapping)
{
	up_read(&mapping->i_mmap_rwsem);
}

static inline void mmap_read_lock(struct mm_struct *mm)
{
	down_read(&mm->mmap_lock);
}

static inline void mmap_read_unlock(struct mm_struct *mm)
{
	up_read(&mm->mmap_lock);
}

bool widget_is_shared(struct widget *w);

/* Locking wrapped in macros, as the kernel does (xa_lock(), 6.1's pte_offset_map_lock()). */
#define widget_list_lock(wl)	spin_lock(&(wl)->lock)
#define widget_list_unlock(wl)	spin_unlock(&(wl)->lock)
#define widget_lock_first(wl, ptlp)			\
({							\
	spinlock_t *__ptl = &(wl)->lock;		\
	struct widget *__w = (wl)->first;		\
	*(ptlp) = __ptl;				\
	spin_lock(__ptl);				\
	__w;						\
})

#endif
