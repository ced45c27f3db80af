// SPDX-License-Identifier: GPL-2.0
/* Fixture for walk-unlocked, written for rmaplint in kernel style. */
#include "anon.h"

void count_mappers_unlocked(struct anon_vma *anon_vma, unsigned long pgoff, int *n)
{
	struct anon_vma_chain *avc;

	// ruleid: walk-unlocked
	anon_vma_interval_tree_foreach(avc, &anon_vma->rb_root, pgoff, pgoff)
		(*n)++;
}

void count_mappers(struct anon_vma *anon_vma, unsigned long pgoff, int *n)
{
	struct anon_vma_chain *avc;

	anon_vma_lock_read(anon_vma);
	// ok: walk-unlocked
	anon_vma_interval_tree_foreach(avc, &anon_vma->rb_root, pgoff, pgoff)
		(*n)++;
	anon_vma_unlock_read(anon_vma);
}

/* Released before the walk on one path: an error, not a note. */
void count_after_unlock(struct anon_vma *anon_vma, unsigned long pgoff, int *n, bool quick)
{
	struct anon_vma_chain *avc;

	anon_vma_lock_read(anon_vma);
	if (quick)
		anon_vma_unlock_read(anon_vma);
	// ruleid: walk-unlocked
	anon_vma_interval_tree_foreach(avc, &anon_vma->rb_root, pgoff, pgoff)
		(*n)++;
	if (!quick)
		anon_vma_unlock_read(anon_vma);
}

/* The caller holds it: said by an assertion. */
void count_asserted(struct anon_vma *anon_vma, unsigned long pgoff, int *n)
{
	struct anon_vma_chain *avc;

	lockdep_assert_held(&anon_vma->root->rwsem);
	// ok: walk-unlocked
	anon_vma_interval_tree_foreach(avc, &anon_vma->rb_root, pgoff, pgoff)
		(*n)++;
}

/* ...or by a contract. */
void count_contract(struct anon_vma *anon_vma, unsigned long pgoff, int *n)
	__must_hold(&anon_vma->root->rwsem)
{
	struct anon_vma_chain *avc;

	// ok: walk-unlocked
	anon_vma_interval_tree_foreach(avc, &anon_vma->rb_root, pgoff, pgoff)
		(*n)++;
}

/* A helper that returns the object locked, or NULL. */
static struct anon_vma *lock_folio_anon(struct folio *folio)
{
	struct anon_vma *anon_vma = folio_anon(folio);

	if (!anon_vma)
		return NULL;
	if (!down_read_trylock(&anon_vma->root->rwsem)) {
		put_anon(anon_vma);
		return NULL;
	}
	return anon_vma;
}

int walk_folio(struct folio *folio, unsigned long pgoff)
{
	struct anon_vma *anon_vma;
	struct anon_vma_chain *avc;
	int n = 0;

	anon_vma = lock_folio_anon(folio);
	if (!anon_vma)
		return 0;
	// ok: walk-unlocked
	anon_vma_interval_tree_foreach(avc, &anon_vma->rb_root, pgoff, pgoff)
		n++;
	anon_vma_unlock_read(anon_vma);
	return n;
}

/* A static walker whose only caller holds the lock. */
static void walk_locked_helper(struct anon_vma *av, unsigned long pgoff, int *n)
{
	struct anon_vma_chain *avc;

	// ok: walk-unlocked
	anon_vma_interval_tree_foreach(avc, &av->rb_root, pgoff, pgoff)
		(*n)++;
}

void walk_via_helper(struct anon_vma *anon_vma, unsigned long pgoff, int *n)
{
	anon_vma_lock_read(anon_vma);
	walk_locked_helper(anon_vma, pgoff, n);
	anon_vma_unlock_read(anon_vma);
}

/* scoped_guard() holds the rwsem for the body. */
void count_guarded(struct anon_vma *anon_vma, unsigned long pgoff, int *n)
{
	struct anon_vma_chain *avc;

	scoped_guard(rwsem_read, &anon_vma->root->rwsem) {
		// ok: walk-unlocked
		anon_vma_interval_tree_foreach(avc, &anon_vma->rb_root, pgoff, pgoff)
			(*n)++;
	}
}
