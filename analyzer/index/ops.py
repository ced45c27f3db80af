"""Which functions a file stores in operations tables: ``.mmap = mmap_vmcore`` in a
``static const struct proc_ops vmcore_proc_ops = { … }``.

A function reached only through such a table has no caller the call graph can see; the
kernel documents what its callers hold instead (``->mmap`` is called with the mmap lock held
for write). The lock model's ``[[method]]`` entries carry those contracts
(:mod:`analyzer.model.methods` turns them into annotations); this module only finds the
tables, read as text: a file-scope ``struct NAME var = {`` or an array of them, its designated
members ``.member = function`` up to the matching ``}``.
"""

from __future__ import annotations

import re
from collections.abc import Container

from .bodies import clean

_TABLE = re.compile(r"^[ \t]*(?:(?:static|const|__maybe_unused|__ro_after_init|__read_mostly)"
                    r"\s+)*struct\s+(\w+)\s+\w+\s*(?:\[[^\]]*\])?\s*"
                    r"(?:__\w+\s*)*=\s*\{", re.M)
_MEMBER = re.compile(r"\.\s*(\w+)\s*=\s*&?\s*([A-Za-z_]\w*)\s*(?=[,}\n])")


def assigned_tables(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Each table (or array of tables) of the file: its struct, and the (member, name) of
    each designated member set to a name (``.mmap = mmap_vmcore``), in the order written."""
    text = clean(text)
    out: list[tuple[str, list[tuple[str, str]]]] = []
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
        out.append((struct, [(mm.group(1), mm.group(2))
                             for mm in _MEMBER.finditer(text, start, i)]))
    return out


def assigned_methods(text: str, functions: Container[str] | None = None,
                     least: int = 1) -> dict[str, tuple[tuple[str, str], ...]]:
    """Function name → the (struct, member) pairs the file's tables store it in. With
    ``functions`` (the names that are functions), only tables that set ``least`` members
    or more to them count: an operations table (``.open``, ``.read``, ``.release``…), not
    the holder of one callback (a ``notifier_block``'s ``.notifier_call``), whose member
    is called by whatever chain the block is on."""
    out: dict[str, list[tuple[str, str]]] = {}
    for struct, members in assigned_tables(text):
        if functions is not None and \
                len({member for member, name in members if name in functions}) < least:
            continue
        for member, name in members:
            pair = (struct, member)
            have = out.setdefault(name, [])
            if pair not in have:
                have.append(pair)
    return {k: tuple(v) for k, v in out.items()}
