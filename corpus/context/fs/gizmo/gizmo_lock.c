// SPDX-License-Identifier: GPL-2.0
/* The gizmo's lock helpers: which locks a call takes is decided by its flags. */
#include "kernel.h"
#include "gizmo.h"

void gizmo_lock(struct gizmo *g, unsigned int lock_flags)
{
	if (lock_flags & GIZMO_IOLOCK_EXCL)
		down_write(&g->io_rwsem);
	else if (lock_flags & GIZMO_IOLOCK_SHARED)
		down_read(&g->io_rwsem);

	if (lock_flags & GIZMO_MAPLOCK_EXCL)
		down_write(&g->map_rwsem);
	else if (lock_flags & GIZMO_MAPLOCK_SHARED)
		down_read(&g->map_rwsem);

	if (lock_flags & GIZMO_SPIN)
		spin_lock(&g->lock);
}

void gizmo_unlock(struct gizmo *g, unsigned int lock_flags)
{
	if (lock_flags & GIZMO_SPIN)
		spin_unlock(&g->lock);

	if (lock_flags & GIZMO_MAPLOCK_EXCL)
		up_write(&g->map_rwsem);
	else if (lock_flags & GIZMO_MAPLOCK_SHARED)
		up_read(&g->map_rwsem);

	if (lock_flags & GIZMO_IOLOCK_EXCL)
		up_write(&g->io_rwsem);
	else if (lock_flags & GIZMO_IOLOCK_SHARED)
		up_read(&g->io_rwsem);
}

/* The mode a reader needs, taken: the caller gives it back with gizmo_unlock(g, mode). */
unsigned int gizmo_lock_map_shared(struct gizmo *g)
{
	unsigned int lock_mode = GIZMO_MAPLOCK_SHARED;

	if (g->len < 0)
		lock_mode = GIZMO_MAPLOCK_EXCL;
	gizmo_lock(g, lock_mode);
	return lock_mode;
}

/* A wrapper that hands its mode on: the caller's mode chooses what it takes. */
void gizmo_lock_traced(struct gizmo *g, unsigned int mode)
{
	gizmo_trace(g->len, mode);
	gizmo_lock(g, mode);
}
