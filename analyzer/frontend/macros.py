"""Function-like macros read as functions, so the engine can summarise them like any helper.

The kernel wraps locking in macros as often as in inline functions: ``xa_lock(xa)`` is
``spin_lock(&(xa)->xa_lock)``, and in 6.1 ``pte_offset_map_lock()`` is a statement
expression that stores the page-table lock through its out-parameter and takes it. A macro's
definition becomes a synthetic static function whose parameters are the macro's and whose
body is its replacement text:

* ``({ stmts; value; })`` (a statement expression) → ``{ stmts; return value; }``;
* ``do { stmts } while (0)`` → ``{ stmts }``;
* an expression → ``{ return (expr); }``.

The function is parsed by the tree-sitter frontend like any code, so a macro that is not C
once expanded (token pasting, stringification, a bare type or statement fragment) is simply
not read (None): a call of it then stays a call of a name the tree defines, with no known
lock effects. Line numbers are the definition's, so events point at the macro.
"""

from __future__ import annotations

import re

from ..syntax import tree as C
from .rewrite import FrontendData, IteratorTable

_DEFINE = r"^[ \t]*#[ \t]*define[ \t]+{name}\(([^)]*)\)"


def definition(text: str, name: str) -> tuple[int, tuple[str, ...], str] | None:
    """(line, parameter names, replacement text) of the function-like macro ``name``'s
    first definition in ``text``, continuation lines joined; None when absent or variadic
    in a way we cannot name."""
    m = re.search(_DEFINE.format(name=re.escape(name)), text, re.M)
    if m is None:
        return None
    params = tuple(p.strip() for p in m.group(1).split(",") if p.strip())
    if any(not re.fullmatch(r"[A-Za-z_]\w*|\.\.\.", p) for p in params):
        return None
    params = tuple("__VA_ARGS__" if p == "..." else p for p in params)
    body = []
    pos = m.end()
    while True:
        end = text.find("\n", pos)
        line = text[pos:] if end < 0 else text[pos:end]
        if line.endswith("\\"):
            body.append(line[:-1])
            pos = end + 1
            continue
        body.append(line)
        break
    line_no = text.count("\n", 0, m.start()) + 1
    return line_no, params, "\n".join(body)


_OBJECT_DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(?![\w(])[ \t]*(.*)$", re.M)


def object_macros(text: str) -> dict[str, str | None]:
    """The object-like macros of ``text``: name → replacement text (comments removed), or
    None for a name defined twice with different texts (#if branches: not one value) or
    with a continued line."""
    out: dict[str, str | None] = {}
    for m in _OBJECT_DEFINE.finditer(text):
        name, body = m.group(1), m.group(2)
        val = None if body.rstrip().endswith("\\") else _strip_comments(body).strip()
        if name in out and out[name] != val:
            val = None
        out[name] = val
    return out


def as_function_text(name: str, params: tuple[str, ...], body: str) -> str | None:
    """The synthetic C function for a macro, or None when its text is no expression or
    statement (``#``/``##`` operators, an empty body)."""
    b = _strip_comments(body).strip()
    if not b or "#" in b:
        return None
    if b.startswith("({") and b.endswith("})"):
        inner = b[2:-2].strip()
        stmts, value = _split_last(inner)
        code = f"{{\n{stmts}\nreturn {value};\n}}" if value else f"{{\n{inner}\n}}"
    elif re.match(r"do\s*\{", b) and re.search(r"\}\s*while\s*\(\s*0\s*\)$", b):
        code = b[b.index("{"):b.rindex("}") + 1]
    elif b.startswith("{"):
        return None  # a bare block: not callable as an expression
    else:
        code = f"{{\nreturn ({b});\n}}"
    plist = ", ".join(f"long {p}" for p in params) or "void"
    return f"static inline long {name}({plist})\n{code}\n"


def macro_function(path: str, text: str, name: str, iterators: IteratorTable,
                   data: FrontendData | None = None) -> C.Function | None:
    """The macro ``name`` of header ``text`` as a function, or None (see the module doc)."""
    from .treesitter import parse_file

    d = definition(text, name)
    if d is None:
        return None
    line, params, body = d
    code = as_function_text(name, params, body)
    if code is None:
        return None
    pf = parse_file(path, "\n" * (line - 1) + code, iterators, data)
    fn = next((f for f in pf.functions if f.name == name), None)
    if fn is None or fn.degraded or pf.error_nodes:
        return None
    return fn


def _strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def _split_last(inner: str) -> tuple[str, str]:
    """Split a statement expression's inside into (statements, the value expression)."""
    depth = 0
    last = -1
    for i, ch in enumerate(inner):
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == ";" and depth == 0 and i < len(inner.rstrip()) - 1:
            last = i
        elif ch == "}" and depth == 0:
            last = i
    value = inner[last + 1:].strip().rstrip(";").strip()
    if not value or value.endswith("}"):
        return inner, ""
    return inner[:last + 1], value
