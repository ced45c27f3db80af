// SPDX-License-Identifier: GPL-2.0
/* Users of the gizmo's flag-driven lock helpers of gizmo_lock.c, the file beside this one. */
#include "kernel.h"
#include "gizmo.h"

/* The error return keeps io_rwsem, which every other exit gives back. */
int gizmo_map_leaky(struct gizmo *g, int len)
{
	int error;

	gizmo_lock(g, GIZMO_IOLOCK_EXCL);
	error = gizmo_flush(len);
	if (error)
		return error;
	g->len = len;
	gizmo_unlock(g, GIZMO_IOLOCK_EXCL);
	return 0;
}

/* The same with the error path through the unlock. */
int gizmo_map(struct gizmo *g, int len)
{
	int error;

	gizmo_lock(g, GIZMO_IOLOCK_EXCL);
	error = gizmo_flush(len);
	if (error)
		goto out_unlock;
	g->len = len;
out_unlock:
	gizmo_unlock(g, GIZMO_IOLOCK_EXCL);
	return error;
}

/* Two locks by one call; the spinlock alone is dropped for the flush and taken back. */
int gizmo_resize(struct gizmo *g, int len)
{
	int error;

	gizmo_lock(g, GIZMO_MAPLOCK_SHARED | GIZMO_SPIN);
	g->len = 0;
	gizmo_unlock(g, GIZMO_SPIN);
	error = gizmo_flush(len);
	gizmo_lock(g, GIZMO_SPIN);
	if (!error)
		g->len = len;
	gizmo_unlock(g, GIZMO_MAPLOCK_SHARED | GIZMO_SPIN);
	return error;
}

/* Flags that are not known here: every case of the helper may be what it does. */
void gizmo_relock(struct gizmo *g, unsigned int mode)
{
	gizmo_unlock(g, mode);
	gizmo_flush(0);
	gizmo_lock(g, mode);
}

/* The mode comes back from the helper that took the lock, and goes to the unlock. */
int gizmo_peek(struct gizmo *g)
{
	unsigned int mode;
	int len;

	mode = gizmo_lock_map_shared(g);
	len = g->len;
	gizmo_unlock(g, mode);
	return len;
}

/* The same, with an early return that keeps the lock in whichever mode it was taken. */
int gizmo_peek_leaky(struct gizmo *g, int *lenp)
{
	unsigned int mode;

	mode = gizmo_lock_map_shared(g);
	if (g->len < 0)
		return -EINVAL;
	*lenp = g->len;
	gizmo_unlock(g, mode);
	return 0;
}

/* Through the wrapper: the error return keeps io_rwsem. */
int gizmo_map_traced_leaky(struct gizmo *g, int len)
{
	gizmo_lock_traced(g, GIZMO_IOLOCK_EXCL);
	if (gizmo_flush(len))
		return -EINVAL;
	g->len = len;
	gizmo_unlock(g, GIZMO_IOLOCK_EXCL);
	return 0;
}
