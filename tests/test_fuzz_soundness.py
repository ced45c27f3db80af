"""Soundness by fuzzing: the lock-state dataflow against a brute-force oracle.

Hypothesis generates small kernel-style C functions — nested if/else on opaque conditions,
``while``/``do``/``for`` loops and ``list_for_each_entry``, ``switch`` with fall-through,
``goto`` error paths to labels at the end, early returns, ``break``/``continue``, and
lock/unlock/trylock of three locks (a spinlock, a mutex, an rwsem) in random places, also
through ``guard()`` and ``scoped_guard()``, a local alias of a lock's owner, ``while (1)``
and ``do { } while (0)``; and up to two static helpers (void, or bool returning a trylock's
outcome) that it calls as statements and in conditions, so the helpers' summaries and the
entry states helpers get from their callers are tested too. A second generator builds call
chains: ``fuzz() -> helper0() -> helper1() -> helper2()`` (each helper may also call the ones
after it), spread over two or three files of ``mm/`` (the folder whose functions are
summarised when another file calls them), so the state after a call is a summary of
summaries across files. A ``probe(N);`` call stands before every statement and at the end of
every block, helpers included (those of other files are not compared: analysed there, they
start with every lock unknown).

The function goes through the real pipeline (``Project.analyse_file``: rewrite, tree-sitter,
CFG, ``analyzer.locks.dataflow``), and the state before each probe is compared with an oracle written
here, independently of ``analyzer.locks`` *and* of ``analyzer.flow``: it runs over the generated syntax
tree, not over a CFG, and carries sets of *concrete* states (each lock exactly ``U``ntouched,
``N``ot held, held for ``R``ead or ``W``rite), i.e. every path at once. Loops are iterated
until no new concrete state appears (with three locks there are at most 4³ states: in
practice that is 0 to 2 unrollings); opaque conditions are independent, so every branch is
feasible. Per lock, the dataflow's set of possible values must then be exactly the set of
values the paths give: fewer is unsound (a must-held that is not, a may-held missed), more is
a precision loss — on these programs (no pointers tested, per-lock transfer functions that
are constants or the identity) the dataflow is exact, so both are bugs. Exceptions, each
explained in ``loose_locks``: a trylock outcome kept in a variable (path-insensitive by
design: sound only), what summaries do by design (a many-path helper's join, a helper
that takes a lock its caller holds), and the known summary bugs (``KNOWN_BUGS``, strict
xfail fixtures; none today).

A lock the dataflow does not list is ``U`` (the function starts with every lock unknown).

Regression fixtures: ``corpus/fuzz/*.c`` — each holds the generated tree as JSON in its first
comment, so the oracle can be rerun on it; the C below that comment is the rendering
(``fixture_text(prog, note)`` writes one from a failing example's tree).
CI runs a fixed (derandomized) set of examples; ``RMAPLINT_FUZZ_EXAMPLES=N`` runs N instead,
and ``RMAPLINT_FUZZ_SEED=S`` other ones (a campaign).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from analyzer.syntax import tree as C
from analyzer.driver.project import Project
from analyzer.model.lockmodel import load
from analyzer.source.reader import TreeSource

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "corpus" / "fuzz"
EXAMPLES = int(os.environ.get("RMAPLINT_FUZZ_EXAMPLES", "1500"))
CHAIN_EXAMPLES = max(EXAMPLES // 3, 1)  # each builds a tree and a project of its own
SEED = os.environ.get("RMAPLINT_FUZZ_SEED")  # a campaign off CI: other examples than CI's

# --------------------------------------------------------------------------- the locks

LOCKS = ("a", "b", "c")
KEY = {"a": "a->lock", "b": "b->m", "c": "c->sem"}

# api -> (lock, action, value): action acquire/release/try; value R/W (acquire and try);
# for try: which result means acquired ("nonzero" | "zero")
APIS: dict[str, tuple[str, str, str, str]] = {
    "spin_lock": ("a", "acquire", "W", ""),
    "spin_lock_irq": ("a", "acquire", "W", ""),
    "spin_lock_irqsave": ("a", "acquire", "W", ""),
    "spin_unlock": ("a", "release", "N", ""),
    "spin_unlock_irq": ("a", "release", "N", ""),
    "spin_unlock_irqrestore": ("a", "release", "N", ""),
    "spin_trylock": ("a", "try", "W", "nonzero"),
    "mutex_lock": ("b", "acquire", "W", ""),
    "mutex_unlock": ("b", "release", "N", ""),
    "mutex_trylock": ("b", "try", "W", "nonzero"),
    "mutex_lock_interruptible": ("b", "try", "W", "zero"),
    "down_read": ("c", "acquire", "R", ""),
    "down_write": ("c", "acquire", "W", ""),
    "up_read": ("c", "release", "N", ""),
    "up_write": ("c", "release", "N", ""),
    "down_read_trylock": ("c", "try", "R", "nonzero"),
    "down_write_trylock": ("c", "try", "W", "nonzero"),
    "down_write_killable": ("c", "try", "W", "zero"),
}
PLAIN_APIS = sorted(a for a, v in APIS.items() if v[1] != "try")
TRY_APIS = sorted(a for a, v in APIS.items() if v[1] == "try")
# guard class -> (lock, value taken)
GUARDS = {"spinlock": ("a", "W"), "spinlock_irq": ("a", "W"), "mutex": ("b", "W"),
          "rwsem_read": ("c", "R"), "rwsem_write": ("c", "W")}


# in the helpers (static functions the generated function calls), the same locks are named
# through their parameters x, y, z
HKEY = {"a": "x->lock", "b": "y->m", "c": "z->sem"}
ALIAS_KEY = "p->lock"  # p: a local alias of a (struct foo *p = a;)


def lock_arg(api: str, keys: dict[str, str] = KEY, alias: bool = False) -> str:
    lock = APIS[api][0]
    extra = ", flags" if api in ("spin_lock_irqsave", "spin_unlock_irqrestore") else ""
    return f"&{ALIAS_KEY if alias and lock == 'a' else keys[lock]}{extra}"


# --------------------------------------------------------------------------- the generator
# Nodes are JSON-able lists, so a fixture can carry its tree:
#   ["op", api]                      a lock call as a statement (a trylock's result ignored)
#   ["probe", k]                     probe(k);
#   ["work"]                         ret = do_work(n);  (no lock effect)
#   ["if", cond, then, else|None]    cond: ["opaque", k] | ["try", api, negated, wrapper]
#   ["while", cond, body] ["do", body, cond] ["for", body] ["foreach", body]
#   ["switch", k, [[value|None, stmts], ...]]
#   ["block", body]  ["guard", cls]  ["scoped", cls, body]
#   ["break"] ["continue"] ["goto", label] ["return"]
#   ["call", i]                      helper i called as a statement
#   ["tryvar", api, negated, then, else|None]   ret = api(...); if ([!]ret) ... else ...
#   ops may carry a third element, true: the lock named through the alias p of a
#   conditions also: ["const", 0|1], ["call", i, negated] (helper i returns a trylock's value)
# A program: {"helpers": [{"ret": "void"|"bool", "body": [...], "try": api|None}],
# "body": [...], "epilogue": [[label, [stmts]], ...]}; the function returns ret after the
# epilogue. Helpers are static functions helper0, helper1, ... (x, y, z) defined before it.

LABELS = ("out_unlock", "out_free", "out")
JUMPS = ("return", "goto", "break", "continue")


@st.composite
def conditions(draw, loop: bool = False, bool_helpers: tuple[int, ...] = ()):
    if bool_helpers and draw(st.integers(0, 4)) == 0:
        return ["call", draw(st.sampled_from(bool_helpers)), draw(st.booleans())]
    if draw(st.integers(0, 9)) < (3 if loop else 4):
        api = draw(st.sampled_from(TRY_APIS))
        return ["try", api, draw(st.booleans()),
                draw(st.sampled_from([None, None, "likely", "unlikely"]))]
    return ["opaque", draw(st.integers(1, 9))]


class _Gen:
    def __init__(self, draw, size: int, helpers: list[dict] | None = None,
                 in_helper: bool = False, returns: bool = True,
                 callees: tuple[int, ...] | None = None):
        self.draw = draw
        self.returns = returns  # early returns (not in a bool helper: it ends on its try)
        self.left = size  # statements still to generate
        self.helpers = helpers or []
        self.in_helper = in_helper
        # the helpers it may call (the function: all; a helper of a chain: those after it)
        self.callees = tuple(range(len(self.helpers))) if callees is None else callees
        self.bool_helpers = tuple(i for i in self.callees if self.helpers[i]["ret"] == "bool")

    def cond(self, loop: bool = False):
        return self.draw(conditions(loop=loop, bool_helpers=self.bool_helpers))

    def op(self, apis):
        api = self.draw(st.sampled_from(apis))
        if not self.in_helper and APIS[api][0] == "a" and self.draw(st.integers(0, 3)) == 0:
            return ["op", api, True]
        return ["op", api]

    def stmts(self, depth: int, loop: bool, brk: bool, nested: bool) -> list:
        """A statement list. ``loop``: continue allowed; ``brk``: break allowed; ``nested``:
        inside a compound other than the function body (guard() allowed)."""
        out = []
        n = self.draw(st.integers(0 if depth else 1, 5))
        for _ in range(n):
            if self.left <= 0:
                break
            self.left -= 1
            out.append(self.stmt(depth, loop, brk, nested))
            if out[-1][0] in JUMPS and self.draw(st.integers(0, 3)):
                break  # mostly, a jump ends its block (what follows would be dead code)
        return out

    def stmt(self, depth: int, loop: bool, brk: bool, nested: bool) -> list:
        d = self.draw
        kinds = ["op", "op", "op", "op", "work"] + (["return"] if self.returns else [])
        if not self.in_helper:
            kinds.append("goto")
        kinds += ["call", "call"] if self.callees else []
        if depth < 2:
            kinds.append("tryvar")
        if depth < 3:
            kinds += ["if", "if", "while", "do", "for", "foreach", "switch", "block", "scoped"]
        if loop:
            kinds.append("continue")
        if brk:
            kinds.append("break")
        if nested:
            kinds += ["guard", "guard"]
        k = d(st.sampled_from(kinds))
        if k == "op":
            return self.op(PLAIN_APIS + TRY_APIS[:3])
        if k == "call":
            return ["call", d(st.sampled_from(self.callees))]
        if k == "tryvar":
            then = self.stmts(depth + 1, loop, brk, True)
            other = self.stmts(depth + 1, loop, brk, True) if d(st.booleans()) else None
            return ["tryvar", d(st.sampled_from(TRY_APIS)), d(st.booleans()), then, other]
        if k in ("work", "return", "break", "continue"):
            return [k]
        if k == "goto":
            return ["goto", d(st.sampled_from(LABELS))]
        if k == "guard":
            return ["guard", d(st.sampled_from(sorted(GUARDS)))]
        if k == "if" and d(st.integers(0, 3)) == 0:
            simple = d(st.sampled_from(["op", "work"] + (["return"] if self.returns else [])
                                       + ([] if self.in_helper else ["goto"])
                                       + (["break"] if brk else [])
                                       + (["continue"] if loop else [])))
            if simple == "op":
                inner = self.op(PLAIN_APIS)
            elif simple == "goto":
                inner = ["goto", d(st.sampled_from(LABELS))]
            else:
                inner = [simple]
            return ["if1", self.cond(), inner]
        if k == "if":
            cond = self.cond()
            then = self.stmts(depth + 1, loop, brk, True)
            other = self.stmts(depth + 1, loop, brk, True) if d(st.booleans()) else None
            return ["if", cond, then, other]
        if k == "while":
            cond = ["const", 1] if d(st.integers(0, 5)) == 0 else self.cond(loop=True)
            return ["while", cond, self.stmts(depth + 1, True, True, True)]
        if k == "do":
            body = self.stmts(depth + 1, True, True, True)
            return ["do", body, ["const", 0] if d(st.integers(0, 3)) == 0
                    else self.cond(loop=True)]
        if k in ("for", "foreach"):
            return [k, self.stmts(depth + 1, True, True, True)]
        if k == "switch":
            values = d(st.lists(st.sampled_from([0, 1, 2, None]), min_size=1, max_size=3,
                                unique=True))
            cases = [[v, self.stmts(depth + 1, loop, True, False)] for v in values]
            return ["switch", d(st.integers(1, 9)), cases]
        if k == "block":
            return ["block", self.stmts(depth + 1, loop, brk, True)]
        # scoped_guard is a one-shot for loop: break and continue leave it
        return ["scoped", d(st.sampled_from(sorted(GUARDS))),
                self.stmts(depth + 1, True, True, True)]


@st.composite
def programs(draw):
    helpers = []
    for _ in range(draw(st.integers(0, 2))):
        ret = draw(st.sampled_from(["void", "bool"]))
        hgen = _Gen(draw, draw(st.integers(1, 12)), in_helper=True, returns=ret == "void")
        hbody = hgen.stmts(1, False, False, False)  # depth 1: at least no empty body rule
        helpers.append({"ret": ret, "body": hbody,
                        "try": draw(st.sampled_from(TRY_APIS)) if ret == "bool" else None})
    gen = _Gen(draw, draw(st.integers(3, 24)), helpers)
    body = gen.stmts(0, False, False, False)
    return _with_epilogue(draw, helpers, body)


def _with_epilogue(draw, helpers: list[dict], body: list) -> dict:
    """The program: its labels at the end (each with a few unlocks), gotos retargeted to
    them, probes everywhere."""
    labels = [lab for lab in LABELS if draw(st.booleans())] or ["out"]
    epilogue = [[lab, [["op", draw(st.sampled_from(PLAIN_APIS))]
                       for _ in range(draw(st.integers(0, 2)))]] for lab in labels]
    prog = {"helpers": helpers, "body": body, "epilogue": epilogue}
    _retarget(prog, labels)
    return with_probes(prog)


CHAIN = 3  # helpers in a chain: fuzz() -> helper0() -> helper1() -> helper2()


@st.composite
def chain_programs(draw):
    """A function calling a chain of three helpers, each calling the next (and maybe the
    ones after it), spread over two or three files: helpers of the function's own file are
    static, the others are defined in other files of ``mm/`` (the folder whose functions are
    summarised when another file calls them) and declared where called.
    Each link of the chain is called at least once (a statement, or a bool helper's result
    tested)."""
    files = [0] * CHAIN
    first_far = draw(st.integers(0, CHAIN - 1))
    third = draw(st.sampled_from([None] + list(range(first_far + 1, CHAIN))))
    for i in range(first_far, CHAIN):
        files[i] = 2 if third is not None and i >= third else 1
    helpers: list[dict] = [{} for _ in range(CHAIN)]
    for i in reversed(range(CHAIN)):  # a helper's callees exist when it is generated
        ret = draw(st.sampled_from(["void", "bool"]))
        hgen = _Gen(draw, draw(st.integers(1, 8)), helpers, in_helper=True,
                    returns=ret == "void", callees=tuple(range(i + 1, CHAIN)))
        hbody = hgen.stmts(1, False, False, False)
        if i + 1 < CHAIN:
            hbody.insert(draw(st.integers(0, len(hbody))), _link(draw, helpers, i + 1))
        helpers[i] = {"ret": ret, "body": hbody, "file": files[i],
                      "try": draw(st.sampled_from(TRY_APIS)) if ret == "bool" else None}
    gen = _Gen(draw, draw(st.integers(2, 12)), helpers, callees=tuple(range(CHAIN)))
    body = gen.stmts(0, False, False, False)
    body.insert(draw(st.integers(0, len(body))), _link(draw, helpers, 0))
    return _with_epilogue(draw, helpers, body)


def _link(draw, helpers: list[dict], i: int) -> list:
    """A call of helper i as a statement, or (a bool helper) with its result tested."""
    if helpers[i]["ret"] == "bool" and draw(st.booleans()):
        return ["if", ["call", i, draw(st.booleans())], [["work"]], None]
    return ["call", i]


def _retarget(prog: dict, labels: list[str]) -> None:
    """Gotos to labels the epilogue does not have go to its last label."""

    def walk(stmts):
        for s in stmts:
            if s[0] == "goto" and s[1] not in labels:
                s[1] = labels[-1]
            for child in _children(s):
                walk(child)

    walk(prog["body"])


def _children(s: list) -> list[list]:
    k = s[0]
    if k == "if":
        return [s[2]] + ([s[3]] if s[3] is not None else [])
    if k == "if1":
        return [[s[2]]]
    if k == "tryvar":
        return [s[3]] + ([s[4]] if s[4] is not None else [])
    if k in ("while", "scoped"):
        return [s[2]]
    if k in ("do", "for", "foreach", "block"):
        return [s[1]]
    if k == "switch":
        return [c[1] for c in s[2]]
    return []


def with_probes(prog: dict) -> dict:
    """A probe before every statement and at the end of every list, numbered in order."""
    counter = [0]

    def probe():
        counter[0] += 1
        return ["probe", counter[0]]

    def walk(stmts: list) -> list:
        out = []
        for s in stmts:
            out.append(probe())
            s = [x for x in s]
            k = s[0]
            if k == "if":
                s[2] = walk(s[2])
                if s[3] is not None:
                    s[3] = walk(s[3])
            elif k == "tryvar":
                s[3] = walk(s[3])
                if s[4] is not None:
                    s[4] = walk(s[4])
            elif k in ("while", "scoped"):
                s[2] = walk(s[2])
            elif k in ("do", "for", "foreach", "block"):
                s[1] = walk(s[1])
            elif k == "switch":
                s[2] = [[v, walk(b)] for v, b in s[2]]
            out.append(s)
        return out + [probe()]

    helpers = [dict(h, body=walk(h["body"])) for h in prog.get("helpers", [])]
    body = walk(prog["body"])
    epilogue = [[lab, walk(stmts)] for lab, stmts in prog["epilogue"]]
    return {"helpers": helpers, "body": body, "epilogue": epilogue}


# --------------------------------------------------------------------------- rendering


FAR_FILES = {1: "mm/fuzz_chain.c", 2: "mm/fuzz_chain_more.c"}  # engine.toml summary_dirs
HELPER_PARAMS = "(struct foo *x, struct bar *y, struct baz *z)"


def _render_helpers(out: list[str], helpers: list[dict], file: int) -> None:
    """The helpers defined in ``file`` (0: the function's own), after the prototypes of
    the other files' helpers that they call."""
    mine = [i for i, h in enumerate(helpers) if h.get("file", 0) == file]
    called = {j for i in mine for j in _calls(helpers[i]["body"])}
    if file == 0:
        called |= set(range(len(helpers)))  # the function may call any
    for j in sorted(called):
        if helpers[j].get("file", 0) != file:
            out += [f"{helpers[j]['ret']} helper{j}{HELPER_PARAMS};", ""]
    for idx in mine:
        h = helpers[idx]
        static = "static " if file == 0 else ""
        out += [f"{static}{h['ret']} helper{idx}{HELPER_PARAMS}",
                "{", "\tint ret = 0;", "\tunsigned long flags;", "\tstruct item *pos;",
                "\tint i;", "\tint n = 8;", ""]
        _render_body(out, h["body"], HKEY, "x", in_helper=True)
        if h["ret"] == "bool":
            out.append(f"\treturn {h['try']}({lock_arg(h['try'], HKEY)});")
        out += ["}", ""]


def _calls(stmts) -> set[int]:
    """The helpers a statement list calls (as statements or in conditions)."""
    out: set[int] = set()
    for s in stmts:
        if s[0] == "call":
            out.add(s[1])
        cond = s[1] if s[0] in ("if", "if1", "while") else s[2] if s[0] == "do" else None
        if isinstance(cond, list) and cond and cond[0] == "call":
            out.add(cond[1])
        for child in _children(s):
            out |= _calls(child)
    return out


def render_far(prog: dict) -> dict[str, str]:
    """The other files of a chain program: path -> text."""
    out = {}
    for file in sorted({h.get("file", 0) for h in prog.get("helpers", [])} - {0}):
        lines: list[str] = []
        _render_helpers(lines, prog["helpers"], file)
        out[FAR_FILES[file]] = "\n".join(lines)
    return out


def render(prog: dict) -> str:
    out: list[str] = []
    _render_helpers(out, prog.get("helpers", []), 0)
    out += ["int fuzz(struct foo *a, struct bar *b, struct baz *c, int n)", "{",
            "\tint ret = 0;", "\tunsigned long flags;", "\tstruct item *pos;", "\tint i;",
            "\tstruct foo *p = a;", ""]
    _render_body(out, prog["body"], KEY, "a")
    for lab, stmts in prog["epilogue"]:
        out.append(f"{lab}:")
        _render_body(out, stmts, KEY, "a")
    out += ["\treturn ret;", "}", ""]
    return "\n".join(out)


def _render_body(out: list[str], stmts, keys: dict[str, str], first: str,
                 in_helper: bool = False) -> None:
    args = "x, y, z" if in_helper else "a, b, c"

    def cond_text(cond) -> str:
        if cond[0] == "opaque":
            return f"cond{cond[1]}()"
        if cond[0] == "const":
            return str(cond[1])
        if cond[0] == "call":
            return f"{'!' if cond[2] else ''}helper{cond[1]}({args})"
        _, api, negated, wrapper = cond
        text = f"{'!' if negated else ''}{api}({lock_arg(api, keys)})"
        return f"{wrapper}({text})" if wrapper else text

    def block(stmts, ind: int) -> None:
        for s in stmts:
            stmt(s, ind)

    def braced(head: str, stmts, ind: int, tail: str = "") -> None:
        t = "\t" * ind
        out.append(f"{t}{head}{' ' if head else ''}{{")
        block(stmts, ind + 1)
        out.append(f"{t}}}{tail}")

    def if_else(head: str, then, other, ind: int) -> None:
        braced(head, then, ind)
        if other is not None:
            out[-1] += " else {"
            block(other, ind + 1)
            out.append("\t" * ind + "}")

    def stmt(s, ind: int) -> None:
        t = "\t" * ind
        k = s[0]
        if k == "op":
            out.append(f"{t}{s[1]}({lock_arg(s[1], keys, len(s) > 2 and s[2])});")
        elif k == "probe":
            out.append(f"{t}probe({s[1]});")
        elif k == "work":
            out.append(f"{t}ret = do_work(n);")
        elif k in ("break", "continue"):
            out.append(f"{t}{k};")
        elif k == "return":
            out.append(f"{t}return;" if in_helper else f"{t}return -EINVAL;")
        elif k == "goto":
            out.append(f"{t}goto {s[1]};")
        elif k == "call":
            out.append(f"{t}helper{s[1]}({args});")
        elif k == "guard":
            out.append(f"{t}guard({s[1]})(&{keys[GUARDS[s[1]][0]]});")
        elif k == "if":
            if_else(f"if ({cond_text(s[1])})", s[2], s[3], ind)
        elif k == "tryvar":
            _, api, negated, then, other = s
            out.append(f"{t}ret = {api}({lock_arg(api, keys)});")
            if_else(f"if ({'!' if negated else ''}ret)", then, other, ind)
        elif k == "if1":  # unbraced, one simple statement
            out.append(f"{t}if ({cond_text(s[1])})")
            stmt(s[2], ind + 1)
        elif k == "while":
            braced(f"while ({cond_text(s[1])})", s[2], ind)
        elif k == "do":
            braced("do", s[1], ind, f" while ({cond_text(s[2])});")
        elif k == "for":
            braced("for (i = 0; i < n; i++)", s[1], ind)
        elif k == "foreach":
            braced(f"list_for_each_entry(pos, &{first}->items, node)", s[1], ind)
        elif k == "block":
            braced("", s[1], ind)
        elif k == "scoped":
            braced(f"scoped_guard({s[1]}, &{keys[GUARDS[s[1]][0]]})", s[2], ind)
        elif k == "switch":
            out.append(f"{t}switch (cond{s[1]}()) {{")
            for value, stmts in s[2]:
                out.append(f"{t}{'default' if value is None else f'case {value}'}:")
                block(stmts, ind + 1)
            out.append(f"{t}}}")
        else:
            raise ValueError(s)

    block(stmts, 1)


# --------------------------------------------------------------------------- the oracle
# A concrete state: a tuple of values for a, b, c. The oracle carries sets of them.

State = tuple[str, ...]
IDX = {lock: i for i, lock in enumerate(LOCKS)}


def _set(s: State, lock: str, value: str) -> State:
    out = list(s)
    out[IDX[lock]] = value
    return tuple(out)


class Out:
    """The states leaving a statement, by how they leave."""

    def __init__(self, nxt=()):
        self.next: set[State] = set(nxt)
        self.brk: set[State] = set()
        self.cont: set[State] = set()
        self.ret: set[State] = set()
        self.goto: dict[str, set[State]] = defaultdict(set)

    def jumps(self, other: "Out") -> None:
        """Add other's non-fall-through exits."""
        self.brk |= other.brk
        self.cont |= other.cont
        self.ret |= other.ret
        for k, v in other.goto.items():
            self.goto[k] |= v


class Oracle:
    def __init__(self):
        self.probes: dict[int, set[State]] = defaultdict(set)
        self.exit: set[State] = set()

    def run(self, prog: dict) -> "Oracle":
        entry = {tuple("U" for _ in LOCKS)}
        self.helpers = prog.get("helpers", [])
        self.called: set[int] = set()
        self.entries: dict[int, set[State]] = defaultdict(set)  # states at calls of helper i
        self.noreturn = False
        out = self.block(prog["body"], entry, scope=False)
        states = set(out.next)
        for lab, stmts in prog["epilogue"]:
            states |= out.goto.get(lab, set())
            o = self.block(stmts, states, scope=False)
            assert not (o.brk or o.cont or o.goto or o.ret)
            states = o.next
        self.exit = states | out.ret
        assert not out.brk and not out.cont
        self.uncalled_probes: set[int] = set()
        for i in range(len(self.helpers)):
            if i not in self.called and not self.helpers[i].get("file"):
                # a static helper nobody calls is analysed on its own: every lock unknown
                before = set(self.probes)
                self.call(i, entry)
                self.uncalled_probes |= set(self.probes) - before
        return self

    def call(self, i: int, states: set[State]) -> tuple[set[State], set[State]]:
        """Run helper i: (states where it returns true, where false); a void helper
        returns its exit states as both."""
        if states:
            self.called.add(i)
        self.entries[i] |= states
        h = self.helpers[i]
        out = self.block(h["body"], states, scope=False)
        assert not (out.brk or out.cont or out.goto)
        done = out.next | out.ret
        if states and not done:
            self.noreturn = True  # a helper that never returns, on every path into it
        if h["ret"] == "bool":
            return self.branch(["try", h["try"], False, None], done)
        return done, done

    def block(self, stmts, states: set[State], scope: bool = True) -> Out:
        """A statement list; with ``scope``, a compound whose guard()s end with it."""
        guards: list[str] = []  # locks taken by guard() so far in this compound, in order
        res = Out()

        def release(ss: set[State], held: list[str]) -> set[State]:
            for lock in reversed(held):
                ss = {_set(s, lock, "N") for s in ss}
            return ss

        for s in stmts:
            o = self.stmt(s, states)
            if guards:
                o.brk, o.cont, o.ret = (release(o.brk, guards), release(o.cont, guards),
                                        release(o.ret, guards))
                for lab in o.goto:
                    o.goto[lab] = release(o.goto[lab], guards)
            res.jumps(o)
            states = o.next
            if s[0] == "guard":
                assert scope
                guards.append(GUARDS[s[1]][0])
        res.next = release(states, guards)
        return res

    def branch(self, cond, states: set[State]) -> tuple[set[State], set[State]]:
        """(states where cond is true, states where it is false)."""
        if cond[0] == "opaque":
            return set(states), set(states)
        if cond[0] == "const":
            return (set(states), set()) if cond[1] else (set(), set(states))
        if cond[0] == "call":
            t, f = self.call(cond[1], states)
            return (f, t) if cond[2] else (t, f)
        _, api, negated, _ = cond
        lock, _, value, success = APIS[api]
        got = {_set(s, lock, value) for s in states}
        t, f = (got, set(states)) if success == "nonzero" else (set(states), got)
        return (f, t) if negated else (t, f)

    def stmt(self, s, states: set[State]) -> Out:
        k = s[0]
        if not states:
            return Out()
        if k == "probe":
            self.probes[s[1]] |= states
            return Out(states)
        if k == "op":
            lock, action, value, _ = APIS[s[1]]
            if action == "try":  # the result is ignored: both outcomes
                return Out(states | {_set(x, lock, value) for x in states})
            return Out({_set(x, lock, value) for x in states})
        if k == "work":
            return Out(states)
        if k == "call":
            t, f = self.call(s[1], states)
            return Out(t | f)  # a bool helper's result ignored: either outcome
        if k == "tryvar":  # ret = api(...); if ([!]ret): the branch is the outcome
            return self.stmt(["if", ["try", s[1], s[2], None], s[3], s[4]], states)
        if k == "guard":
            lock, value = GUARDS[s[1]]
            return Out({_set(x, lock, value) for x in states})
        if k in ("break", "continue", "return"):
            o = Out()
            {"break": o.brk, "continue": o.cont, "return": o.ret}[k].update(states)
            return o
        if k == "goto":
            o = Out()
            o.goto[s[1]] |= states
            return o
        if k == "if":
            t, f = self.branch(s[1], states)
            o1 = self.block(s[2], t)
            o = Out(o1.next)
            o.jumps(o1)
            if s[3] is not None:
                o2 = self.block(s[3], f)
                o.next |= o2.next
                o.jumps(o2)
            else:
                o.next |= f
            return o
        if k == "if1":
            t, f = self.branch(s[1], states)
            o = self.stmt(s[2], t)
            o.next |= f
            return o
        if k == "block":
            return self.block(s[1], states)
        if k == "scoped":
            lock, value = GUARDS[s[1]]
            inner = self.block(s[2], {_set(x, lock, value) for x in states})

            def rel(ss):
                return {_set(x, lock, "N") for x in ss}

            o = Out(rel(inner.next | inner.brk | inner.cont))  # a one-shot for loop
            o.ret = rel(inner.ret)
            for lab, v in inner.goto.items():
                o.goto[lab] = rel(v)
            return o
        if k in ("while", "for", "foreach"):
            cond = s[1] if k == "while" else ["opaque", 0]
            body = s[2] if k == "while" else s[1]
            header = set(states)
            while True:
                t, f = self.branch(cond, header)
                inner = self.block(body, t)
                new = header | inner.next | inner.cont
                if new == header:
                    break
                header = new
            o = Out(f | inner.brk)
            o.ret = inner.ret
            o.goto = inner.goto
            return o
        if k == "do":
            body, cond = s[1], s[2]
            entry = set(states)
            while True:
                inner = self.block(body, entry)
                t, f = self.branch(cond, inner.next | inner.cont)
                new = entry | t
                if new == entry:
                    break
                entry = new
            o = Out(f | inner.brk)
            o.ret = inner.ret
            o.goto = inner.goto
            return o
        if k == "switch":
            cases = s[2]
            o = Out()
            fall: set[State] = set()
            for _value, stmts in cases:
                inner = self.block(stmts, states | fall, scope=False)
                fall = inner.next
                o.jumps(inner)
            o.next = fall | o.brk
            o.brk = set()
            if not any(v is None for v, _ in cases):
                o.next |= states
            return o
        raise ValueError(s)


# --------------------------------------------------------------------------- the dataflow


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Project, Path]:
    root = tmp_path_factory.mktemp("fuzz-tree")
    return Project(TreeSource(root), load()), root


_serial = [0]


def dataflow(project, root: Path, text: str, far: dict[str, str] | None = None):
    """({probe: per-lock poss or None when unreachable}, exit poss, the function).

    With ``far`` (other files of the program: path -> text), the program gets a tree of
    its own and a project of its own (a project reads the tree's definitions once)."""
    # a Project takes its tree as immutable (it keeps what it parsed): a new file each time
    _serial[0] += 1
    name = f"fuzz{_serial[0]}.c"
    if far:
        root = root / f"chain{_serial[0]}"
        for path, far_text in far.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(far_text)
        project = Project(TreeSource(root), project.model)
    (root / name).write_text(text)
    fa_file = project.analyse_file(name)
    assert fa_file.status in ("ok", "degraded"), fa_file.error
    fa = fa_file.function("fuzz")
    assert fa is not None
    probes: dict[int, dict | None] = {}
    lock_free: set[int] = set()
    for f in fa_file.functions:
        keys = KEY if f.function.name == "fuzz" else HKEY
        for o in f.ops:
            op, state = o.op, o.state
            if op.kind == "eval" and isinstance(op.expr, C.Call) and op.expr.name == "probe":
                k = int(op.expr.args[0].text)
                assert k not in probes
                probes[k] = None if state is None else poss_of(state, keys)
                if f.lock_free:
                    lock_free.add(k)
    ex = fa.exit_state()
    if fa.lock_free:
        lock_free.add(0)  # 0: the exit
    return probes, None if ex is None else poss_of(ex), fa_file, lock_free


def poss_of(state, keys: dict[str, str] = KEY) -> dict[str, frozenset[str]]:
    out = {}
    by_text = state.by_text()
    for lock in LOCKS:
        fact = by_text.get(keys[lock], (None, None))[1]
        out[lock] = frozenset(fact.poss) if fact is not None else frozenset({"U"})
    return out


def oracle_poss(states: set[State]) -> dict[str, frozenset[str]] | None:
    if not states:
        return None
    return {lock: frozenset(s[IDX[lock]] for s in states) for lock in LOCKS}


def _fmt(p) -> str:
    if p is None:
        return "unreachable"
    return ", ".join(f"{KEY[k]}={''.join(sorted(v))}" for k, v in sorted(p.items()))


HELD = frozenset("RW")


def loose_locks(prog: dict, oracle: Oracle | None = None) -> tuple[set[str], set[str]]:
    """(locks on which the dataflow is asked to be sound only, locks not compared):

    * sound only: a lock whose trylock outcome is kept in a variable (``ret = trylock();
      if (ret)``): the dataflow is path-insensitive, a may on both branches (by design);
    * sound only: every lock of a helper with many paths that returns a trylock's outcome.
      Past summaries.MAX_PATHS the summary is the helper's joined exit state, which has no
      outcomes, so the caller's ``if (helper())`` cannot split on it: a may on both
      branches;
    * not compared: a lock a helper with many paths (its callees' included) releases, or
      takes in two modes. Its joined exit state mixes "not held" with "held" (or two
      modes), which on real code is mostly the join's loss of which path is which, so the
      summary says unknown (by design); a lock it only takes, in one mode, is exact;
    * not compared: a lock a helper takes and gives back (its callees' included) while the
      caller may hold it (the ``oracle``'s states at the calls). The helper would wait on
      it; the dataflow keeps the caller's state after the call (by design: the deadlock is
      double-lock's ``callee`` finding, not also a lock gone), where the paths say "not
      held"."""
    sound_only: set[str] = set()
    skipped: set[str] = set()

    def walk(stmts, acts):
        for s in stmts:
            if s[0] == "tryvar":
                sound_only.add(APIS[s[1]][0])
            if s[0] == "op":
                lock, action, value = APIS[s[1]][:3]
                acts.setdefault(lock, set()).add("N" if action == "release" else value)
            if s[0] in ("guard", "scoped"):
                lock, value = GUARDS[s[1]]
                acts.setdefault(lock, set()).update((value, "N"))
            cond = s[1] if s[0] in ("if", "if1", "while") else s[2] if s[0] == "do" else None
            if s[0] == "tryvar":
                cond = ["try", s[1]]
            if cond is not None and cond[0] == "try":
                acts.setdefault(APIS[cond[1]][0], set()).add(APIS[cond[1]][2])
            for child in _children(s):
                walk(child, acts)

    walk(prog["body"], {})
    helpers = prog.get("helpers", [])
    paths: dict[int, int] = {}  # a helper's paths, its callees' included (they fork)
    touched: dict[int, dict[str, set[str]]] = {}  # what a helper does, its callees' too
    for i in reversed(range(len(helpers))):
        h = helpers[i]
        paths[i] = paths_estimate(h["body"], paths) * (2 if h["ret"] == "bool" else 1)
        acts: dict[str, set[str]] = {}
        walk(h["body"], acts)
        if h["ret"] == "bool":
            acts.setdefault(APIS[h["try"]][0], set()).add(APIS[h["try"]][2])
        for j in _calls(h["body"]):
            for lock, vals in touched[j].items():
                acts.setdefault(lock, set()).update(vals)
        touched[i] = acts
    for i, h in enumerate(helpers):
        acts = touched[i]
        if paths[i] > MANY_PATHS:
            if h["ret"] == "bool":
                sound_only |= set(acts)  # its try's lock too: no outcomes
            skipped |= {lock for lock, vals in acts.items() if "N" in vals or len(vals) > 1}
        if oracle is not None:
            for lock, vals in acts.items():
                held = any(x[IDX[lock]] in HELD for x in oracle.entries.get(i, ()))
                if held and "N" in vals and vals - {"N"}:
                    skipped.add(lock)
    return sound_only - skipped, skipped


MANY_PATHS = 24  # well under summaries.MAX_PATHS (48): paths_estimate is rough


def paths_estimate(stmts, helpers: dict[int, int] | None = None) -> int:
    """About how many paths run through a statement list (loops: 0, 1 or 2 rounds; a call
    of a helper: its paths, in ``helpers``)."""
    n = 1
    for s in stmts:
        k = s[0]
        if helpers:
            for j in _calls([s]) - _calls([c for ch in _children(s) for c in ch]):
                n *= helpers.get(j, 1)  # a call in this statement itself
        if k == "if":
            m = paths_estimate(s[2], helpers) + (paths_estimate(s[3], helpers)
                                                 if s[3] is not None else 1)
        elif k == "tryvar":
            m = paths_estimate(s[3], helpers) + (paths_estimate(s[4], helpers)
                                                 if s[4] is not None else 1)
        elif k == "if1":
            m = 2
        elif k in ("while", "scoped", "do", "for", "foreach", "block"):
            body = s[2] if k in ("while", "scoped") else s[1]
            inner = paths_estimate(body, helpers)
            m = inner if k in ("scoped", "block") else 1 + inner + inner * inner
        elif k == "switch":
            m = sum(paths_estimate(b, helpers) for _, b in s[2]) \
                + (0 if any(v is None for v, _ in s[2]) else 1)
        elif k == "op" and APIS[s[1]][1] == "try":
            m = 2
        else:
            m = 1
        n *= max(m, 1)
    return n


def claims_sound(got: frozenset[str], want: frozenset[str]) -> bool:
    """What the dataflow claims about one lock holds on every path: each mode a path holds
    it in is possible; held on all paths only if so; known not held only if so."""
    if not (want & HELD) <= got:
        return False
    if got and got <= HELD and not want <= HELD:
        return False
    return got != frozenset("N") or want == frozenset("N")


def differences(project, root: Path, prog: dict) -> list[str]:
    """Every difference between the dataflow and the paths (for loose locks: every claim
    of the dataflow that a path contradicts)."""
    text = render(prog)
    oracle = Oracle().run(prog)
    probes, exit_poss, fa_file, lock_free = dataflow(project, root, text, render_far(prog))
    for k in _far_probes(prog):  # in another file: analysed there, with no callers' state
        oracle.probes.pop(k, None)
    loose, skipped = loose_locks(prog, oracle)
    diffs = []
    for f in fa_file.functions:
        if f.function.degraded:
            diffs.append(f"the frontend marked {f.function.name}() degraded (parse error)")
        if not f.converged:
            diffs.append(f"the dataflow did not converge in {f.function.name}()")
    n_probes = _count_probes(prog)
    if set(probes) != set(range(1, n_probes + 1)) - _far_probes(prog):
        diffs.append(f"probes in the CFG: {sorted(probes)}, expected 1..{n_probes} but "
                     f"those of other files")
    checks = [(k, probes.get(k), oracle_poss(oracle.probes.get(k, set())))
              for k in sorted(set(oracle.probes) | set(probes))]
    checks.append((0, exit_poss, oracle_poss(oracle.exit)))
    all_u = {lock: frozenset("U") for lock in LOCKS}
    for k, got, want in checks:
        where = f"probe({k})" if k else "exit"
        if got == want:
            continue
        if want is None and got == all_u and k in lock_free:
            # a function that touches no lock is solved without a dataflow: every block the
            # CFG reaches gets the entry state, also one behind a while (1) that never ends
            # (the dataflow proper would refine the constant condition). Nothing is claimed.
            continue
        if got is None or want is None:
            if want is not None or not (loose or skipped):
                diffs.append(f"{where}: dataflow {_fmt(got)}; paths {_fmt(want)}")
            continue
        if any(got[k] != want[k] if k not in loose else not claims_sound(got[k], want[k])
               for k in LOCKS if k not in skipped):
            diffs.append(f"{where}: dataflow {_fmt(got)}; paths {_fmt(want)}")
    return diffs


def _probes_in(stmts) -> set[int]:
    out: set[int] = set()
    for s in stmts:
        if s[0] == "probe":
            out.add(s[1])
        for child in _children(s):
            out |= _probes_in(child)
    return out


def _far_probes(prog: dict) -> set[int]:
    """The probes of helpers defined in other files than the function's."""
    return {k for h in prog.get("helpers", []) if h.get("file") for k in _probes_in(h["body"])}


def _count_probes(prog: dict) -> int:
    n = len(_probes_in(prog["body"]))
    for _, stmts in prog["epilogue"]:
        n += len(_probes_in(stmts))
    return n + sum(len(_probes_in(h["body"])) for h in prog.get("helpers", []))


# --------------------------------------------------------------------------- fixtures


def fixture_text(prog: dict, note: str) -> str:
    return (f"/* rmaplint-fuzz: {json.dumps(prog, separators=(',', ':'))} */\n"
            f"/* {note} */\n" + render(prog))


def load_fixture(path: Path) -> dict:
    text = path.read_text()
    first, _, rest = text.partition("\n")
    assert first.startswith("/* rmaplint-fuzz: ") and first.endswith(" */"), path
    prog = json.loads(first[len("/* rmaplint-fuzz: "):-3])
    body = rest.partition("\n")[2] if rest.startswith("/*") else rest
    assert body == render(prog), f"{path}: the C is not the rendering of its tree"
    return prog


# Fixtures that show a known, reported bug of a file this test may not fix (engine,
# locks, summaries): name -> reason. Each must still fail (strict xfail).
KNOWN_BUGS: dict[str, str] = {
}


def _fixture_params():
    out = []
    for p in sorted(FIXTURES.glob("*.c")) if FIXTURES.is_dir() else []:
        marks = []
        if p.stem in KNOWN_BUGS:
            marks.append(pytest.mark.xfail(strict=True, raises=AssertionError,
                                           reason=KNOWN_BUGS[p.stem]))
        out.append(pytest.param(p, id=p.stem, marks=marks))
    return out


# --------------------------------------------------------------------------- the tests


def test_oracle_on_a_hand_written_function(project):
    """The oracle and the comparison themselves, on a function whose answers are known."""
    prog = {"body": [
        ["op", "spin_lock"],
        ["if", ["try", "mutex_trylock", True, "unlikely"], [["goto", "out_unlock"]], None],
        ["while", ["opaque", 1], [["op", "spin_unlock"], ["op", "spin_lock"]]],
        ["op", "mutex_unlock"],
        ["scoped", "rwsem_read", [["if", ["opaque", 2], [["continue"]], None], ["work"]]],
    ], "epilogue": [["out_unlock", [["op", "spin_unlock"]]]]}
    prog = with_probes(prog)
    text = render(prog)
    assert "\tif (unlikely(!mutex_trylock(&b->m))) {\n" in text
    assert "scoped_guard(rwsem_read, &c->sem) {" in text
    oracle = Oracle().run(prog)
    poss = {k: oracle_poss(v) for k, v in oracle.probes.items()}
    # probe 1: entry; probe 2: after the spin_lock; probe 3: the goto, b not taken
    assert poss[1] == {"a": {"U"}, "b": {"U"}, "c": {"U"}}
    assert poss[2] == {"a": {"W"}, "b": {"U"}, "c": {"U"}}
    assert poss[3] == {"a": {"W"}, "b": {"U"}, "c": {"U"}}
    assert poss[5] == {"a": {"W"}, "b": {"W"}, "c": {"U"}}  # before the while
    assert oracle_poss(oracle.exit) == {"a": {"N"}, "b": {"U", "N"}, "c": {"U", "N"}}
    assert differences(*project, prog) == []


def _campaign(test):
    return seed(int(SEED))(test) if SEED is not None else test


@_campaign
@settings(max_examples=EXAMPLES, derandomize=SEED is None, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(prog=programs())
def test_dataflow_matches_every_path(project, prog):
    diffs = differences(*project, prog)
    assert not diffs, "\n".join(diffs) + "\n\n" + render(prog) + "\n" + json.dumps(prog)


@_campaign
@settings(max_examples=CHAIN_EXAMPLES, derandomize=SEED is None, database=None,
          deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                HealthCheck.data_too_large])
@given(prog=chain_programs())
def test_dataflow_matches_every_path_through_call_chains(project, prog):
    """fuzz() -> helper0() -> helper1() -> helper2() over two or three files: the callers'
    states after each call come from summaries of summaries, across files."""
    diffs = differences(*project, prog)
    far = render_far(prog)
    assert not diffs, "\n".join(diffs) + "\n\n" + render(prog) + "\n" + "\n".join(
        f"/* {path} */\n{text}" for path, text in far.items()) + "\n" + json.dumps(prog)


@pytest.mark.parametrize("path", _fixture_params())
def test_regression_fixture(project, path):
    prog = load_fixture(path)
    # exact, but for what is path-insensitive by design (loose_locks: a trylock's outcome
    # kept in a variable, a many-path helper's outcome)
    diffs = differences(*project, prog)
    assert not diffs, "\n".join(diffs)
