// SPDX-License-Identifier: GPL-2.0
/*
 * A walk that needs the mmap lock, and callers that hold it across calls the analysis has
 * no summary of: a helper of another folder read as text, a hook through a pointer, and an
 * ->mmap method whose caller the call graph cannot see.
 */
#include "anon.h"

void mm_note(struct mm_struct *mm);
void mm_note_drop(struct mm_struct *mm);

/* Walks vma's chain without taking the lock: the callers decide. */
int chain_peek(struct vm_area_struct *vma)
{
	struct anon_vma_chain *avc;
	int n = 0;

	list_for_each_entry(avc, &vma->anon_vma_chain, same_vma)
		n++;
	return n;
}

/* mm_note() (kernel/notes.c) touches no lock of mm; the hook is handed mm, not its lock. */
int peek_noted(struct vm_area_struct *vma, int (*hook)(struct mm_struct *mm))
{
	int n;

	mmap_read_lock(vma->vm_mm);
	mm_note(vma->vm_mm);
	hook(vma->vm_mm);
	n = chain_peek(vma);
	mmap_read_unlock(vma->vm_mm);
	return n;
}

/* mm_note_drop() gives the lock back and takes it again: after it, nothing is known. */
int peek_after_drop(struct vm_area_struct *vma)
{
	int n;

	mmap_read_lock(vma->vm_mm);
	mm_note_drop(vma->vm_mm);
	n = chain_peek(vma);
	mmap_read_unlock(vma->vm_mm);
	return n;
}
