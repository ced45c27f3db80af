"""lock-imbalance — a function returns with a lock held on some paths and not held on others,
and its callers cannot tell which, or an error return keeps a lock the success path drops.

What it does: computes the lock state at every exit, per path partition (paths are kept apart
by the values of the variables the function returns: ``err = -EAGAIN; goto out; … out:
return err;`` gives the error path its own exit), after the return value is evaluated and
the scope guards the return leaves are released. For a lock must-held at one exit and known
not held at another, the two returned values decide:

* ``indistinguishable`` — both return nothing, or values of one kind (the same constant, two
  errors, two zeros): the caller cannot know whether it holds the lock;
* ``error-path`` — the held exit returns an error (a negative errno, NULL, non-zero after
  ``if (err)``) while an exit that returns success (0) drops the lock: the error path leaks it;
* ``contract`` — a lock the function must release (``__releases()``, or the lock model's
  contract of the operations-table method it is stored in: ``->writepage`` is called with
  the page locked and unlocks it, ``rules/locks.toml`` ``[[method]]``) is still held at an
  exit while another exit releases it, unless that exit returns a value the contract lets
  keep it (``AOP_WRITEPAGE_ACTIVATE``);
* a function whose exits partition the kernel's way — success (0, non-NULL, true) ⇒ locked,
  error (errno, NULL, false) ⇒ unlocked — has a conditional-lock contract and is not reported,
  nor is a lock named by an ``__acquires``/``__releases``/``__must_hold`` annotation. An exit
  whose value is not known (a variable assigned from a call) pairs with nothing.

The region runs from the acquire of the lock to the return that leaves it held.

Not reported either: a lock taken through a helper that takes locks conditionally (its
summary says so: the failure path may be out of sight), and an exit where a lock of the same
field name, one of the two named through a call's result, is released (possibly one lock under
two names). A lock handed to a function whose effects are unknown, or whose owning object is
(``if (put_locked(obj)) return;``), is *unknown* after that call — neither held nor not held —
so such exits never count.

Confidence: high for the lock states (NULL-guarded locks are handled: ``if (p) lock(p) … if (p)
unlock(p)`` is balanced; flags set with the lock and tested later are tracked); the error
classes follow kernel conventions, so a function returning a positive count on failure can
read wrong.
"""

from __future__ import annotations

from ..findings.finding import Severity
from ..locks.lockid import LockId
from ..locks.state import State, describe_token, value_class
from ..syntax import tree as C
from ..syntax.tree import ContractKind
from .common import Rule, first_acquire_line

RULE = Rule("lock-imbalance", {
    "indistinguishable": "{lock} is still held at the {what} on line {held_line} but not "
                         "held at the {what2} on line {free_line}; the caller cannot tell "
                         "which, and no __acquires/__releases/__must_hold contract names it",
    "error-path": "{lock} is still held at the error return ({what}) on line {held_line}, "
                  "but released before the success return ({what2}) on line {free_line}: "
                  "the error path leaks it",
    "contract": "{lock} is still held at the {what} on line {held_line}, but {contract} "
                "releases it on every path (as it does before the {what2} on line "
                "{free_line})",
})

# value classes that tell a caller "failed" / "succeeded"
_FAILED = {"error", "null", "nonzero"}
_SUCCEEDED = {"zero", "true"}


def check(ctx):
    if ctx.function.degraded:  # parse errors: paths are missing, states unreliable
        return []
    outs = ctx.fn.exits
    if len({x.line for x in outs}) < 2 and len(outs) < 2:
        return []
    found = _broken_releases(ctx, outs)
    contract = _contract_locks(ctx)
    keys = sorted({k for x in outs for k, f in x.state.locks.items() if f.must},
                  key=lambda k: k.path)
    int_returns = _returns_int(ctx.function)
    for k in keys:
        if k in contract or (k.cls is not None and k.cls in contract):
            continue
        held = [x for x in outs if (f := x.state.locks.get(k)) is not None and f.must
                and not _other_name_released(k, x.state)]
        free = [x for x in outs if (f := x.state.locks.get(k)) is not None and f.not_held]
        pair = _pair(held, free, int_returns) if held and free else None
        if pair is not None:
            kind, h, fr = pair
            found.append(_finding(ctx, kind, k, h, fr, held, free))
    return found


_RELEASES = (str(ContractKind.RELEASES), str(ContractKind.RELEASES_SHARED))


def _broken_releases(ctx, outs) -> list:
    """A lock the function's contract says it releases (``__releases()``, or the lock
    model's contract of the table method it is: ``->writepage``) still held at an exit
    while another exit has released it; a return of one of the contract's ``keeps``
    values (``AOP_WRITEPAGE_ACTIVATE``) may keep it."""
    out = []
    st = State()
    for ann in ctx.fn.naming.contracts:
        if ann.kind not in _RELEASES:
            continue
        k = ctx.fn.naming.lock(ann.expr, st)
        if k is None:
            continue
        held = [x for x in outs if (f := x.state.locks.get(k)) is not None and f.must
                and not (x.value is not None and C.render(x.value) in ann.keeps)]
        free = [x for x in outs if (f := x.state.locks.get(k)) is not None and f.not_held]
        if not held or not free:
            continue
        h, fr = min(held, key=lambda x: x.line), min(free, key=lambda x: x.line)
        f = _finding(ctx, "contract", k, h, fr, held, free,
                     contract=ann.method or "its __releases() annotation")
        out.append(f)
    return out


def _cls(x, int_returns: bool) -> str | None:
    """The exit's value class; None when nothing is returned, "?" when not known."""
    if x.value is None:
        return None
    c = value_class(x.returned)
    if c == "nonzero" and not int_returns:
        return "?"  # a non-NULL pointer, a positive count: not an error in itself
    return c if c is not None else "?"


def _pair(held, free, int_returns: bool):
    """The first (kind, held exit, free exit) the caller cannot tell apart, or where an
    error path keeps the lock a success path drops."""
    for h in sorted(held, key=lambda x: x.line):
        hc = _cls(h, int_returns)
        free = [fr for fr in free if not _told_by_out_flag(h, fr)]
        for fr in sorted(free, key=lambda x: x.line):
            if fr.line == h.line:
                continue  # one return statement: its paths differ only in what we track
            fc = _cls(fr, int_returns)
            same = h.returned is not None and h.returned == fr.returned
            if hc is None and fc is None or same or hc == fc and hc in _FAILED | _SUCCEEDED:
                return "indistinguishable", h, fr
        for fr in sorted(free, key=lambda x: (x.line == h.line, x.line)):
            # one return statement too (``out: return err;``): the values tell the paths apart
            fc = _cls(fr, int_returns)
            if hc in _FAILED and fc in _SUCCEEDED:
                return "error-path", h, fr
    return None


def _told_by_out_flag(a, b) -> bool:
    """The function hands a flag back through a pointer (``*locked = 0``) and the two exits
    do not agree on its value: the caller can tell them apart."""
    flags = {k for x in (a, b) for k in x.state.vals if k.startswith("*")}
    return any(a.state.vals.get(k) is None or a.state.vals.get(k) != b.state.vals.get(k)
               for k in flags)


def _returns_int(fn: C.Function) -> bool:
    t = " ".join(fn.return_type.split())
    return "*" not in t and any(w in t.split() for w in ("int", "long", "vm_fault_t", "ssize_t"))


def _other_name_released(key: LockId, st: State) -> bool:
    """Another lock with the same field name is released at this exit, one of the two named
    through a call's result: possibly one lock under two names (``EXT4_SB(sb)->s_fc_lock``
    and ``sbi->s_fc_lock``, ``sbi`` set from the same call), which the analysis cannot
    equate."""
    field = key.path.field
    return any(k != key and k.path.field == field and f.not_held
               and (k.path.call_root or key.path.call_root)
               for k, f in st.locks.items())


def _contract_locks(ctx) -> set[object]:
    """Locks and classes the function's annotations name."""
    out: set[object] = set()
    st = State()
    nm = ctx.fn.naming
    for ann in ctx.fn.naming.contracts:
        k = nm.lock(ann.expr, st)
        if k is not None:
            out.add(k)
        cls = nm.lock_class(ann.expr)
        if cls:
            out.add(cls)
    return out


def _what(x) -> str:
    if x.value is None:
        return "return"
    text = f"return {C.render(x.value)}"
    if x.returned is not None and x.returned != C.render(x.value):
        text += f", {describe_token(x.returned)} here"
    return text


def _finding(ctx, kind, key, h, fr, held, free, **extra):
    start = first_acquire_line(ctx, key, before=h.line) or \
        first_acquire_line(ctx, key, earliest=True) or ctx.function.span.line
    related = [(ln, "returns with the lock held")
               for ln in sorted({x.line for x in held} - {h.line})]
    related += [(ln, "returns with the lock released") for ln in sorted({x.line for x in free})]
    return RULE.finding(ctx, kind, Severity.ERROR, start, h.line, [key], related, (key,),
                        lock=key.describe(), what=_what(h), what2=_what(fr),
                        held_line=h.line, free_line=fr.line, **extra)
