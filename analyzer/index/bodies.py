"""Function bodies read as text: the calls a body makes, in order, with their arguments.

What a call may do deep down the tree (sleep, most of all) is a question about functions of
files the analysis never parses: ``kernel/`` and ``fs/`` helpers that an mm/ function calls
under a spinlock. Parsing each of them would cost a second per file; this module reads a
file's definitions by the kernel's own layout instead — a definition's head ends at a ``{``
in column 0 and its body at the next ``}`` in column 0 (what ``scripts/checkpatch.pl`` and
the kernel's coding style require) — and lists, per function, the calls in call position
(``name(``, not ``ops->name(``: a pointer's target is unknown) with their argument text.
Function-like macros of headers are read the same way, from their ``#define`` lines.

It says nothing about paths: every call of the body counts, whichever branch it is on. A
judgement made from it (:mod:`analyzer.locks.sleeps`) says so in its confidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_CALL = re.compile(r"(?<![\w.>])([A-Za-z_]\w*)\s*\(")
_NOT_CALLS = frozenset(("if", "while", "for", "switch", "return", "sizeof", "typeof",
                        "__typeof__", "defined", "do", "case", "else", "__attribute__", "asm",
                        "__asm__", "asm_volatile_goto", "alignof", "_Alignof", "offsetof",
                        "__builtin_expect", "likely", "unlikely", "ARRAY_SIZE", "container_of",
                        "__must_hold", "__acquires", "__releases"))
_HEAD_LINES = 8  # a definition's head is at most this many lines above its "{"
MAX_ARGS = 400  # characters of a call's argument text kept


@dataclass(frozen=True, slots=True)
class CallText:
    name: str
    line: int  # 1-based
    args: str  # the text between the call's parentheses (cut at MAX_ARGS)


@dataclass(frozen=True, slots=True)
class Body:
    name: str
    line: int  # of the head
    static: bool
    calls: tuple[CallText, ...]
    macro: bool = False


def _blank(m: re.Match) -> str:
    """A comment or string replaced by spaces, its newlines kept (lines stay lines)."""
    return re.sub(r"[^\n]", " ", m.group(0))


def clean(text: str) -> str:
    return _STRING.sub(_blank, _COMMENT.sub(_blank, text))


def _args(text: str, start: int) -> str:
    """The argument text of a call whose "(" is at ``start - 1``."""
    depth = 1
    i = start
    end = min(len(text), start + 4 * MAX_ARGS)
    while i < end:
        c = text[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                break
        elif c in ";{}" and depth == 1:
            break
        i += 1
    return " ".join(text[start:i].split())[:MAX_ARGS]


def _calls(text: str, first_line: int) -> tuple[CallText, ...]:
    out = []
    for m in _CALL.finditer(text):
        name = m.group(1)
        if name in _NOT_CALLS:
            continue
        line = first_line + text.count("\n", 0, m.start())
        out.append(CallText(name, line, _args(text, m.end())))
    return tuple(out)


def _head_name(head: str) -> str | None:
    names = [m.group(1) for m in _CALL.finditer(head) if m.group(1) not in _NOT_CALLS]
    names = [n for n in names if not (n.startswith("__") and n != names[-1])] or names
    return names[0] if names else None


def bodies(text: str) -> dict[str, Body]:
    """The functions a C file defines (first definition of each name), and in a header its
    function-like macros too."""
    src = clean(text)
    lines = src.split("\n")
    out: dict[str, Body] = {}
    i = 0
    n = len(lines)
    while i < n:
        if not lines[i].startswith("{"):
            i += 1
            continue
        head_lines: list[str] = []
        j = i - 1
        while j >= 0 and i - j <= _HEAD_LINES:
            s = lines[j].rstrip()
            if not s.strip() or s.endswith((";", "}", "{")) or s.lstrip().startswith("#"):
                break
            head_lines.insert(0, s)
            j -= 1
        k = i + 1
        while k < n and not lines[k].startswith("}"):
            k += 1
        head = " ".join(head_lines)
        name = _head_name(head) if "(" in head and "=" not in head.split("(")[0] else None
        if name is not None and name not in out:
            body = "\n".join(lines[i:k])
            out[name] = Body(name, j + 2, re.search(r"\bstatic\b", head) is not None,
                             _calls(body, i + 1))
        i = k + 1
    for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(\w+)\(([^)]*)\)", src, re.M):
        name = m.group(1)
        if name in out:
            continue
        end = m.end()
        while True:  # continuation lines
            nl = src.find("\n", end)
            if nl < 0:
                end = len(src)
                break
            if src[nl - 1] != "\\":
                end = nl
                break
            end = nl + 1
        first = src.count("\n", 0, m.start()) + 1
        out[name] = Body(name, first, False,
                         _calls(src[m.end():end], first), macro=True)
    return out
