// SPDX-License-Identifier: GPL-2.0
/* Fixture for caller-lacks-lock, written for rmaplint in kernel style. */
#include "anon.h"

/* Requires the list's lock: says so with an assertion. */
static void widget_account(struct widget_list *wl, int n)
{
	lockdep_assert_held(&wl->lock);
	wl->users += n;
}

/* Requires it through the helper it calls: the requirement moves up the chain. */
static void widget_account_twice(struct widget_list *wl, int n)
{
	widget_account(wl, n);
	widget_account(wl, n);
}

void widget_add(struct widget_list *wl)
{
	spin_lock(&wl->lock);
	// ok: caller-lacks-lock
	widget_account(wl, 1);
	spin_unlock(&wl->lock);
}

/* Accounted after the unlock: the lock the callee requires is gone. */
void widget_remove(struct widget_list *wl)
{
	spin_lock(&wl->lock);
	wl->users--;
	spin_unlock(&wl->lock);
	// ruleid: caller-lacks-lock[not-held]
	widget_account(wl, -1);
}

/* Two levels down. */
void widget_add_pair(struct widget_list *wl)
{
	spin_lock(&wl->lock);
	widget_account_twice(wl, 1);
	spin_unlock(&wl->lock);
	// ruleid: caller-lacks-lock[not-held]
	widget_account_twice(wl, -1);
}

/* Dropped early when asked to: on that path the callee runs without it. */
void widget_maybe(struct widget_list *wl, bool drop)
{
	spin_lock(&wl->lock);
	if (drop)
		spin_unlock(&wl->lock);
	// ruleid: caller-lacks-lock[some-paths]
	widget_account(wl, 1);
	if (!drop)
		spin_unlock(&wl->lock);
}

/* Taken only when asked to: when not, the caller holds it (nothing known either way). */
void widget_maybe_take(struct widget_list *wl, bool take)
{
	if (take)
		spin_lock(&wl->lock);
	// ok: caller-lacks-lock
	widget_account(wl, 1);
	if (take)
		spin_unlock(&wl->lock);
}

/* Nothing known here: the caller of this function may hold it (the requirement moves up). */
void widget_account_locked(struct widget_list *wl)
{
	// ok: caller-lacks-lock
	widget_account(wl, 1);
}

/* Its own assertion, after the unlock: what lockdep would report at run time. */
void widget_reset(struct widget_list *wl)
{
	spin_lock(&wl->lock);
	wl->users = 0;
	spin_unlock(&wl->lock);
	// ruleid: caller-lacks-lock[not-held]
	lockdep_assert_held(&wl->lock);
}
