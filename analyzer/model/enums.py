"""The lock model's vocabulary as enums: what a primitive does, in which mode, to what kind of
lock. Values are the strings the rules files spell (``action = "acquire"``), so a TOML value
converts with ``Action(text)`` and JSON output stays readable."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    ACQUIRE = "acquire"
    RELEASE = "release"
    TRYLOCK = "trylock"  # acquires on one outcome of the call (see Success)
    COND_ACQUIRE = "cond_acquire"  # __cond_lock(lock, cond): acquired exactly when cond
    ASSERT = "assert"
    DOWNGRADE = "downgrade"
    ACQUIRE_OR_NULL = "acquire_or_null"  # wrappers: returns the locked object, or NULL
    CYCLE = "cycle"  # summaries: released and retaken inside the callee
    PAIR = "pair"  # summaries: taken and released inside the callee (not held after)
    FORGET = "forget"  # summaries: handed to code whose effects are unknown


class Mode(StrEnum):
    READ = "read"
    WRITE = "write"
    ANY = "any"  # held in a mode nobody stated (an assertion)
    NONE = "none"  # asserted not held


class LockKind(StrEnum):
    LOCK = "lock"  # not known
    RWSEM = "rwsem"
    MUTEX = "mutex"
    SPINLOCK = "spinlock"
    RWLOCK = "rwlock"
    FOLIO = "folio"  # a folio's PG_locked bit: sleeping waiters

    @property
    def spins(self) -> bool:
        return self in (LockKind.SPINLOCK, LockKind.RWLOCK)

    @property
    def sleeps(self) -> bool:
        """Taking it may sleep."""
        return self in (LockKind.RWSEM, LockKind.MUTEX, LockKind.FOLIO)


class Success(StrEnum):
    """Which result of a conditional acquire means the lock was taken."""

    NONZERO = "nonzero"  # trylocks
    ZERO = "zero"  # killable / interruptible acquires: 0 or an errno
