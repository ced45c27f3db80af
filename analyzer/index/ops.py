"""Which functions a file stores in operations tables: ``.mmap = mmap_vmcore`` in a
``static const struct proc_ops vmcore_proc_ops = { … }``.

A function reached only through such a table has no caller the call graph can see; the
kernel documents what its callers hold instead (``->mmap`` is called with the mmap lock held
for write). The lock model's ``[[method]]`` entries carry those contracts; this module finds
the tables (read as text: a file-scope ``struct NAME var = {`` or an array of them, its
designated members ``.member = function`` up to the matching ``}``) so the analysis can give
each such function the contract of the member it fills.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..model.lockmodel import LockModel, Method
from ..syntax import tree as C
from .bodies import clean

_TABLE = re.compile(r"^[ \t]*(?:(?:static|const|__maybe_unused|__ro_after_init|__read_mostly)"
                    r"\s+)*struct\s+(\w+)\s+\w+\s*(?:\[[^\]]*\])?\s*"
                    r"(?:__\w+\s*)*=\s*\{", re.M)
_MEMBER = re.compile(r"\.\s*(\w+)\s*=\s*&?\s*([A-Za-z_]\w*)\s*(?=[,}\n])")


def assigned_methods(text: str) -> dict[str, tuple[tuple[str, str], ...]]:
    """Function name → the (struct, member) pairs the file's tables store it in."""
    text = clean(text)
    out: dict[str, list[tuple[str, str]]] = {}
    for m in _TABLE.finditer(text):
        struct, start = m.group(1), m.end()
        depth, i = 1, start
        while i < len(text) and depth:
            c = text[i]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            i += 1
        for mm in _MEMBER.finditer(text, start, i):
            pair = (struct, mm.group(1))
            have = out.setdefault(mm.group(2), [])
            if pair not in have:
                have.append(pair)
    return {k: tuple(v) for k, v in out.items()}


def with_method_contracts(functions: list[C.Function], text: str,
                          model: LockModel) -> list[C.Function]:
    """The file's functions, each stored in a table member the lock model has a contract
    for given that contract as an annotation (``__must_hold``, or ``__releases`` for a
    method that must release what it is called with)."""
    if not model.methods or not functions:
        return functions
    table = assigned_methods(text)
    if not table:
        return functions
    by = {(m.struct, m.member): m for m in model.methods}
    out = []
    for f in functions:
        extra = []
        for pair in table.get(f.name, ()):
            m = by.get(pair)
            ann = _annotation(m, f) if m is not None else None
            if ann is not None and ann not in f.annotations:
                extra.append(ann)
        out.append(replace(f, annotations=f.annotations + tuple(extra)) if extra else f)
    return out


def _annotation(m: Method, f: C.Function) -> C.Annotation | None:
    from ..frontend.treesitter import parse_expression  # the frontend imports the index

    names = [p.name for p in f.params]
    types = [p.type for p in f.params]
    missing = False

    def param(mt: re.Match) -> str:
        nonlocal missing
        i = int(mt.group(1))
        if i >= len(names) or not names[i]:
            missing = True
            return "_"
        if m.folio and "folio" not in types[i]:
            return f"page_folio({names[i]})"  # a page's lock is its folio's
        return names[i]

    text = re.sub(r"\{(\d+)\}", param, m.holds)
    if missing:
        return None
    if m.releases:
        kind = C.ContractKind.RELEASES_SHARED if m.mode == "read" else C.ContractKind.RELEASES
    else:
        kind = C.ContractKind.MUST_HOLD_SHARED if m.mode == "read" \
            else C.ContractKind.MUST_HOLD
    return C.Annotation(str(kind), parse_expression(text), f"->{m.member} of {m.struct}",
                        m.keeps)
