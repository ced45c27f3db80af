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
