"""lock-order — two locks taken in the order the lock hierarchy forbids.

What it does: reads the hierarchy from the analysed tree (the comment named by
``rules/lockorder.toml`` ``[tree_comment]``: mm/rmap.c's "Lock ordering in mm:" list, where a
line indented deeper is taken inside every less-indented line above it, and names on one line
are separated by commas or "or"), maps its spellings to lock classes through ``order = [...]``
in ``rules/locks.toml``, and falls back to the class pairs of ``rules/lockorder.toml`` when
the tree states no hierarchy. A pair stated in both directions (two lists of the comment that
disagree) is dropped. At each acquire (not a trylock: trying a lock out of order is how code
avoids this deadlock), a held lock (must or may) whose class the hierarchy puts inside the
class being acquired is reported. The region runs from the acquire of the held lock to the
acquire of the new one.

Confidence: medium-high. The lock states are path-exact; the classes come from struct types
(an unknown type leaves a lock unclassified and unchecked). Code that takes two locks of
different classes out of order under a third lock that serialises them is still reported.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..findings.finding import Severity
from ..locks.events import EventKind
from .common import Rule, first_acquire_line, via_text

RULE = Rule("lock-order", {
    "inverted": "{lock} ({new_cls}) acquired{via} while {held} is {certainty}-held: the lock "
                "hierarchy takes {new_cls} outside {held_cls}",
})


# --------------------------------------------------------------------------- the hierarchy


def parse_hierarchy(comment: str) -> list[tuple[str, str]]:
    """(outer, inner) spellings from an indented lock-ordering comment.

    A blank line or a line ending in ``:`` (the marker line, a heading) starts a new list; text
    in parentheses (possibly spanning lines) is a remark; a line indented deeper
    than the one above is taken inside every less-indented line above it still open."""
    lines = _body_lines(comment)
    pairs: list[tuple[str, str]] = []
    stack: list[tuple[int, list[str]]] = []
    depth = 0  # open parentheses carried over from earlier lines
    for raw in lines:
        text = raw.expandtabs(8)
        if depth > 0:  # a remark continued from the line above
            depth = _paren_depth(text, depth)
            continue
        if not text.strip():
            stack = []
            continue
        indent = len(text) - len(text.lstrip())
        names_text, depth = _strip_remarks(text)
        if names_text.rstrip().endswith(":"):
            stack = []
            continue
        names = split_names(names_text)
        if not names:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        for _, outer in stack:
            for o in outer:
                for n in names:
                    if o != n:
                        pairs.append((o, n))
        stack.append((indent, names))
    return pairs


def _body_lines(comment: str) -> list[str]:
    """The comment's lines without the comment markers and the leading `` * ``."""
    out = []
    for ln in comment.splitlines():
        s = ln.rstrip()
        s = re.sub(r"^\s*/\*+", "", s)
        s = re.sub(r"\*+/\s*$", "", s)
        m = re.match(r"^\s*\*(?!/)", s)
        if m:
            s = s[m.end():]
            s = s[1:] if s.startswith(" ") else s
        out.append(s.rstrip())
    while out and not out[0].strip():
        out.pop(0)
    return out


def _paren_depth(text: str, depth: int) -> int:
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
    return depth


def _strip_remarks(text: str) -> tuple[str, int]:
    """Text outside parentheses, and how many parentheses remain open at the end."""
    out = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    return "".join(out), depth


def split_names(text: str) -> list[str]:
    """``a,b or c`` → [a, b, c], each normalised (whitespace folded, a leading ``->`` kept
    off)."""
    out = []
    for part in re.split(r",|\s+or\s+", text):
        n = " ".join(part.split())
        n = n[2:] if n.startswith("->") else n
        if n:
            out.append(n)
    return out


@lru_cache(maxsize=16)
def class_order(comment: str | None, spellings: tuple[tuple[str, str], ...],
                fallback: tuple[tuple[str, str], ...]) -> frozenset[tuple[str, str]]:
    """(outer class, inner class) pairs: from the comment when it yields any, else the
    fallback. Pairs stated both ways are dropped."""
    names = dict(spellings)
    pairs: set[tuple[str, str]] = set()
    if comment:
        for o, i in parse_hierarchy(comment):
            co, ci = names.get(o), names.get(i)
            if co and ci and co != ci:
                pairs.add((co, ci))
    if not pairs:
        pairs = {(o, i) for o, i in fallback if o != i}
    return frozenset(p for p in pairs if (p[1], p[0]) not in pairs)


def hierarchy(ctx) -> frozenset[tuple[str, str]]:
    conf = ctx.model.lockorder
    comment = None
    if conf.tree_comment is not None:
        comment = ctx.file.tree_comments.get((conf.tree_comment.path, conf.tree_comment.marker))
    spellings = tuple((s, c.name) for c in ctx.model.classes for s in c.order)
    return class_order(comment, spellings, conf.pairs)


# --------------------------------------------------------------------------- the rule


def check(ctx):
    if ctx.function.degraded:  # parse errors: paths are missing, states unreliable
        return []
    order = hierarchy(ctx)
    if not order:
        return []
    out = []
    seen: set[tuple] = set()
    for ev in ctx.events:
        if ev.kind != EventKind.ACQUIRE or ev.trylock or ev.lock is None or ev.annotation:
            continue
        if ev.inexact:  # a conditional or summarised-away acquire
            continue
        new_cls = ev.lock.cls
        if new_cls is None:
            continue
        for k, f in ev.state.held():
            if k == ev.lock or (new_cls, k.cls) not in order:
                continue
            key = (k, ev.lock, ev.span.line)
            if key in seen:
                continue
            seen.add(key)
            out.append(_finding(ctx, ev, new_cls, k, f))
    return out


def _finding(ctx, ev, new_cls, held_key, held_fact):
    start = first_acquire_line(ctx, held_key, before=ev.span.line) or ev.span.line
    return RULE.finding(ctx, "inverted", Severity.WARNING, start, ev.span.line,
                        [held_key, ev.lock],
                        [(start, f"{held_key} taken here"),
                         (ev.span.line, f"{ev.lock} taken here")],
                        (held_key, ev.lock), lock=ev.lock, new_cls=new_cls,
                        via=via_text(ev), held=held_key.describe(),
                        certainty=held_fact.certainty, held_cls=held_key.cls)
