"""Contracts of operations-table members: a function stored as ``.mmap = f`` in a
``struct file_operations`` gets the lock model's ``[[method]]`` contract for ``->mmap`` as an
annotation, as if it were written ``__must_hold(…)`` on its definition.

The tables are found by :func:`analyzer.index.ops.assigned_methods` (text below the model);
this module joins them with the lock model, which is why it lives in the model layer.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ..frontend.treesitter import parse_expression
from ..index.ops import assigned_methods
from ..syntax import tree as C
from .lockmodel import LockModel, Method


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
