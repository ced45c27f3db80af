/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small code base in the shape of the kernel's anon_vma, written for rmaplint's corpus
 * history. Not kernel source: the types and helpers are ours, kept only as detailed as
 * the locking needs.
 */
#ifndef _LINUX_ANON_H
#define _LINUX_ANON_H

struct anon_vma {
	struct anon_vma *root;		/* oldest ancestor: its rwsem guards the whole tree */
	struct rw_semaphore rwsem;	/* W: modification, R: walking the tree */
	struct anon_vma *parent;
	struct rb_root_cached rb_root;	/* chains of every VMA mapping our pages */
	unsigned long num_children;
	unsigned long num_active_vmas;
};

struct anon_vma_chain {
	struct vm_area_struct *vma;
	struct anon_vma *anon_vma;
	struct list_head same_vma;	/* under the mmap lock */
	struct rb_node rb;		/* under the anon_vma root rwsem */
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

int anon_vma_clone(struct vm_area_struct *dst, struct vm_area_struct *src);
void unlink_anon_vmas(struct vm_area_struct *vma);

#endif /* _LINUX_ANON_H */
