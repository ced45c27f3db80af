// SPDX-License-Identifier: GPL-2.0
/* Helpers of another folder: the analysis of mm/ reads them as text only. */
#include "anon.h"

static long notes;

static void note_value(long v)
{
	notes += v;
}

void mm_note(struct mm_struct *mm)
{
	note_value(mm->map_count);
}

void mm_note_drop(struct mm_struct *mm)
{
	mmap_read_unlock(mm);
	note_value(mm->map_count);
	mmap_read_lock(mm);
}
