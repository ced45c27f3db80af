"""Declared protection: what the tree's comments on struct members say guards them.

Read from a member's own comment (``struct anon_vma *anon_vma; /* Serialized by
page_table_lock */``), the comment block right above it, the struct's kernel-doc
(``@pmd_huge_pte: Protected by ptdesc->ptl``) and a ``__guarded_by(lock)`` annotation. The
phrases that introduce a lock are data (``protected.toml`` ``[guards] declared``).

A named lock becomes a template over the member's object, resolved against the struct types:

* ``lock`` — a lock member of the struct itself: ``{obj}->lock``;
* ``mmap_lock`` — a lock member of a struct the struct points to, through exactly one member
  (``vm_mm``): ``{obj}->vm_mm->mmap_lock``;
* ``mm->page_table_lock`` — the same, the owner named by its struct (``mm`` for
  ``mm_struct``), or the struct itself named (``zone->lock`` in ``struct zone``);
* anything else that is one identifier: a global lock of that name.

A mention this cannot resolve (two members could be meant, the lock is no member of the named
struct, the words name no lock) is kept as a :class:`Mention` with the reason: ``rmaplint
mine`` lists those, and nothing guesses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..checks.common import comment_body
from ..model.lockmodel import Access, Guard, LockModel

_NAME = r"[A-Za-z_]\w*"
_LOCK = rf"(?:&\s*)?({_NAME}(?:(?:->|\.){_NAME})*)(\(\))?"
_KDOC = re.compile(r"^\s*@(\w+)\s*:\s*(.*)$")
_PROTECTS = re.compile(r"\b(protect|serializ|serialis|guard)", re.I)
_RW = re.compile(r"\bW\s*:\s*[^,;]+[,;]\s*R\s*:", re.I)
_NOT_LOCKS = frozenset({"the", "a", "an", "this", "that", "its", "their", "caller", "callers",
                        "it", "either", "both", "holding", "taking", "same"})


@dataclass(frozen=True)
class Mention:
    """A member comment that speaks of protection in words this reading cannot resolve."""

    struct: str
    field: str
    where: str  # path:line
    text: str
    why: str

    def to_json(self) -> dict:
        return {"struct": self.struct, "field": self.field, "where": self.where,
                "text": self.text, "why": self.why}


def member_notes(doc: tuple[int, str] | None,
                 notes: Iterable[tuple[str, int, str]]) -> list[tuple[str, int, str]]:
    """Each member's comments (its own, and its paragraph of the struct's kernel-doc)."""
    out = [(f, ln, comment_body(t)) for f, ln, t in notes]
    if doc is None:
        return out
    first, text = doc
    cur: tuple[str, int, list[str]] | None = None
    for i, line in enumerate(comment_body(text).splitlines()):
        m = _KDOC.match(line)
        if m:
            if cur is not None:
                out.append((cur[0], cur[1], " ".join(cur[2])))
            cur = (m.group(1), first + i, [m.group(2)])
        elif cur is not None and line.strip():
            cur[2].append(line.strip())
        elif cur is not None:
            out.append((cur[0], cur[1], " ".join(cur[2])))
            cur = None
    if cur is not None:
        out.append((cur[0], cur[1], " ".join(cur[2])))
    return out


def declared_guards(path: str, structs: Iterable, fields_of: Mapping[str, Mapping[str, str]],
                    model: LockModel) -> tuple[list[Guard], list[Mention]]:
    """The guards a file's struct definitions declare, and what it says that cannot be
    resolved. ``structs``: the file's :class:`StructDef` values; ``fields_of``: every struct
    the types know (to follow a member's pointer to its struct)."""
    rules = model.protected.guard_rules
    phrase = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in rules.declared) + r")\s+"
                        + _LOCK, re.I) if rules.declared else None
    annot = re.compile(r"\b(?:" + "|".join(re.escape(a) for a in rules.annotations)
                       + r")\s*\(\s*" + _LOCK + r"\s*\)") if rules.annotations else None
    guards: list[Guard] = []
    mentions: list[Mention] = []
    for sd in structs:
        fields = dict(sd.fields)
        for fname, line, text in member_notes(sd.doc, sd.notes):
            if fname not in fields:
                continue
            where = f"{path}:{line}"
            flat = " ".join(text.split())
            if model.is_lock_type(fields[fname]):
                # a lock member's comment says what it protects: the members it names
                named = [f for f in _members_named(flat, fields)
                         if f != fname and not model.is_lock_type(fields[f])]
                if named and _PROTECTS.search(flat):
                    for f in named:
                        guards += _both(sd.name, f, "{obj}->" + fname, where)
                elif _RW.search(flat) or _PROTECTS.search(flat):
                    mentions.append(Mention(sd.name, fname, where, flat,
                                            "a lock member's comment says what it serialises "
                                            "but names no member"))
                continue
            found = [m.group(1) for m in annot.finditer(flat)] if annot else []
            said = list(phrase.finditer(flat)) if phrase else []
            found += [m.group(1) for m in said]
            if said:  # "zone_start_pfn and spanned_pages are protected by …": those members
                sentence = re.split(r"(?<=[.;:])\s", flat[:said[0].start()])[-1]
                named = _members_named(sentence, fields)
                if named and fname not in named:
                    for other in dict.fromkeys(named):
                        tpl, _ = resolve(sd.name, fields, said[0].group(1), fields_of, model)
                        if tpl is not None:
                            guards += _both(sd.name, other, tpl, where)
                    continue
            if not found:
                continue
            for raw in found:
                lock = " ".join(raw.split()).replace(" ", "")
                tpl, why = resolve(sd.name, fields, lock, fields_of, model)
                if tpl is None:
                    mentions.append(Mention(sd.name, fname, where, flat, why))
                    continue
                guards += _both(sd.name, fname, tpl, where)
                break  # the first lock a comment names guards the member
    return guards, mentions


def _both(struct: str, field: str, lock: str, where: str) -> list[Guard]:
    """A declared guard covers both kinds of access (check decides where reads count)."""
    return [Guard(struct, field, lock, acc, "declared", where=where)
            for acc in (Access.WRITE, Access.READ)]


def _members_named(text: str, fields: Mapping[str, str]) -> list[str]:
    """The struct's members a sentence names, in order: identifiers that are members and
    read as code (an underscore or a digit in them, or written ``->name``) — "list" or
    "flags" in prose is a word, not a member — up to a "except"/"other than" (what follows
    is excluded, not named)."""
    text = re.split(r"\b(?:other than|except|but not|apart from)\b", text, flags=re.I)[0]
    out = []
    for m in re.finditer(r"(->|\.)?\b(" + _NAME + r")\b", text):
        name = m.group(2)
        if name in fields and (m.group(1) or re.search(r"[_\d]", name)):
            out.append(name)
    return list(dict.fromkeys(out))


def resolve(struct: str, fields: Mapping[str, str], lock: str,
            fields_of: Mapping[str, Mapping[str, str]],
            model: LockModel) -> tuple[str | None, str]:
    """The template of a lock named in a member's comment of ``struct`` (None: why not)."""
    parts = re.split(r"->|\.", lock)
    if parts[0].lower() in _NOT_LOCKS:
        return None, f"'{lock}' names no lock"
    if not struct:  # a file-scope object: guarded by a global lock
        if "->" in lock:
            return None, f"'{lock}' is reached through a pointer: no global lock"
        if len(parts) == 1 and parts[0] in fields and not model.is_lock_type(fields[parts[0]]):
            return None, f"'{lock}' is a file-scope object but not a lock"
        if len(parts) == 1 and parts[0] not in fields \
                and not re.search(r"lock|mutex|sem|rcu", lock, re.I):
            return None, f"'{lock}' does not name a lock"
        return lock, ""

    def is_lock(t: str | None) -> bool:
        return t is None or model.is_lock_type(t)  # unknown type: trust the comment

    if len(parts) == 1 and parts[0].lower() in ("rcu", "srcu"):
        return None, (f"'{lock}': readers need an RCU read-side section, not a lock (the "
                      f"engine does not track RCU sections yet)")
    if len(parts) == 1:
        name = parts[0]
        if name in fields:
            if not is_lock(fields[name]):
                return None, f"'{name}' is a member of struct {struct} but not a lock"
            return "{obj}->" + name, ""
        via = [f for f, t in fields.items()
               if (st := _pointee(t)) is not None and name in fields_of.get(st, {})
               and model.is_lock_type(fields_of[st][name])]
        if len(via) == 1:
            return "{obj}->" + via[0] + "->" + name, ""
        if len(via) > 1:
            return None, (f"'{name}' is a lock of the structs that members "
                          f"{', '.join(via)} point to: which one is meant is not said")
        if not re.search(r"lock|mutex|sem|rcu", name, re.I):
            return None, f"'{name}' is no member of struct {struct} and does not name a lock"
        return name, ""  # a global lock
    owner, rest = parts[0], parts[1:]
    tail = "->".join(rest)
    if owner == struct or struct.removesuffix("_struct") == owner \
            or (owner not in fields and rest[0] in fields and is_lock(fields[rest[0]])
                and len(rest) == 1):
        if rest[0] not in fields:
            return None, f"'{rest[0]}' is no member of struct {struct}"
        return "{obj}->" + tail, ""
    if owner in fields:
        return "{obj}->" + owner + "->" + tail, ""
    via = [f for f, t in fields.items()
           if (st := _pointee(t)) is not None
           and (st == owner or st.removesuffix("_struct") == owner)]
    if len(via) == 1:
        st = _pointee(fields[via[0]])
        if st is not None and st in fields_of and rest[0] not in fields_of[st]:
            return None, f"'{rest[0]}' is no member of struct {st}"
        return "{obj}->" + via[0] + "->" + tail, ""
    if len(via) > 1:
        return None, (f"'{owner}' could be any of members {', '.join(via)} of "
                      f"struct {struct}")
    return None, f"'{owner}' is neither struct {struct} nor a struct it points to"


def _pointee(t: str) -> str | None:
    """``struct mm_struct *`` → ``mm_struct`` (a pointer to a struct only)."""
    m = re.fullmatch(r"(?:const\s+)?struct\s+(\w+)\s*\*", " ".join(t.split()))
    return m.group(1) if m else None
