"""Deciding a finding at the function's callers: "held by all N callers".

A check that finds a structure walked or changed with no lock known held, or a walk whose own
lock is not known held when another lock is dropped in it, cannot tell from the function
alone whether the callers hold that lock: it attaches a :class:`~analyzer.locks.calls.Need`
to its finding. This module judges the need at every call site of the function in the tree
(the callers index finds the files, each file's call table says what the site holds), and
up the call chain while a caller hands on an object it was given itself:

* **held** — the lock, rebased on the argument, is held at the site in a mode that serves
  (or, the object not being nameable there, a lock of the same class is: the site then says
  which lock it holds);
* **lacks** — it is known not held at the site (released before the call, or never taken
  on a path that took it elsewhere);
* **unknown** — the caller passes an object of its own (a local, a call's result), the chain
  is longer than :data:`MAX_DEPTH`, a function is called from more than :data:`MAX_FILES`
  files (not read), or a function has no caller in the indexed tree: "unknown at entry" when
  its file says why (:func:`entry_point`: a system call, an exported symbol, an initcall, a
  member of an operations table), else a caller outside ``caller_dirs`` or a pointer's.

The verdicts rewrite the findings: a need held by every caller removes a ``no-lock-known``
walk or modification (kept as a :class:`Decided` note of the report) and makes a
drop-in-walk *safe*; a caller that lacks the lock makes it ``caller-lacks`` (an error naming
the chain); otherwise the note says which callers hold it. Everything read is a function of
the tree's content (the files' call tables are cached with their results), so the verdict is
the same in a one-file run, a whole-tree run and a warm one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache

from ..findings.finding import Finding, Related, Severity
from ..index.bodies import Body, FileBodies, split_args
from ..index.callers import CallerIndex
from ..index.ops import assigned_methods
from ..locks.calls import CallSite, CallTable, FunctionCalls, IrqsOff, Need, Sleeps
from ..model.enums import Action
from ..model.lockmodel import LockModel, Primitive
from ..syntax.tree import METHOD

MAX_DEPTH = 8  # call-chain levels looked up before a need is "unknown"
MAX_SHOWN = 4  # callers named in a message
# a function called from more files than this is not decided at its callers (an exported
# interface: free_irq() has thousands); the finding stays, saying so
MAX_FILES = 40
IRQ_DEPTH = 3  # call-chain levels looked up for a caller with interrupts off
ATOMIC_DEPTH = 4  # call-chain levels looked up for a caller in atomic context


class Held(StrEnum):
    HELD = "held"
    LACKS = "lacks"
    UNKNOWN = "unknown"
    IRQS_OFF = "irqs-off"  # an IrqsOff claim's site: called with interrupts off
    ATOMIC = "atomic"  # a Sleeps claim's site: called in atomic context


@dataclass(frozen=True, slots=True)
class Site:
    """The verdict at one call site: ``chain`` goes from this caller down (name, path, line)."""

    verdict: Held
    caller: str
    path: str
    line: int
    how: str
    chain: tuple[tuple[str, str, int], ...] = ()
    subs: tuple[Site, ...] = ()  # the verdicts at the caller's own callers, when looked up

    def where(self, here: str = "") -> str:
        """``caller() (path:line)``, or ``caller() (line N)`` in the file ``here``."""
        at = f"line {self.line}" if self.path == here else f"{self.path}:{self.line}"
        return f"{self.caller}() ({at})"


@dataclass(frozen=True, slots=True)
class Decided:
    """A finding the callers decided away: what is shown by ``--verbose`` and ``explain``."""

    rule: str
    function: str
    line: int
    text: str

    def to_json(self) -> dict:
        return {"rule": self.rule, "function": self.function, "line": self.line,
                "text": self.text}


class Contexts:
    def __init__(self, tables: Callable[[str, str], CallTable | None],
                 index: CallerIndex | None,
                 bodies: Callable[[str], FileBodies] | None = None,
                 model: LockModel | None = None):
        self.tables = tables
        self.index = index
        # the callers' text (analyzer.index.bodies), to skip analysing a caller's file for
        # a question its text already answers "no" to
        self.bodies = bodies
        self.model = model
        self._memo: dict[tuple, tuple[Site, ...]] = {}
        self._text_memo: dict[tuple[str, str, str, int], bool] = {}
        self._methods: dict[object, dict[str, tuple[tuple[str, str], ...]]] = {}

    # ------------------------------------------------------------ the call sites
    def _function(self, path: str, name: str) -> FunctionCalls | None:
        table = self.tables(path, name) or ()
        return next((f for f in table if f.name == name), None)

    def sites(self, path: str, name: str, need: Need, depth: int = 0,
              stack: frozenset[tuple[str, str]] = frozenset()) -> tuple[Site, ...]:
        """The verdict at every call site of ``name`` (defined in ``path``) in the tree."""
        key = (path, name, need.path, need.param, need.mode, need.cls, need.any_object)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = ()  # a cycle reached again reads as "no caller": unknown
        out = [self._judge(cf, g, s, need, depth, stack | {(path, name)})
               for cf, g, s in self._callers(path, name)]
        res = tuple(out)
        self._memo[key] = res
        return res

    def _calling_files(self, path: str, name: str) -> list[str]:
        fn = self._function(path, name)
        if fn is None or fn.static or self.index is None:
            return [path]
        return sorted(set(self.index.calling(name)) | {path})

    def entry(self, path: str, name: str) -> str | None:
        """What makes ``name`` (defined in ``path``) an entry point, read from its file's
        text: "is a system call", "is exported (EXPORT_SYMBOL_GPL)", "is an initcall",
        "is ->fault of struct vm_operations_struct"; None when nothing says so (its
        callers may be outside the indexed tree)."""
        if self.bodies is None:
            return None
        return entry_point(self.bodies(path).text, name, self._stored(path))

    def _stored(self, path: str) -> dict[str, tuple[tuple[str, str], ...]]:
        """The file's operations tables: function → the (struct, member) pairs storing it."""
        if self.bodies is None:
            return {}
        if path not in self._methods:
            self._methods[path] = assigned_methods(self.bodies(path).text)
        return self._methods[path]

    def crowded(self, path: str, name: str) -> int | None:
        """The number of files calling ``name``, when there are more than MAX_FILES."""
        n = len(self._calling_files(path, name))
        return n if n > MAX_FILES else None

    def _targets(self, path: str, name: str) -> list[tuple[str, str, str | None]]:
        """(file, callee key, struct) of every file where ``name`` (defined in ``path``)
        may be called: by its name, and through a member of each operations table of its
        file that stores it (``->flush`` read from a ``struct S``), when at most MAX_FILES
        files call through that member."""
        out: list[tuple[str, str, str | None]] = [
            (cf, name, None) for cf in self._calling_files(path, name)]
        if self.index is None:
            return out
        for struct, member in self._tables_of(path).get(name, ()):
            files = self.index.calling(member)
            if len(files) <= MAX_FILES:
                out += [(cf, METHOD + member, struct) for cf in files]
        return out

    def _tables_of(self, path: str) -> dict[str, tuple[tuple[str, str], ...]]:
        """The file's operations tables that store two of its functions or more: where a
        call through the member of a struct of that type reaches the function. A struct
        that carries one callback (``notifier_block``, a timer's, a work item's) is called
        by whatever code its object was given to: no edge."""
        if self.bodies is None:
            return {}
        key = ("ops", path)
        if key not in self._methods:
            fb = self.bodies(path)
            self._methods[key] = assigned_methods(fb.text, fb, least=2)
        return self._methods[key]

    def _callers(self, path: str, name: str,
                 keep: Callable[[str, str], bool] | None = None):
        """(file, calling function, site) of every call of ``name`` (defined in ``path``):
        by name, and through the members its file's operations tables store it in (at a
        site whose struct the types say is the table's). ``keep(file, key)``: the files
        worth reading."""
        for cf, key, struct in self._targets(path, name):
            if keep is not None and not keep(cf, key):
                continue
            table = self.tables(cf, key) or ()
            if struct is None and cf != path and any(f.name == name and f.static
                                                     for f in table):
                continue  # that file calls its own static function of the name
            for g in table:
                for s in g.sites:
                    if s.callee == key and (struct is None or s.struct == struct):
                        yield cf, g, s

    def claimed(self, path: str, name: str, claim: object) -> tuple[Site, ...]:
        """The call sites that make a claim (:data:`~analyzer.locks.calls.CLAIMS`) true."""
        if isinstance(claim, IrqsOff):
            return self.irqs_off(path, name)
        if isinstance(claim, Sleeps):
            return self.atomic(path, name)
        return ()

    def irqs_off(self, path: str, name: str) -> tuple[Site, ...]:
        """The call sites of ``name`` made with interrupts off: directly, or from a static
        helper that holds no lock at the call and is itself called so in its file (up to
        IRQ_DEPTH). A caller's file whose text turns interrupts off nowhere is not read."""
        return self._up(_IRQS_OFF, path, name)

    def atomic(self, path: str, name: str) -> tuple[Site, ...]:
        """The call sites of ``name`` made in atomic context (a spinning lock held, an
        atomic section open): directly, or from a static helper that holds no lock at the
        call and is itself called so (up to ATOMIC_DEPTH). A caller's file whose text does
        not hold a spinning lock or an open section at the call is not read."""
        return self._up(_ATOMIC, path, name)

    def _up(self, how: _Claim, path: str, name: str, depth: int = 0,
            stack: frozenset[tuple[str, str]] = frozenset()) -> tuple[Site, ...]:
        key = (how.verdict, path, name, depth)  # how far up depends on where it starts
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = ()
        if self.crowded(path, name) is not None:
            return ()  # an interface of the whole tree: its callers make their own findings
        out: list[Site] = []
        keep: Callable[[str, str], bool] | None
        if self.bodies is not None and self.model is not None:
            # only the files where a function calling it may make the claim true, as its
            # text shows (its call tables come from analysing the file)
            def keep(cf: str, key: str) -> bool:
                return self._may_call(how, cf, key, depth)
        else:
            keep = None
        for cf, g, s in self._callers(path, name, keep):
            here = (g.name, cf, s.line)
            why = how.site(s)
            if why:
                out.append(_through(s, Site(how.verdict, g.name, cf, s.line, why, (here,))))
            elif not s.locks and g.static and depth + 1 < how.depth \
                    and (cf, g.name) not in stack:
                subs = self._up(how, cf, g.name, depth + 1, stack | {(path, name)})
                if subs:
                    up = subs[0]
                    out.append(_through(s, Site(how.verdict, g.name, cf, s.line,
                                                f"called by {up.where()} {up.how}",
                                                (here, *up.chain), subs)))
        res = tuple(out)
        self._memo[key] = res
        return res

    def _may_call(self, how: _Claim, path: str, name: str, depth: int) -> bool:
        """Whether, read as text, a function of ``path`` calls ``name`` (or through the member
        ``->m``) and makes the claim true (takes a lock with interrupts off; holds a spinning
        lock or an atomic section open there), or takes no lock and may itself be called so
        from a function of the same file (a static helper's callers; a function called from
        across the tree with no lock of its own is not followed: its callers are
        everywhere)."""
        key = (how.verdict, path, name, depth)
        if key in self._text_memo:
            return self._text_memo[key]
        self._text_memo[key] = False  # a cycle: not shown
        assert self.bodies is not None and self.model is not None
        m = self.model
        fb = self.bodies(path)
        if not any(w + "(" in fb.text or w + " (" in fb.text for w in how.names(m)):
            return False  # nothing in the file makes it true by name
        found = False
        for g in fb:
            body = fb[g]
            if body.macro or g == name or not _calls(body, name):
                continue
            names = {c.name for c in body.calls}
            if how.makes(body, name, m, fb):
                found = True
            elif depth + 1 < how.depth and body.static and not any(
                    m.primitive(n) is not None or n in m.wrappers for n in names):
                found = self._may_call(how, path, g, depth + 1)
            if found:
                break
        self._text_memo[key] = found
        return found

    def _judge(self, path: str, g: FunctionCalls, site: CallSite, need: Need, depth: int,
               stack: frozenset[tuple[str, str]]) -> Site:
        return _through(site, self._judge_site(path, g, site, need, depth, stack))

    def _judge_site(self, path: str, g: FunctionCalls, site: CallSite, need: Need,
                    depth: int, stack: frozenset[tuple[str, str]]) -> Site:
        here = (g.name, path, site.line)
        mapped = need.at(site)
        if mapped is not None:
            exact = next((lk for lk in site.locks if lk.path == mapped), None)
            if exact is not None and exact.serves(need.mode):
                return Site(Held.HELD, g.name, path, site.line, f"holds {mapped}", (here,))
            if exact is not None and exact.not_held:
                return Site(Held.LACKS, g.name, path, site.line, f"{mapped} is not held",
                            (here,))
        same = next((lk for lk in site.locks
                     if lk.same_class(need.cls, need.path) and lk.serves(need.mode)
                     and not lk.vacuous), None)
        if same is not None:
            return Site(Held.HELD, g.name, path, site.line,
                        f"holds {same.path}" + (f" ({need.cls})" if need.cls else ""),
                        (here,))
        if depth + 1 >= MAX_DEPTH or (path, g.name) in stack:
            return Site(Held.UNKNOWN, g.name, path, site.line, "the chain goes on", (here,))
        if mapped is not None and mapped.version is None and not mapped.call_root \
                and (mapped.root in g.params or need.param is None):
            up = Need(g.name, mapped, g.params.index(mapped.root)
                      if mapped.root in g.params else None, need.cls, need.mode)
        else:
            # the caller passes its own object (a local, a lookup's result, an expression):
            # from here up, a lock of the class held at the call is what can be known
            up = Need(g.name, need.path, None, need.cls, need.mode, any_object=True)
        crowd = self.crowded(path, g.name)
        if crowd is not None:
            return Site(Held.UNKNOWN, g.name, path, site.line,
                        f"{g.name}() is called from {crowd} files", (here,))
        subs = self.sites(path, g.name, up, depth + 1, stack)
        if not subs:
            why = self.entry(path, g.name) or ("has no caller in the indexed tree"
                                               if not g.static else
                                               "is called only through a pointer")
            return Site(Held.UNKNOWN, g.name, path, site.line, f"{g.name}() {why}", (here,))
        lacking = [s for s in subs if s.verdict == Held.LACKS]
        if lacking:
            s = lacking[0]
            return Site(Held.LACKS, g.name, path, site.line, s.how, (here, *s.chain), subs)
        if all(s.verdict == Held.HELD for s in subs):
            return Site(Held.HELD, g.name, path, site.line, held_by_all(len(subs)),
                        (here,), subs)
        return Site(Held.UNKNOWN, g.name, path, site.line,
                    f"held by {sum(s.verdict == Held.HELD for s in subs)} of its "
                    f"{len(subs)} callers", (here,), subs)


def _through(call: CallSite, site: Site) -> Site:
    """The verdict at a call through a member says so: a pointer's call, found by the
    operations table that stores the function."""
    if not call.callee.startswith(METHOD):
        return site
    return replace(site, how=f"{site.how}, through {call.callee} of struct {call.struct}")


def _calls(body: Body, key: str) -> bool:
    """Whether a body's text calls ``key`` (a name, or ``->member``)."""
    if key.startswith(METHOD):
        return key[len(METHOD):] in body.methods
    return any(c.name == key for c in body.calls)


@dataclass(frozen=True)
class _Claim:
    """How a claim is made at a call site, and how far up its callers are looked for."""

    verdict: Held
    depth: int

    def site(self, s: CallSite) -> str:
        if self.verdict == Held.IRQS_OFF:
            return f"with {s.irqs_off}" if s.irqs_off else ""
        return s.atomic

    def names(self, m: LockModel) -> tuple[str, ...]:
        """Names whose call in a file's text may make the claim true there."""
        if self.verdict == Held.IRQS_OFF:
            return m.irq_off_suffixes
        return _atomic_names(m)

    def makes(self, body: Body, key: str, m: LockModel, fb: FileBodies) -> bool:
        """Whether the body's text may make the claim true at its call of ``key``."""
        names = {c.name for c in body.calls}
        if self.verdict == Held.IRQS_OFF:
            return any(n.endswith(m.irq_off_suffixes) for n in names)
        return _atomic_in_text(body, key, m, fb)


def _atomic_in_text(body: Body, key: str, m: LockModel, fb: FileBodies) -> bool:
    """Whether, read as text, a call of ``key`` may come with a spinning lock held or an
    atomic section open: one taken above it (on some path) and not given back on every
    path since (a release or exit that is a statement of the body's own block). A call
    through a member has no line in the text: any spinning acquire or section entry of the
    body counts, as does a scope guard."""
    enter = {n for sec in m.atomic for n in sec.enter}
    leave = {n for sec in m.atomic for n in sec.exit}
    if key.startswith(METHOD) or any(c.name in ("guard", "scoped_guard") for c in body.calls):
        return any(c.name in ("guard", "scoped_guard") or c.name in enter
                   or _spinning(m, c.name, fb) is not None for c in body.calls)
    # what is open, each at the brace depth it was opened at: a release that is a plain
    # statement at that depth or shallower runs on every path from the acquire on (the
    # early-exit unlock in an if does not, the one after the loop does)
    held: dict[str, int] = {}
    sections: list[int] = []
    for c in body.calls:
        if c.name == key and (held or sections):
            return True
        p = None if c.name in enter or c.name in leave else _spinning(m, c.name, fb)
        if c.name in enter:
            sections.append(c.depth)
        elif c.name in leave:
            if sections and c.plain and c.depth <= sections[-1]:
                sections.pop()
        elif p is not None:
            lock = (split_args(c.args)[:1] or [c.name])[0]
            if p.action == Action.RELEASE:
                if lock in held and c.plain and c.depth <= held[lock]:
                    del held[lock]
            elif p.action in (Action.ACQUIRE, Action.TRYLOCK, Action.COND_ACQUIRE):
                held.setdefault(lock, c.depth)
    return False


def _spinning(m: LockModel, name: str, fb: FileBodies | None = None,
              depth: int = 0) -> Primitive | None:
    """The spinning primitive ``name`` is, or for a helper of the same file (``fb``) whose
    text takes one (``lock_cluster()``), that acquire. A header's helper is not read here:
    a lock it takes does not make the text say "atomic" (the claim may be missed there)."""
    p = m.primitive(name)
    if p is not None:
        return p if p.kind.spins else None
    if fb is None or depth > 2 or name not in fb:
        return None
    for c in fb[name].calls:
        q = _spinning(m, c.name, fb, depth + 1)
        if q is not None and q.action != Action.RELEASE:
            return q
    return None


_IRQS_OFF = _Claim(Held.IRQS_OFF, IRQ_DEPTH)
_ATOMIC = _Claim(Held.ATOMIC, ATOMIC_DEPTH)


_ATOMIC_NAMES: dict[str, tuple[str, ...]] = {}  # model digest → its atomic names


def _atomic_names(m: LockModel) -> tuple[str, ...]:
    """The calls that make the context atomic: spinning acquires, section entries."""
    got = _ATOMIC_NAMES.get(m.digest)
    if got is None:
        out = {p.name for p in m.primitives.values()
               if p.kind.spins and p.action == Action.ACQUIRE}
        for sec in m.atomic:
            out |= sec.enter
        got = _ATOMIC_NAMES[m.digest] = tuple(sorted(out))
    return got


# --------------------------------------------------------------------------- entry points

_SYSCALL = re.compile(r"__(?:do|se)_(?:compat_)?sys_(\w+)$")
_EXPORT = r"\b(EXPORT_SYMBOL(?:_GPL|_NS|_NS_GPL)?)\s*\(\s*{name}\s*[,)]"
_INITCALL = (r"\b(?:\w+_initcall(?:_sync)?|module_init|module_exit|__setup)\s*\("
             r"\s*(?:[^,()]*,\s*)?{name}\s*\)")


def entry_point(text: str, name: str,
                methods: dict[str, tuple[tuple[str, str], ...]] | None = None) -> str | None:
    """Why a function with no caller in the tree is an entry point, from its file's text
    (``methods``: the file's operations tables, :func:`assigned_methods`, when read)."""
    m = _SYSCALL.match(name)
    if m and re.search(r"\b(?:COMPAT_)?SYSCALL_DEFINE\d\s*\(\s*" + m.group(1) + r"\b", text):
        return "is a system call"
    e = re.search(_EXPORT.format(name=re.escape(name)), text)
    if e:
        return f"is exported ({e.group(1)}): its callers may be modules"
    if re.search(_INITCALL.format(name=re.escape(name)), text):
        return "is an initcall"
    stored = (assigned_methods(text) if methods is None else methods).get(name)
    if stored:
        struct, member = stored[0]
        return f"is ->{member} of struct {struct} (called through it)"
    return None


# --------------------------------------------------------------------------- the findings


def held_by_all(n: int) -> str:
    """'held by all 3 callers', 'held by its caller'."""
    return "held by its caller" if n == 1 else f"held by all {n} callers"


def tree(sites, depth: int = 0) -> list[str]:
    """The verdicts as an indented tree, caller by caller (``explain``)."""
    out = []
    for s in sites:
        out.append(f"{'  ' * depth}{s.verdict}: {s.where()}: {s.how}")
        out.extend(tree(s.subs, depth + 1))
    return out


def _names(sites: list[Site], here: str = "") -> str:
    shown = ", ".join(s.where(here) for s in sites[:MAX_SHOWN])
    more = len(sites) - MAX_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _chain(s: Site, here: str = "") -> str:
    return " → ".join(f"{n}() ({f'line {ln}' if p == here else f'{p}:{ln}'})"
                      for n, p, ln in reversed(s.chain))


def decide(f: Finding, ctxs: Contexts) -> tuple[Finding | None, Decided | None]:
    """The finding as its callers decide it (None: decided away, with the Decided note)."""
    need = f.needs
    if isinstance(need, (IrqsOff, Sleeps)):
        return _claim(f, ctxs), None
    if not isinstance(need, Need):
        return f, None
    crowd = ctxs.crowded(f.path, f.function)
    if crowd is not None:
        return replace(f, message=f.message + f"; called from {crowd} files (more than "
                       f"{MAX_FILES}: not decided at its callers)"), None
    sites = list(ctxs.sites(f.path, f.function, need))
    if not sites:
        why = ctxs.entry(f.path, f.function)
        return replace(f, message=f.message + (f"; unknown at entry: {f.function}() {why}"
                                               if why else "; no caller in the indexed tree "
                                               "(an entry point, a pointer's target, or "
                                               "callers outside it)")), None
    lock = need.path.render()
    held = [s for s in sites if s.verdict == Held.HELD]
    lacks = [s for s in sites if s.verdict == Held.LACKS]
    n = len(sites)
    if f.rule == "lock-dropped-in-loop":
        if len(held) == n:
            return _reworded(f, "safe", Severity.NOTE, _related(held), protector=lock,
                             how=f"{held_by_all(n)} ({_names(held, f.path)})"), None
        return replace(f, message=f.message + f"; {lock} {_tally(held, sites, f.path)}"), None
    if len(held) == n:
        text = f"{f.message.split(': ', 1)[0]}: {lock} {held_by_all(n)} " \
               f"({_names(held, f.path)})"
        return None, Decided(f.rule, f.function, f.line, text)
    if lacks:
        s = lacks[0]
        callers = f"not held at its caller {s.where(f.path)}: {s.how} (call chain: " \
                  f"{_chain(s, f.path)} → {f.function}())"
        if len(lacks) > 1:
            callers += f"; {len(lacks) - 1} more callers lack it"
        return _reworded(f, "caller-lacks", Severity.ERROR, _related(lacks),
                         callers=callers), None
    return replace(f, message=f.message + f"; {_tally(held, sites, f.path)}"), None


def _claim(f: Finding, ctxs: Contexts) -> Finding | None:
    """A claim (``IrqsOff``, ``Sleeps``) at the callers that make it: None when none
    does."""
    bad = list(ctxs.claimed(f.path, f.function, f.needs))
    if not bad:
        return None
    s = bad[0]
    top = s
    while top.subs:  # the caller at the top of the chain, where the claim is made
        top = top.subs[0]
    if top is s:
        callers = f"{s.where(f.path)} calls it {s.how}"
    else:
        callers = f"{top.where(f.path)} reaches it {top.how} (call chain: " \
                  f"{_chain(s, f.path)} → {f.function}())"
    if len(bad) > 1:
        callers += f"; so do {_names(bad[1:], f.path)}"
    return _reworded(f, "caller", f.severity, _related(bad), callers=callers)


def _reworded(f: Finding, kind: str, severity: Severity, related: tuple[Related, ...],
              **extra: str) -> Finding:
    """The finding as another kind of its rule, worded by the rule's own message."""
    args = {**dict(f.args), **extra}
    text = _messages()[f.rule][kind].format(**args)
    return replace(f, severity=severity, kind=kind, message=text,
                   args=tuple(sorted(args.items())), related=f.related + related)


@cache
def _messages() -> dict[str, dict[str, str]]:
    from ..checks import load_checks  # the rules import the lock model; load them late

    return {m.RULE.id: dict(m.RULE.messages) for m in load_checks()}


def _tally(held: list[Site], sites: list[Site], here: str) -> str:
    unknown = [s for s in sites if s.verdict == Held.UNKNOWN]
    parts = [f"held by {len(held)} of {len(sites)} callers"
             + (f" ({_names(held, here)})" if held else "")]
    if unknown:
        u = unknown[0]
        parts.append(f"unknown at {_names(unknown, here)}: {u.how}" if len(unknown) == 1
                     else f"unknown at {_names(unknown, here)} (first: {u.how})")
    return "; ".join(parts)


def _related(sites: list[Site]) -> tuple[Related, ...]:
    return tuple(Related(s.path, s.line, f"caller {s.caller}(): {s.how}")
                 for s in sites[:MAX_SHOWN])
