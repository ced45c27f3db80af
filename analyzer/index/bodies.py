"""Function bodies read as text: the calls a body makes, in order, with their arguments.

What a call may do deep down the tree (sleep, most of all) is a question about functions of
files the analysis never parses: ``kernel/`` and ``fs/`` helpers that an mm/ function calls
under a spinlock. Parsing each of them would cost a second per file; this module reads a
file's definitions by the kernel's own layout instead — a definition's head ends at a ``{``
in column 0 and its body at the next ``}`` in column 0 (what ``scripts/checkpatch.pl`` and
the kernel's coding style require) — and lists, per function, the calls in call position
(``name(``, not ``ops->name(``: a pointer's target is unknown) with their argument text.
Function-like macros of headers are read the same way, from their ``#define`` lines.

It knows paths only as far as the layout shows them: each call says whether every path
through the body runs it (a statement of the body's own block, not in a branch, a loop or
behind ``?:``, ``&&``, ``||``). A judgement made from it (:mod:`analyzer.locks.sleeps`,
:mod:`analyzer.locks.retakes`) says so in its confidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ..frontend.rewrite import top_split

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_CALL = re.compile(r"(?<![\w.>])([A-Za-z_]\w*)\s*\(")
_NOT_CALLS = frozenset(("if", "while", "for", "switch", "return", "sizeof", "typeof",
                        "__typeof__", "defined", "do", "case", "else", "__attribute__", "asm",
                        "__asm__", "asm_volatile_goto", "alignof", "_Alignof", "offsetof",
                        "__builtin_expect", "likely", "unlikely", "ARRAY_SIZE", "container_of",
                        "__must_hold", "__acquires", "__releases"))
_ASSIGNED = re.compile(r"(?<![\w.>])([A-Za-z_]\w*)\s*(?:[-+*/%|&^]|<<|>>)?=(?!=)"
                       r"|(?<![\w.>])([A-Za-z_]\w*)\s*(?:\+\+|--)|(?:\+\+|--)\s*([A-Za-z_]\w*)\b")
_MEMBER = r"\s*->\s*\w+(?:\s*(?:->|\.)\s*\w+|\s*\[[^\]=;]*\])*\s*"
_WRITTEN = re.compile(rf"(?<![\w.>])([A-Za-z_]\w*){_MEMBER}(?:(?:[-+*/%|&^]|<<|>>)?=(?!=)"
                      r"|\+\+|--)|(?:\+\+|--)\s*([A-Za-z_]\w*)" + _MEMBER)
_DECLARED = re.compile(r"(?:\b(?:struct|union|enum)\s+\w+|\b[a-z_]\w*_t\b|\b(?:int|long|short|"
                       r"unsigned|signed|char|bool|void|u8|u16|u32|u64|s8|s16|s32|s64))"
                       r"\s*(?:\*\s*)*([A-Za-z_]\w*)\s*(?=[=;,\[])")
_METHOD_CALL = re.compile(r"(?:->|\.)\s*([A-Za-z_]\w*)\s*\)?\s*\(")
_HEAD_LINES = 8  # a definition's head is at most this many lines above its "{"
MAX_ARGS = 400  # characters of a call's argument text kept


@dataclass(frozen=True, slots=True)
class CallText:
    name: str
    line: int  # 1-based
    args: str  # the text between the call's parentheses (cut at MAX_ARGS)
    # run on every path through the body that reaches its statement: a statement of the
    # body's own block (not nested in a branch or a loop), not itself an if/loop/case, not
    # behind a ?:, && or || in its statement
    always: bool = True
    # the braces it is nested in (the body's own block: 1, a macro's text: 0), and whether
    # its statement is a plain one of that block (not an if/loop/case head, no ?:, &&, ||):
    # it runs whenever the block it is in does
    depth: int = 1
    plain: bool = True


@dataclass(frozen=True, slots=True)
class Body:
    name: str
    line: int  # of the head
    static: bool
    calls: tuple[CallText, ...]
    macro: bool = False
    params: tuple[str, ...] = ()  # the parameters' names, in order
    assigned: frozenset[str] = frozenset()  # names the body assigns (``x = …``, ``x++``)
    locals: frozenset[str] = frozenset()  # names the body declares
    # names the body writes through a member (``p->next = …``, ``p->count++``)
    written: frozenset[str] = frozenset()
    returned: frozenset[str] = frozenset()  # names the body returns (``return it;``)
    returned_calls: frozenset[str] = frozenset()  # calls it returns (``return f(x);``)
    # members it calls through (``ops->flush(…)``, ``s.fn(…)``): where a function stored in
    # an operations table may be called
    methods: frozenset[str] = frozenset()


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


_BRANCHING = re.compile(r"\s*(?:\}\s*)?(?:if|else|for|while|switch|case|default|do)\b")


def _calls(text: str, first_line: int, base: int = 1) -> tuple[CallText, ...]:
    """The calls of a body's text (which opens with its "{": ``base`` 1; a macro's: 0)."""
    out = []
    depth, parens, at, line = 0, 0, 0, first_line
    stmt = 0  # where the current statement starts
    for m in _CALL.finditer(text):
        for i in range(at, m.start()):
            c = text[i]
            if c == "{":
                depth += 1
                stmt = i + 1
            elif c == "}":
                depth -= 1
                stmt = i + 1
            elif c == "(":
                parens += 1
            elif c == ")":
                parens -= 1
            elif c == ";" and parens <= 0:
                stmt = i + 1
            elif c == "\n":
                line += 1
        at = m.start()
        name = m.group(1)
        if name in _NOT_CALLS:
            continue
        prefix = text[stmt:m.start()]
        plain = not _BRANCHING.match(prefix) and not any(t in prefix for t in ("?", "&&", "||"))
        out.append(CallText(name, line, _args(text, m.end()), depth <= base and plain,
                            depth, plain))
    return tuple(out)


def _params(head: str, name: str) -> tuple[str, ...]:
    m = re.search(rf"\b{re.escape(name)}\s*\(", head)
    if m is None:
        return ()
    out = []
    for p in split_args(_args(head, m.end())):
        fp = re.search(r"\(\s*\*\s*(\w+)\s*\)", p)  # a function pointer: (*fn)(…)
        if fp:
            out.append(fp.group(1))
            continue
        # the last name of a declaration (or a macro's bare parameter)
        w = re.search(r"(\w+)\s*(?:\[[^\]]*\])*\s*$", p)
        if w and p.strip() not in ("void", "..."):
            out.append(w.group(1))
    return tuple(out)


def split_args(args: str) -> list[str]:
    """A call's argument text split at its top-level commas (none when it is empty)."""
    return top_split(args, ",") if args.strip() else []


def _names(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(assigned, declared) names of a body's text."""
    assigned = {g for m in _ASSIGNED.finditer(text) for g in m.groups() if g}
    declared = {m.group(1) for m in _DECLARED.finditer(text)}
    return frozenset(assigned), frozenset(declared)


_RETURNED = re.compile(r"\breturn\s+\(?\s*([A-Za-z_]\w*)\s*\)?\s*;")
_RETURNED_CALL = re.compile(r"\breturn\s+([A-Za-z_]\w*)\s*\(")


def _returned(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """Names a body returns as they are (``return it;``, ``return (it);``), and the calls
    whose result it returns (``return lookup(tree, key);``)."""
    return (frozenset(m.group(1) for m in _RETURNED.finditer(text)),
            frozenset(m.group(1) for m in _RETURNED_CALL.finditer(text)
                      if m.group(1) not in _NOT_CALLS))


def _written(text: str) -> frozenset[str]:
    """Names a body's text writes through a member: ``p->next = q``, ``p->a.b[i] += 1``,
    ``p->count++``."""
    return frozenset(g for m in _WRITTEN.finditer(text) for g in m.groups() if g)


def _methods(text: str) -> frozenset[str]:
    """The members a body calls through: ``ops->flush(x)``, ``(*s.fn)(x)``."""
    return frozenset(m.group(1) for m in _METHOD_CALL.finditer(text))


def _head_name(head: str) -> str | None:
    names = [m.group(1) for m in _CALL.finditer(head) if m.group(1) not in _NOT_CALLS]
    names = [n for n in names if not (n.startswith("__") and n != names[-1])] or names
    return names[0] if names else None


class FileBodies(Mapping[str, Body]):
    """The functions (and macros) of one file by name: where each is found at once, what
    each calls only when it is asked for (a file is read for one or two functions)."""

    def __init__(self, text: str):
        src = clean(text)
        self._src = src
        self._lines = src.split("\n")
        # name → ("fn", head line index, "{" line index, "}" line index, head) or
        #        ("macro", match start, match end, params text, first line)
        self._where: dict[str, tuple] = {}
        self._memo: dict[str, Body] = {}
        self._find_functions()
        self._find_macros()

    def _find_functions(self) -> None:
        lines = self._lines
        i, n = 0, len(lines)
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
            name = _head_name(head) if "(" in head and "=" not in head.split("(")[0] \
                else None
            if name is not None and name not in self._where:
                self._where[name] = ("fn", j + 1, i, k, head)
            i = k + 1

    def _find_macros(self) -> None:
        src = self._src
        if "define" not in src:
            return
        for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(\w+)\(([^)]*)\)", src, re.M):
            name = m.group(1)
            if name in self._where:
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
            self._where[name] = ("macro", m.end(), end, m.group(2), first)

    def _body(self, name: str) -> Body:
        w = self._where[name]
        if w[0] == "fn":
            _, h, i, k, head = w
            body = "\n".join(self._lines[i:k])
            assigned, declared = _names(body)
            returned, returned_calls = _returned(body)
            return Body(name, h + 1, re.search(r"\bstatic\b", head) is not None,
                        _calls(body, i + 1), params=_params(head, name),
                        assigned=assigned, locals=declared, written=_written(body),
                        returned=returned, returned_calls=returned_calls,
                        methods=_methods(body))
        _, start, end, params_text, first = w
        text = self._src[start:end]
        assigned, declared = _names(text)
        params = tuple(p.strip() for p in params_text.split(",") if p.strip())
        return Body(name, first, False, _calls(text, first, 0), macro=True, params=params,
                    assigned=assigned, locals=declared, written=_written(text))

    @property
    def text(self) -> str:
        """The file's text with comments and strings blanked."""
        return self._src

    def __getitem__(self, name: str) -> Body:
        found = self._memo.get(name)
        if found is None:
            found = self._memo[name] = self._body(name)
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._where

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


def bodies(text: str) -> FileBodies:
    """The functions a C file defines (first definition of each name), and its
    function-like macros too."""
    return FileBodies(text)
