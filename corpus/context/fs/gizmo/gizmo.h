/* SPDX-License-Identifier: GPL-2.0 */
/* A gizmo has three locks, taken by the bits of one flags argument (gizmo_lock.c). */
#include "kernel.h"

#define GIZMO_IOLOCK_EXCL	(1u << 0)
#define GIZMO_IOLOCK_SHARED	(1u << 1)
#define GIZMO_MAPLOCK_EXCL	(1u << 2)
#define GIZMO_MAPLOCK_SHARED	(1u << 3)
#define GIZMO_SPIN		(1u << 4)

struct gizmo {
	struct rw_semaphore	io_rwsem;
	struct rw_semaphore	map_rwsem;
	spinlock_t		lock;
	int			len;
};

void gizmo_lock(struct gizmo *g, unsigned int lock_flags);
void gizmo_unlock(struct gizmo *g, unsigned int lock_flags);
unsigned int gizmo_lock_map_shared(struct gizmo *g);
void gizmo_lock_traced(struct gizmo *g, unsigned int mode);
void gizmo_trace(int len, unsigned int mode);
int gizmo_flush(int len);
