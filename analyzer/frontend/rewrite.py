"""Offset-preserving rewrite of kernel C so that tree-sitter-c can parse it.

Kernel C is not quite C as far as a grammar is concerned: iterator macros are used like loop
keywords (``list_for_each_entry(pos, &head, member) { ... }``), sparse annotations follow
declarators (``... __acquires(a->lock) { ... }``), attribute macros sit among declaration
specifiers and ``scoped_guard(mutex, &lock) { ... }`` opens a block. This module rewrites the
text *before* parsing, replacing only ASCII tokens by ASCII text of exactly the same length and
never touching a newline, so every character offset, byte offset (UTF-8) and line number of the
rewritten text is the one of the original text:

* an iterator macro in statement position becomes ``while`` padded with spaces: ``while (a, b,
  c)`` is a loop over a comma expression, so the arguments stay in the tree;
* ``scoped_guard`` / ``scoped_cond_guard`` in statement position become ``if`` (the body runs
  once); the statement argument of ``scoped_cond_guard`` becomes ``0``;
* sparse contracts (``__acquires(x)`` ...) are recorded as :class:`Contract` and blanked;
* attribute keywords (``__init``, ``__rcu`` ...) and function-like attributes
  (``__attribute__((...))``, ``__aligned(8)`` ...) are blanked;
* a type passed as a macro argument becomes an identifier-like expression:
  ``container_of(p, struct foo, m)`` -> ``container_of(p,        foo, m)``,
  ``min_t(unsigned long, a, b)`` -> ``min_t(unsigned_long, a, b)``;
* ``static NAME(a, b);`` (``static DEFINE_RATELIMIT_STATE(rs, HZ, 10);``) loses ``static`` so
  it parses as a call; ``DECLARE_BITMAP(map, N) = { 0 };`` loses its initializer;
* a file-scope macro invocation at column 0 with no ``;`` (``postcore_initcall(fn)``) is
  blanked, otherwise it swallows the next function definition;
* ``__alignof__`` becomes ``sizeof`` (``[renames]``).

Comments, string and character literals and preprocessor lines (with their continuation lines)
are never changed. The data (attribute names, contracts, guards, fallback iterator table) lives
in ``rules/frontend.toml``. Iterator macros are learned from ``#define NAME(...) for (...`` /
``while (...`` definitions and from ``.clang-format``'s ``ForEachMacros`` list; ``rewrite``
also learns the iterators and attribute aliases that the rewritten file defines itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from ..datafile import Table, read_toml

__all__ = [
    "Contract",
    "FrontendData",
    "IteratorMacro",
    "IteratorTable",
    "Rewritten",
    "learn_from_tree",
    "learn_iterators",
    "data_from_toml",
    "load_data",
    "local_attribute_words",
    "local_iterators",
    "parse_clang_format_foreach",
    "rewrite",
]

Origin = Literal["define", "clang-format", "fallback"]
_ORIGIN_RANK = {"define": 2, "clang-format": 1, "fallback": 0}


# --------------------------------------------------------------------------- iterator table


@dataclass(frozen=True, slots=True)
class IteratorMacro:
    """An iterator macro used like a loop keyword.

    ``cursor`` is the index of the argument that is the loop variable, ``object`` the index of
    the argument naming the iterated container; either is ``None`` when the macro has no such
    argument (``for_each_online_node(nid)`` iterates a global). ``origin`` is the evidence that
    made the name an iterator: a loop ``#define`` we read, the ``.clang-format`` list, or only
    the fallback table in ``rules/frontend.toml``. ``from_object``: the advance computes the
    next cursor from the object alone (``entry = xas_next_entry(xas, max)``, ``vma =
    vma_next(vmi)``), so the walk's position lives in the object, not in the cursor (as it
    does in ``pos = list_next_entry(pos, member)``); learned from a loop ``#define``.
    """

    name: str
    cursor: int | None
    object: int | None
    origin: Origin
    from_object: bool = False
    # a ``_safe`` variant's temporary: the param the advance copies into the cursor
    # (``pos = n``), read before the body runs; None when the advance reads the cursor
    temp: int | None = None


@dataclass(frozen=True)
class IteratorTable:
    """Immutable name → :class:`IteratorMacro` map."""

    macros: tuple[IteratorMacro, ...] = ()
    _by_name: Mapping[str, IteratorMacro] = field(
        init=False, repr=False, compare=False, hash=False, default_factory=dict
    )
    # rewrite()'s name -> kind map, per FrontendData (keyed by id, value keeps data alive)
    _kinds: dict = field(init=False, repr=False, compare=False, hash=False, default_factory=dict)

    def __post_init__(self) -> None:
        by_name: dict[str, IteratorMacro] = {}
        for m in self.macros:
            by_name.setdefault(m.name, m)
        object.__setattr__(self, "_by_name", by_name)
        if len(by_name) != len(self.macros):
            object.__setattr__(self, "macros", tuple(by_name.values()))

    @classmethod
    def of(cls, macros: Iterable[IteratorMacro]) -> IteratorTable:
        return cls(tuple(sorted(macros, key=lambda m: m.name)))

    def get(self, name: str) -> IteratorMacro | None:
        return self._by_name.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._by_name)

    def __iter__(self) -> Iterator[IteratorMacro]:
        return iter(self.macros)

    def names(self) -> frozenset[str]:
        return frozenset(self._by_name)

    def merge(self, other: IteratorTable) -> IteratorTable:
        """Union of both tables. For a name in both, the entry with the stronger origin wins
        (define > clang-format > fallback); on a tie, ``self``'s entry wins."""
        merged = dict(self._by_name)
        for m in other.macros:
            mine = merged.get(m.name)
            if mine is None or _ORIGIN_RANK[m.origin] > _ORIGIN_RANK[mine.origin]:
                merged[m.name] = m
        return IteratorTable.of(merged.values())


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class FrontendData:
    """The contents of ``rules/frontend.toml``."""

    words: frozenset[str]
    calls: frozenset[str]
    contracts: Mapping[str, str]  # macro name -> Contract.kind
    guards: Mapping[str, int | None]  # macro name -> index of its statement argument
    fallback: IteratorTable
    renames: Mapping[str, str] = field(default_factory=dict)  # word -> shorter replacement
    initialized_declarators: frozenset[str] = frozenset()  # DECLARE_BITMAP(x, n) = { 0 };
    # SYSCALL_DEFINE (the digit suffix dropped) -> the defined symbol, "__do_sys_{0}"
    function_macros: Mapping[str, str] = field(default_factory=dict)


def _rules_dir() -> Path:
    try:
        from importlib.resources import files

        return Path(str(files("analyzer.rules")))
    except ModuleNotFoundError:
        # Running from a source checkout that is not installed: rules/ is next to analyzer/.
        return Path(__file__).resolve().parents[2] / "rules"


def data_from_toml(doc: Mapping, file: str = "frontend.toml") -> FrontendData:
    """Typed, validated ``frontend.toml``: an unknown or missing key is an InputError."""
    top = Table(file, "", doc)
    attrs = top.table("attributes", {})
    words, calls = attrs.strs("words", ()), attrs.strs("calls", ())
    attrs.done()
    iters = []
    for entry in top.tables("iterators"):
        iters.append(IteratorMacro(entry.str("name"), entry.int("cursor", None),
                                   entry.int("object", None), "fallback",
                                   entry.bool("from_object", False), entry.int("temp", None)))
        entry.done()
    guards: dict[str, int | None] = {}
    for name, spec in top.mapping("guards").items():
        g = Table(file, f"[guards] {name}", spec)
        guards[name] = g.int("statement_arg", None)
        g.done()
    renames = top.mapping("renames")
    for old, new in renames.items():
        if not isinstance(new, str) or len(new) > len(old) or not new.isascii():
            top.fail(f"{new!r} must be ASCII text no longer than {old!r}", f"renames.{old}")
    contracts = top.mapping("contracts")
    for name, kind in contracts.items():
        if not isinstance(kind, str):
            top.fail(f"expected a string, got {kind!r}", f"contracts.{name}")
    decl = top.table("declarators", {})
    initialized = decl.strs("initialized", ())
    decl.done()
    function_macros = {}
    for name, spec in top.mapping("function_macros").items():
        fm = Table(file, f"[function_macros] {name}", spec)
        function_macros[name] = fm.str("symbol")
        fm.done()
    top.done()
    return FrontendData(
        words=frozenset(words),
        calls=frozenset(calls),
        contracts=dict(contracts),
        guards=guards,
        fallback=IteratorTable.of(iters),
        renames=dict(renames),
        initialized_declarators=frozenset(initialized),
        function_macros=function_macros,
    )


@lru_cache(maxsize=8)
def load_data(rules_dir: Path | None = None) -> FrontendData:
    """Load ``frontend.toml`` of ``rules_dir`` (default: the built-in rules), cached."""
    path = (rules_dir or _rules_dir()) / "frontend.toml"
    doc, _ = read_toml(path)
    return data_from_toml(doc, str(path))


# --------------------------------------------------------------------------- lexical helpers

# A block comment, a line comment (with backslash continuations), a string or a character
# literal. Unterminated ones stop at end of text (comments) or end of line (literals).
_BLOCK_COMMENT = r"/\*.*?(?:\*/|\Z)"
_LINE_COMMENT = r"//(?:[^\n\\]|\\(?:\r\n|.))*"
_STRING = r'"(?:[^"\\\n]|\\(?:\r\n|.))*"?'
_CHAR = r"'(?:[^'\\\n]|\\(?:\r\n|.))*'?"
_SKIPPABLE = re.compile(rf"{_BLOCK_COMMENT}|{_LINE_COMMENT}|{_STRING}|{_CHAR}", re.S)
# Whitespace and comments between tokens.
_GAP = re.compile(rf"(?:\s+|{_BLOCK_COMMENT}|{_LINE_COMMENT})*", re.S)
# Inside balanced parentheses: the next interesting character, or a literal/comment to skip.
_PAREN_TOKEN = re.compile(rf"[()]|{_BLOCK_COMMENT}|{_LINE_COMMENT}|{_STRING}|{_CHAR}", re.S)
_BRACE_TOKEN = re.compile(rf"[{{}}]|{_BLOCK_COMMENT}|{_LINE_COMMENT}|{_STRING}|{_CHAR}", re.S)
_PAREN_ARG_TOKEN = re.compile(rf"[(),]|{_BLOCK_COMMENT}|{_LINE_COMMENT}|{_STRING}|{_CHAR}", re.S)
_IDENT = re.compile(r"[A-Za-z_]\w*")


def _match_paren(text: str, open_idx: int, pair: str = "()") -> int:
    """Index of the bracket closing the one at ``open_idx`` (``pair`` = "()" or "{}"), or -1
    (unbalanced). Brackets inside comments and literals are skipped."""
    depth = 0
    opening, closing = pair[0], pair[1]
    finder = _PAREN_TOKEN if pair == "()" else _BRACE_TOKEN
    for m in finder.finditer(text, open_idx):
        t = m.group()
        if t == opening:
            depth += 1
        elif t == closing:
            depth -= 1
            if depth == 0:
                return m.start()
    return -1


def _split_args(text: str, open_idx: int, close_idx: int) -> list[tuple[int, int]]:
    """(start, end) spans of the top-level comma-separated arguments in ``(...)``."""
    spans: list[tuple[int, int]] = []
    depth = 0
    start = open_idx + 1
    for m in _PAREN_ARG_TOKEN.finditer(text, open_idx, close_idx + 1):
        t = m.group()
        if t == "(":
            depth += 1
        elif t == ")":
            depth -= 1
            if depth == 0:
                spans.append((start, m.start()))
                break
        elif t == "," and depth == 1:
            spans.append((start, m.start()))
            start = m.end()
    return spans


def _blank(chars: list[str], start: int, end: int) -> None:
    """Replace chars[start:end] by spaces, keeping line breaks."""
    for i in range(start, end):
        if chars[i] not in "\r\n":
            chars[i] = " "


def _put(chars: list[str], start: int, word: str, end: int) -> None:
    """Write ``word`` at ``start`` and blank the rest up to ``end`` (keeping line breaks)."""
    _blank(chars, start, end)
    chars[start : start + len(word)] = word


# --------------------------------------------------------------------------- learning

# A function-like #define whose body (after spaces and line continuations) starts with
# `for (`, `while (` or `IDENT (`. Parameters may not contain ')' so `[^)]*` is exact.
# `#` is searched without a `^` anchor (the engine can then skip to each "#" quickly, 3-4x
# faster on include/linux); _at_line_start() checks the position.
_DEFINE_RE = re.compile(
    r"#[ \t]*define[ \t]+(\w+)\(([^)#;{}]*)\)(?:[ \t]|\\\r?\n)*(\w+)[ \t]*(?:\\\r?\n[ \t]*)*\("
)


def _at_line_start(text: str, pos: int) -> bool:
    line_start = text.rfind("\n", 0, pos) + 1
    return not text[line_start:pos].strip()


_MEMBER_PARAM_NAMES = frozenset({"member", "field", "memb", "mbr", "_member", "__member"})


def _logical_line_end(text: str, pos: int) -> int:
    """End of the (backslash-continued) line containing ``pos``."""
    n = len(text)
    while True:
        nl = text.find("\n", pos)
        if nl < 0:
            return n
        k = nl - 1
        if k >= 0 and text[k] == "\r":
            k -= 1
        if k >= 0 and text[k] == "\\":
            pos = nl + 1
            continue
        return nl


def _params(raw: str) -> list[str]:
    out = []
    for p in raw.replace("\\", " ").split(","):
        p = p.strip()
        if p.endswith("..."):
            p = p[:-3].strip() or "__VA_ARGS__"
        out.append(p)
    return [] if out == [""] else out


@dataclass(slots=True)
class _Define:
    name: str
    params: list[str]
    head: str  # "for", "while" or the called identifier
    body: str  # from the head to the end of the logical line, continuations removed


def _scan_defines(text: str) -> Iterator[_Define]:
    for m in _DEFINE_RE.finditer(text):
        if not _at_line_start(text, m.start()):
            continue
        end = _logical_line_end(text, m.start(3))
        body = text[m.start(3) : end].replace("\\\r\n", " ").replace("\\\n", " ")
        body = _SKIPPABLE.sub(lambda c: " " if c.group().startswith("/") else c.group(), body)
        yield _Define(m.group(1), _params(m.group(2)), m.group(3), body)


def _idents(s: str) -> list[str]:
    return _IDENT.findall(s)


def _member_like(params: list[str], body: str) -> set[str]:
    out = {p for p in params if p in _MEMBER_PARAM_NAMES}
    for p in params:
        if re.search(rf"(?:->|\.)\s*{re.escape(p)}\b", body):
            out.add(p)
    return out


def top_split(s: str, sep: str) -> list[str]:
    """``s`` split at each ``sep`` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(s):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return parts


_ASSIGN = re.compile(r"(?<![\w>.])[(\s]*([A-Za-z_]\w*)[)\s]*=(?!=)")


def _assignments(section: str, index: Mapping[str, int]) -> list[tuple[str, str]]:
    """(param, right-hand side) for each assignment to a macro param in ``section``; the
    right-hand side runs to the next top-level comma or the end of the enclosing group."""
    out = []
    for m in _ASSIGN.finditer(section):
        if m.group(1) not in index:
            continue
        rhs = m.end()
        depth = 0
        for k in range(m.end(), len(section)):
            c = section[k]
            if c in "([{":
                depth += 1
            elif c in ")]}":
                if depth == 0:
                    break
                depth -= 1
            elif c in ",;" and depth == 0:
                break
        else:
            k = len(section)
        out.append((m.group(1), section[rhs:k]))
    return out


def _loop_positions(d: _Define) -> tuple[int | None, int | None] | None:
    """(cursor, object) from a ``for (...)`` / ``while (...)`` definition, or None when no
    macro param is assigned in the loop header.

    The cursor is chosen among the params assigned in the header, leaving out temporaries
    (a param whose value the increment copies into another one: ``n`` in ``pos = n``),
    preferring in turn: assigned inside the condition (``while ((vma = vma_next(..)))``),
    assigned from an expression over another, non-assigned param (``sg = (sglist)`` beats the
    counter ``__i = 0``), mentioned in the condition, earliest in the condition/header.
    The object is the first param on the cursor's right-hand side that is neither assigned in
    the header nor a member name; else the same search in the condition, then the header."""
    parts = _loop_header(d)
    if parts is None:
        return None
    header, init, cond, incr = parts
    index = {p: i for i, p in enumerate(d.params)}
    in_init, in_cond, in_incr = (_assignments(s, index) for s in (init, cond, incr))
    every = in_init + in_cond + in_incr
    assigned = {p for p, _ in every}
    if not assigned:
        return None
    skip = assigned | _member_like(d.params, d.body)
    temps = {
        w for p, r in in_incr for w in _idents(r) if w in assigned and w != p
    }
    if temps >= assigned:
        temps = set()
    first_rhs: dict[str, str] = {}
    for p, r in every:
        first_rhs.setdefault(p, r)
    cond_words = [w for w in _idents(cond) if w in assigned]
    cond_assigned = {p for p, _ in in_cond}
    order = [p for p, _ in every]

    def key(p: str) -> tuple:
        mentions_object = any(w in index and w not in skip for w in _idents(first_rhs[p]))
        pos = cond_words.index(p) if p in cond_words else len(cond_words) + order.index(p)
        return (p in cond_assigned, mentions_object, p in cond_words, -pos)

    cursor = max((p for p in first_rhs if p not in temps), key=key)
    obj = None
    for text in (first_rhs[cursor], cond, header):
        obj = next((index[w] for w in _idents(text) if w in index and w not in skip), None)
        if obj is not None:
            break
    return index[cursor], obj


def _loop_header(d: _Define) -> tuple[str, str, str, str] | None:
    """A loop ``#define``'s header and its (init, condition, increment); a ``while`` has
    only a condition. None when the header cannot be read."""
    open_idx = d.body.find("(")
    close_idx = _match_paren(d.body, open_idx)
    if close_idx < 0:
        return None
    header = d.body[open_idx + 1 : close_idx]
    if d.head != "for":
        return header, "", header, ""
    sections = top_split(header, ";")
    if len(sections) != 3:
        return None
    init, cond, incr = sections
    return header, init, cond, incr


def _advance(d: _Define, cursor: int | None, obj: int | None) -> tuple[bool, int | None]:
    """How the definition's advance moves the cursor, read from the cursor's one assignment
    in the advance (the increment; a ``while``, or a ``for`` whose increment does not assign
    it: the condition): (from the object alone — it reads the object and no param the loop
    header assigns; the param a ``_safe`` variant copies into the cursor, ``pos = n``).
    (False, None) when not sure: the cursor then carries the position."""
    if cursor is None or cursor >= len(d.params):
        return False, None
    parts = _loop_header(d)
    if parts is None:
        return False, None
    _, init, cond, incr = parts
    index = {p: i for i, p in enumerate(d.params)}
    me = d.params[cursor]
    advance = incr if any(p == me for p, _ in _assignments(incr, index)) else cond
    rhs = [r for p, r in _assignments(advance, index) if p == me]
    if len(rhs) != 1:
        return False, None
    assigned = {p for sec in (init, cond, incr) for p, _ in _assignments(sec, index)}
    words = _idents(rhs[0])
    from_object = obj is not None and d.params[obj] in words and not (set(words) & assigned)
    temp = d.params.index(words[0]) if len(set(words)) == 1 and words[0] in assigned \
        and words[0] != me else None
    return from_object, temp


def _default_positions(nparams: int) -> tuple[int | None, int | None]:
    return (0 if nparams > 0 else None, 1 if nparams > 1 else None)


def _map_arg(arg: str, index: Mapping[str, int], exclude: int | None = None) -> int | None:
    """The param an argument of an inner iterator call stands for: the only param mentioned
    (cursor), or the first one other than ``exclude`` (object, e.g. ``&name[bkt]``)."""
    hits = [index[w] for w in _idents(arg) if w in index and index[w] != exclude]
    if exclude is None:
        return hits[0] if len(set(hits)) == 1 else None
    return hits[0] if hits else None


def _alias_positions(d: _Define, inner: IteratorMacro) -> tuple[int | None, int | None] | None:
    """Positions of ``#define NAME(params) INNER(args)`` mapped through the arguments, or
    None when INNER's cursor argument does not mention exactly one param."""
    args = _alias_args(d)
    if args is None or inner.cursor is None:
        return None
    index = {p: i for i, p in enumerate(d.params)}
    if inner.cursor >= len(args):
        return None
    cur = _map_arg(args[inner.cursor], index)
    if cur is None:
        return None
    obj = None
    if inner.object is not None and inner.object < len(args):
        obj = _map_arg(args[inner.object], index, exclude=cur)
    return cur, obj


def _alias_args(d: _Define) -> list[str] | None:
    """The argument texts of ``#define NAME(params) INNER(args)``; None when unreadable."""
    open_idx = d.body.find("(")
    close_idx = _match_paren(d.body, open_idx)
    if close_idx < 0:
        return None
    return [d.body[a:b] for a, b in _split_args(d.body, open_idx, close_idx)]


def _alias_temp(d: _Define, inner: IteratorMacro) -> int | None:
    """INNER's ``_safe`` temporary mapped through ``#define NAME(params) INNER(args)``."""
    args = _alias_args(d)
    if inner.temp is None or args is None or inner.temp >= len(args):
        return None
    return _map_arg(args[inner.temp], {p: i for i, p in enumerate(d.params)})


def parse_clang_format_foreach(text: str) -> list[str]:
    """Names in a ``.clang-format`` file's ``ForEachMacros`` list (block or flow style)."""
    names: list[str] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^ForEachMacros\s*:\s*(.*)$", line)
        if not m:
            continue
        inline = m.group(1).split("#", 1)[0].strip()
        if inline.startswith("["):
            flow = inline
            j = i + 1
            while "]" not in flow and j < len(lines):
                flow += " " + lines[j].split("#", 1)[0]
                j += 1
            for item in flow.strip("[] ").split(","):
                item = item.strip().strip("'\"")
                if item:
                    names.append(item)
            continue
        for nxt in lines[i + 1 :]:
            s = nxt.strip()
            if not s or s.startswith("#"):
                continue
            if not s.startswith("-"):
                break  # the next key: end of the list
            item = s[1:].split(" #", 1)[0].strip().strip("'\"")
            if item:
                names.append(item)
    return names


def learn_iterators(
    texts: Iterable[str],
    clang_format: str | None = None,
    fallback: IteratorTable | None = None,
    *,
    known: IteratorTable | None = None,
    data: FrontendData | None = None,
) -> IteratorTable:
    """Learn iterator macros from C/header ``texts`` and a ``.clang-format`` text.

    * ``#define NAME(params) for (`` or ``while (``: cursor = the param assigned in the for-init
      (or the condition), preferring an assignment whose right-hand side calls something with
      another param; object = the first other (non-member) param on that right-hand side,
      else elsewhere in the loop header.
    * ``#define NAME(params) ITER(args)`` where ITER is an iterator: positions mapped through
      the arguments when an argument mentions exactly one param, else fallback/default.
    * ``ForEachMacros`` names: positions from a definition if known, else the fallback table,
      else cursor 0 / object 1.
    * Every fallback entry not learned otherwise is included with origin ``"fallback"``.

    ``known`` (optional) is a table learned elsewhere, e.g. from the headers when ``texts`` is
    one .c file: aliases may resolve against it (as against the fallback table and the
    clang-format names), but its entries are not copied into the result.

    Guard macros (``scoped_guard`` ...) are never iterators even though they expand to ``for``.
    """
    data = data or load_data()
    if fallback is None:
        fallback = data.fallback
    guards = set(data.guards)
    loops: dict[str, list[_Define]] = {}
    calls: list[_Define] = []
    for text in texts:
        if "define" not in text:
            continue
        for d in _scan_defines(text):
            if d.name in guards:
                continue
            if d.head in ("for", "while"):
                loops.setdefault(d.name, []).append(d)
            else:
                calls.append(d)

    def fallback_or_default(name: str, nparams: int) -> tuple[int | None, int | None]:
        fb = fallback.get(name)
        if fb is not None:
            return fb.cursor, fb.object
        return _default_positions(nparams)

    def score(pos: tuple[int | None, int | None]) -> int:
        return (pos[0] is not None) + (pos[1] is not None)

    # Several definitions of one name (#ifdef variants): keep the most informative.
    learned: dict[str, IteratorMacro] = {}
    for name, defs in loops.items():
        best = None
        best_def = defs[0]
        for d in defs:
            pos = _loop_positions(d) or fallback_or_default(name, len(d.params))
            if best is None or score(pos) > score(best):
                best, best_def = pos, d
        assert best is not None  # defs is never empty
        learned[name] = IteratorMacro(name, best[0], best[1], "define",
                                      *_advance(best_def, best[0], best[1]))

    clang: dict[str, IteratorMacro] = {}
    if clang_format:
        for name in parse_clang_format_foreach(clang_format):
            if name in guards:
                continue
            fb = fallback.get(name)
            cur, obj = (fb.cursor, fb.object) if fb else (0, 1)
            clang[name] = IteratorMacro(name, cur, obj, "clang-format",
                                        fb.from_object if fb else False,
                                        fb.temp if fb else None)

    def inner_of(name: str) -> IteratorMacro | None:
        for table in (learned, known or {}, clang):
            m = table.get(name)
            if m is not None:
                return m
        return fallback.get(name)

    # Aliases of iterators, to a fixpoint (a chain is resolved one link per round).
    pending = [d for d in calls if d.head != d.name]
    changed = True
    while changed and pending:
        changed = False
        rest = []
        for d in pending:
            inner = inner_of(d.head)
            if inner is None:
                rest.append(d)
                continue
            changed = True
            pos = _alias_positions(d, inner) or fallback_or_default(d.name, len(d.params))
            mine = learned.get(d.name)
            if mine is None or score(pos) > score((mine.cursor, mine.object)):
                learned[d.name] = IteratorMacro(d.name, pos[0], pos[1], "define",
                                                inner.from_object, _alias_temp(d, inner))
        pending = rest

    for name, m in clang.items():
        learned.setdefault(name, m)
    for m in fallback:
        learned.setdefault(m.name, m)
    return IteratorTable.of(learned.values())


def learn_from_tree(root: Path | str) -> IteratorTable:
    """Learn iterators from a kernel tree: ``.clang-format``, ``include/linux/**/*.h`` and
    ``mm/*.h`` (about 0.15 s on Linux 6.12). Files without "define" are skipped by a byte test;
    in the others the define regex searches for a literal ``#`` (no ``^`` anchor), and only
    its few hits are examined in Python."""
    root = Path(root)
    cf = root / ".clang-format"
    clang_format = cf.read_text(encoding="utf-8", errors="replace") if cf.is_file() else None
    paths = list((root / "include" / "linux").rglob("*.h")) + list((root / "mm").glob("*.h"))

    def texts() -> Iterator[str]:
        for p in paths:
            try:
                data = p.read_bytes()
            except OSError:
                continue
            if b"define" not in data:
                continue
            yield data.decode("latin-1")

    return learn_iterators(texts(), clang_format, load_data().fallback)


# --------------------------------------------------------------------------- rewrite


@dataclass(frozen=True, slots=True)
class Contract:
    """A sparse lock-context annotation: ``kind`` ("acquires", "releases", "must_hold",
    "cond_acquires", ...), its argument text (whitespace collapsed) and where it was."""

    offset: int
    line: int
    kind: str
    arg: str


@dataclass(frozen=True)
class Rewritten:
    """Result of :func:`rewrite`. ``text`` has the length, line breaks and UTF-8 byte length
    of the input. ``iter_sites`` / ``guard_sites`` map the character offset of each rewritten
    macro name to the original name."""

    text: str
    iter_sites: dict[int, str]
    guard_sites: dict[int, str]
    contracts: tuple[Contract, ...]
    # where a type written as a call's argument (``list_first_entry(l, struct page, lru)``)
    # left its identifier: a type, not a variable
    type_sites: frozenset[int] = frozenset()
    # the iterator macros the text defines itself (their cursor and object positions)
    local: IteratorTable = field(default_factory=IteratorTable)


# The scanner: comments, literals and preprocessor lines are consumed whole (and skipped);
# numbers are consumed so their letters are not taken for identifiers. Outside comments and
# literals `#` only starts a preprocessor line, so no `^` anchor is needed (which lets the
# regex engine skip ahead on its first-character set). `type` is a type keyword right after
# "(" or "," (a candidate type argument); `id` any other identifier (looked up in a dict:
# measured faster than a regex alternation of the known names).
_PP_LINE = (
    r"\#(?:[^\n\\/\"']|\\(?:\r\n|.)|" + _BLOCK_COMMENT + "|" + _LINE_COMMENT
    + r"|/|" + _STRING + "|" + _CHAR + ")*"
)
_SCAN = re.compile(
    rf"(?P<skip>{_BLOCK_COMMENT}|{_LINE_COMMENT}|{_STRING}|{_CHAR}|{_PP_LINE}|\.?\d[\w.]*)"
    r"|[(,]\s*(?P<type>const|volatile|struct|union|enum|unsigned|signed|long|short|int|char"
    r"|float|double|_Bool)\b"
    r"|(?P<id>[A-Za-z_]\w*)",
    re.S,
)
_MIN_NAME = len("while")

_STMT_FOLLOW = re.compile(r"[{A-Za-z_]")
# after a known iterator in statement position, a body may also start with an operator:
# `foreach(...) (*n)++;`, `foreach(...) *p++ = 0;`, `foreach(...) ++count;`
_ITER_BODY_FOLLOW = re.compile(r"[{A-Za-z_(*&!~]|\+\+|--")
_STMT_PRECEDE = frozenset(";{}):")
_STMT_PRECEDE_WORDS = frozenset({"else", "do"})

# A type written as a macro argument: `struct foo`, `unsigned long`, `const char *` ...
_TYPE_ARG = re.compile(
    r"(?:(?:const|volatile)\s+)*"
    r"(?:(?:struct|union|enum)\s+[A-Za-z_]\w*"
    r"|(?:unsigned|signed|long|short|int|char|float|double|_Bool)"
    r"(?:\s+(?:unsigned|signed|long|short|int|char|double))*)"
    r"(?:\s+(?:const|volatile))*(?:\s*\*(?:\s*const\b)?)*(?=\s*[,)])"
)
_QUALIFIER_OR_TAG = re.compile(r"\b(?:const|volatile|struct|union|enum)\b")
# Words before "(" that make it something other than a call (or a construct tree-sitter-c
# already parses with a type inside: sizeof, offsetof, _Alignof, typeof).
_NOT_A_CALL = frozenset(
    "sizeof typeof __typeof__ __typeof _Alignof alignof __alignof__ __alignof offsetof "
    "_Generic return if while for switch case __attribute__ __attribute asm __asm__ __asm "
    "volatile __volatile__ _Static_assert static_assert".split()
)
_CALL_PRECEDE_WORDS = frozenset({"return", "else", "case", "do"})
_PLAIN_ARG = re.compile(r"\s*(?:(?:struct|union|enum)\s+)?[A-Za-z_]\w*\s*\**\s*\Z")
_MACRO_NAME = re.compile(r"[A-Z][A-Z0-9_]*\b")


def _after_gap(text: str, pos: int) -> int:
    m = _GAP.match(text, pos)
    assert m is not None  # _GAP matches the empty string too
    return m.end()


def _prev_sig(text: str, pos: int) -> int:
    """Index of the last significant character before ``pos``, skipping white space, block
    comments, // comments and preprocessor lines; -1 at the start of the text."""
    i = pos - 1
    while i >= 0:
        c = text[i]
        if c in " \t\r\f\v":
            i -= 1
            continue
        if c == "\n":
            # Look at the previous line: a preprocessor line is skipped whole, a trailing
            # // comment is skipped.
            line_start = text.rfind("\n", 0, i) + 1
            line = text[line_start:i]
            if line.lstrip().startswith("#"):
                i = line_start - 1
                continue
            cut = _line_comment_start(line)
            i = (line_start + cut if cut >= 0 else i) - 1
            continue
        if c == "/" and i > 0 and text[i - 1] == "*":
            start = text.rfind("/*", 0, i - 1)
            if start < 0:
                return -1
            i = start - 1
            continue
        return i
    return -1


def _word_before(text: str, end: int) -> str:
    """The identifier ending at index ``end`` (inclusive), or ""."""
    j = end
    while j >= 0 and (text[j].isalnum() or text[j] == "_"):
        j -= 1
    return text[j + 1 : end + 1]


def _preceded_by_statement_boundary(text: str, pos: int) -> bool:
    """True if the token before ``pos`` ends a statement, opens/closes a block, closes a
    condition, or is ``else``/``do``; False if it is a type or declarator piece
    (``int for_each_x(...)``)."""
    i = _prev_sig(text, pos)
    if i < 0:
        return True
    c = text[i]
    if c in _STMT_PRECEDE:
        return True
    if c.isalnum() or c == "_":
        return _word_before(text, i) in _STMT_PRECEDE_WORDS
    return False


def _line_comment_start(line: str) -> int:
    """Offset of a ``//`` comment in ``line`` outside literals and block comments, or -1."""
    if "//" not in line:
        return -1
    for m in _SKIPPABLE.finditer(line):
        if m.group().startswith("//"):
            return m.start()
    return -1


def _enclosing_open(text: str, pos: int, limit: int = 4000) -> int:
    """Index of the unmatched ``(`` enclosing ``pos`` within the current statement, or -1.
    (Backward scan; parentheses inside comments or literals of that statement may mislead it,
    which at worst skips a type-argument rewrite.)"""
    depth = 0
    stop = max(0, pos - limit)
    for i in range(pos - 1, stop - 1, -1):
        c = text[i]
        if c == ")":
            depth += 1
        elif c == "(":
            if depth == 0:
                return i
            depth -= 1
        elif c in ";{}" and depth == 0:
            return -1
    return -1


def _is_call_paren(text: str, open_idx: int) -> bool:
    """True if the ``(`` at ``open_idx`` opens the argument list of a call or of a macro
    invocation, not a declarator's parameter list, a cast, ``sizeof`` or a condition."""
    w_end = _prev_sig(text, open_idx)
    if w_end < 0 or not (text[w_end].isalnum() or text[w_end] == "_"):
        return False
    word = _word_before(text, w_end)
    if not word or word[0].isdigit() or word in _NOT_A_CALL:
        return False
    if _MACRO_NAME.fullmatch(word):
        return True  # DEFINE_PER_CPU(struct foo, x), SYSCALL_DEFINE2(..., unsigned long, ...)
    before = _prev_sig(text, w_end - len(word) + 1)
    if before < 0:
        return False
    c = text[before]
    if c.isalnum() or c == "_":
        return _word_before(text, before) in _CALL_PRECEDE_WORDS
    return c != "*"


def _rewrite_type_arg(chars: list[str], text: str, start: int, end: int) -> int | None:
    """Make the type ``text[start:end]`` an expression of the same length: drop qualifiers,
    tags and ``*`` (``struct foo *`` -> ``foo``) and join multi-word types with ``_``
    (``unsigned long`` -> ``unsigned_long``). Returns where the identifier it leaves starts
    (None: none is left)."""
    for m in _QUALIFIER_OR_TAG.finditer(text, start, end):
        _blank(chars, m.start(), m.end())
    for i in range(start, end):
        if text[i] == "*":
            chars[i] = " "
    words = [m for m in _IDENT.finditer(text, start, end)
             if not _QUALIFIER_OR_TAG.fullmatch(m.group())]
    for a, b in zip(words, words[1:], strict=False):  # consecutive pairs
        gap = text[a.end() : b.start()]
        if "\n" in gap:
            _blank(chars, a.start(), a.end())
        else:
            chars[a.end() : b.start()] = "_" * len(gap)
    kept = [w.start() for w in words if not chars[w.start()].isspace()]
    return kept[0] if kept else None


def _toplevel_invocation_close(text: str, start: int, end: int) -> int:
    """For ``NAME(`` at column 0: the index of its ``)`` if it is a file-scope macro invocation
    without a ``;`` (``module_init(fn)``), else -1. It must follow a ``;``, ``}``, ``)``, a
    preprocessor line or the start of the file, and be followed, on a later line, by something
    other than ``;`` ``{`` ``,`` ``=`` or ``)`` (a function definition continues with ``{``)."""
    close_idx = _match_paren(text, end)
    if close_idx < 0:
        return -1
    nxt = _after_gap(text, close_idx + 1)
    if nxt < len(text):
        if text[nxt] in ";{,=)" or "\n" not in text[close_idx + 1 : nxt]:
            return -1
    prev = _prev_sig(text, start)
    if prev >= 0 and text[prev] not in ";})":
        return -1
    return close_idx


def _line_of(text: str, pos: int, cache: list[int]) -> int:
    """1-based line number of ``pos`` (incremental: ``cache`` = [last_pos, last_line])."""
    last_pos, last_line = cache
    if pos >= last_pos:
        line = last_line + text.count("\n", last_pos, pos)
    else:
        line = text.count("\n", 0, pos) + 1
    cache[0], cache[1] = pos, line
    return line


def _kinds(iterators: IteratorTable, data: FrontendData) -> dict[str, str]:
    cached = iterators._kinds.get(id(data))
    if cached is not None and cached[0] is data:
        return cached[1]
    kinds: dict[str, str] = {"static": "static"}
    for m in iterators:
        if len(m.name) >= _MIN_NAME:  # shorter names cannot hold "while"
            kinds[m.name] = "iter"
    for name in data.renames:
        kinds[name] = "rename"
    for name in data.words:
        kinds[name] = "word"
    for name in data.calls:
        kinds[name] = "call"
    for name in data.contracts:
        kinds[name] = "contract"
    for name in data.guards:
        kinds[name] = "guard"
    for name in data.initialized_declarators:
        kinds[name] = "decl_init"
    iterators._kinds[id(data)] = (data, kinds)
    return kinds


_EMPTY = IteratorTable()


def local_iterators(text: str, iterators: IteratorTable) -> IteratorTable:
    """Iterator macros defined in ``text`` itself (``#define for_each_x(...) for (...``, or an
    alias of an iterator in ``iterators``)."""
    if "define" not in text:
        return _EMPTY
    return learn_iterators([text], None, _EMPTY, known=iterators)


_C_INLINE = frozenset({"inline", "__inline", "__inline__"})
_OBJECT_DEFINE_RE = re.compile(r"#[ \t]*define[ \t]+(\w+)(?![\w(])[ \t]*([^\n]*)")


def local_attribute_words(text: str, kinds: Mapping[str, str]) -> frozenset[str]:
    """Object-like macros of ``text`` that expand only to attributes, e.g. mm/slub.c's
    ``#define pad_check_attributes noinline __no_kmsan_checks`` (and an empty ``#else``
    variant; ``inline`` is accepted too). Every definition of the name must be attribute words,
    function-like attributes with their arguments, or empty; at least one must be non-empty."""
    verdict: dict[str, bool] = {}
    nonempty: set[str] = set()
    for m in _OBJECT_DEFINE_RE.finditer(text):
        if not _at_line_start(text, m.start()):
            continue
        name, body = m.group(1), _SKIPPABLE.sub(" ", m.group(2)).strip()
        ok = not body.endswith("\\")
        pos = 0
        while ok and pos < len(body):
            t = _IDENT.match(body, pos)
            kind = kinds.get(t.group()) if t else None
            # (a kind implies a match t)
            if t is not None and (kind == "word" or t.group() in _C_INLINE):
                pos = t.end()
            elif kind == "call" and t is not None:
                pos = _after_gap(body, t.end())
                if body[pos : pos + 1] == "(":
                    close = _match_paren(body, pos)
                    ok = close >= 0
                    pos = close + 1
            else:
                ok = False
            pos = _after_gap(body, pos)
        if body:
            nonempty.add(name)
        verdict[name] = verdict.get(name, True) and ok
    return frozenset(n for n, ok in verdict.items() if ok and n in nonempty)


def rewrite(
    text: str,
    iterators: IteratorTable,
    data: FrontendData | None = None,
    *,
    learn_local: bool = True,
) -> Rewritten:
    """Rewrite kernel C ``text`` for tree-sitter-c without moving any offset or line.

    With ``learn_local`` (default) macros defined in ``text`` itself are learned first and
    used as well: iterators (mm/slub.c's ``for_each_object``, mm/hugetlb.c's
    ``for_each_node_mask_to_alloc`` ...) and attribute aliases (see
    :func:`local_attribute_words`)."""
    if data is None:
        data = load_data()
    kinds = _kinds(iterators, data)
    local = _EMPTY
    if learn_local and "define" in text:
        local = local_iterators(text, iterators)
        words = local_attribute_words(text, kinds)
        if len(local) or words:
            kinds = dict(kinds)
            for im in local:
                if len(im.name) >= _MIN_NAME and kinds.get(im.name) in (None, "iter"):
                    kinds[im.name] = "iter"
            for w in words:
                kinds.setdefault(w, "word")
    chars: list[str] | None = None
    iter_sites: dict[int, str] = {}
    guard_sites: dict[int, str] = {}
    type_sites: set[int] = set()
    contracts: list[Contract] = []
    line_cache = [0, 1]
    resume = 0  # tokens before this offset were consumed by a rewrite
    n = len(text)

    for m in _SCAN.finditer(text):
        group = m.lastgroup
        if group == "skip":
            continue
        if group == "type":
            # A type as a call argument (`container_of(p, struct foo, m)`, `min_t(unsigned
            # long, a, b)`) is not an expression for tree-sitter: make it one.
            start = m.start("type")
            if start < resume:
                continue
            p = m.start()
            t = _TYPE_ARG.match(text, start)
            if t is None:
                continue
            open_idx = p if text[p] == "(" else _enclosing_open(text, p)
            if open_idx < 0 or not _is_call_paren(text, open_idx):
                continue
            if chars is None:
                chars = list(text)
            at = _rewrite_type_arg(chars, text, start, t.end())
            if at is not None:
                type_sites.add(at)
            resume = t.end()
            continue

        name = m.group()
        kind = kinds.get(name)
        if kind is None:
            # `postcore_initcall(fn)` at column 0 without a `;`: the next definition would be
            # swallowed. Blank the invocation (registration macros carry no lock behaviour).
            start = m.start()
            if start and text[start - 1] != "\n" or text[m.end() : m.end() + 1] != "(":
                continue
            if start < resume:
                continue
            close_idx = _toplevel_invocation_close(text, start, m.end())
            if close_idx >= 0:
                if chars is None:
                    chars = list(text)
                _blank(chars, start, close_idx + 1)
                resume = close_idx + 1
            continue
        start, end = m.span()
        if start < resume:
            continue

        if kind == "word":
            if chars is None:
                chars = list(text)
            _blank(chars, start, end)
            continue

        if kind == "rename":
            if chars is None:
                chars = list(text)
            _put(chars, start, data.renames[name], end)
            continue

        open_idx = _after_gap(text, end)
        has_paren = open_idx < n and text[open_idx] == "("
        close_idx = _match_paren(text, open_idx) if has_paren else -1

        if kind == "static":
            # `static DEFINE_RATELIMIT_STATE(rs, 5 * HZ, 10);`: tree-sitter reads `static
            # NAME(a, b);` as a broken declaration; without `static` it is a call.
            if has_paren:
                continue
            mac = _MACRO_NAME.match(text, open_idx)
            if mac is None:
                continue
            popen = _after_gap(text, mac.end())
            if popen >= n or text[popen] != "(":
                continue
            pclose = _match_paren(text, popen)
            if pclose < 0:
                continue
            semi = _after_gap(text, pclose + 1)
            if semi >= n or text[semi] != ";":
                continue
            args = _split_args(text, popen, pclose)
            if len(args) < 2 and all(_PLAIN_ARG.match(text[a:b]) for a, b in args):
                continue  # `static DEFINE_MUTEX(lock);` parses as a declaration
            if chars is None:
                chars = list(text)
            _blank(chars, start, end)
            continue

        if kind == "decl_init":
            # `DECLARE_BITMAP(map, N) = { 0 };`: a macro declarator cannot take an
            # initializer in tree-sitter's grammar; blank `= { ... }` (keeping the `;`).
            if close_idx < 0:
                continue
            eq = _after_gap(text, close_idx + 1)
            if text[eq : eq + 1] != "=" or text[eq + 1 : eq + 2] == "=":
                continue
            brace = _after_gap(text, eq + 1)
            if text[brace : brace + 1] != "{":
                continue
            rbrace = _match_paren(text, brace, "{}")
            if rbrace < 0 or (text[_after_gap(text, rbrace + 1) : _after_gap(text, rbrace + 1) + 1]
                              != ";"):
                continue
            if chars is None:
                chars = list(text)
            _blank(chars, eq, rbrace + 1)
            resume = rbrace + 1
            continue

        if kind == "call":
            if chars is None:
                chars = list(text)
            if close_idx >= 0:
                _blank(chars, start, close_idx + 1)
                resume = close_idx + 1
            elif not has_paren:
                _blank(chars, start, end)
            continue

        if close_idx < 0:
            continue

        if kind == "contract":
            if chars is None:
                chars = list(text)
            arg = " ".join(text[open_idx + 1 : close_idx].split())
            line = _line_of(text, start, line_cache)
            contracts.append(Contract(start, line, data.contracts[name], arg))
            _blank(chars, start, close_idx + 1)
            resume = close_idx + 1
            continue

        # iterator or guard: statement position only.
        nxt = _after_gap(text, close_idx + 1)
        follow = _ITER_BODY_FOLLOW if kind == "iter" else _STMT_FOLLOW
        if nxt >= n or not follow.match(text, nxt):
            continue
        if not _preceded_by_statement_boundary(text, start):
            continue
        if chars is None:
            chars = list(text)
        if kind == "iter":
            _put(chars, start, "while", end)
            iter_sites[start] = name
        else:
            _put(chars, start, "if", end)
            guard_sites[start] = name
            stmt_arg = data.guards[name]
            if stmt_arg is not None:
                spans = _split_args(text, open_idx, close_idx)
                if stmt_arg < len(spans):
                    a, b = spans[stmt_arg]
                    a = _after_gap(text, a)
                    if a < b:
                        _put(chars, a, "0", b)

    out = text if chars is None else "".join(chars)
    return Rewritten(out, iter_sites, guard_sites, tuple(contracts), frozenset(type_sites),
                     local)
