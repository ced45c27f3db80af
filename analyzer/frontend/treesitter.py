"""tree-sitter frontend: kernel C text → ``cast.Function`` units.

The text is first rewritten by ``rewrite.py`` (same length, same offsets) so iterator macros,
scope guards and sparse annotations parse; the sites it rewrote tell this module which ``while``
was really ``list_for_each_entry_reverse`` and which ``if`` was a ``scoped_guard``. A function
whose subtree still holds a parse error is converted as far as possible and marked ``degraded``,
with its first parse error (``parse_error``: where, and why); unreadable statements become
``ExprStmt(Opaque)`` keeping the calls inside them. What a parse error hides entirely is listed
in ``ParsedFile.unreadable``: a function swallowed by another one whose body never closes, and
text outside any function the parser could not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

import tree_sitter as ts
import tree_sitter_c as tsc

from ..syntax import tree as C
from .rewrite import FrontendData, IteratorTable, Rewritten, load_data, rewrite


@lru_cache(maxsize=1)
def _parser() -> ts.Parser:
    return ts.Parser(ts.Language(tsc.language()))


@dataclass(frozen=True)
class StructDef:
    name: str
    fields: dict[str, str]  # field name → type text ("struct anon_vma *")
    # what the source says beside each member: (field, line, comment text), in order
    notes: tuple[tuple[str, int, str], ...] = ()
    doc: tuple[int, str] | None = None  # the comment block above the definition
    line: int = 0


@dataclass(frozen=True)
class ParsedFile:
    path: str
    functions: tuple[C.Function, ...]
    structs: tuple[StructDef, ...] = ()
    comments: tuple[tuple[int, str], ...] = field(default=(), compare=False)
    includes: tuple[str, ...] = ()
    error_nodes: int = 0
    # the clang frontend: header (static inline) functions the file's functions reach
    inline_functions: tuple[C.Function, ...] = ()
    frontend: str = "tree-sitter"
    prototypes: frozenset[str] = frozenset()  # functions declared at file scope
    globals: tuple[tuple[str, str], ...] = ()  # objects defined at file scope: (name, type)
    global_notes: tuple[tuple[str, int, str], ...] = ()  # what is said beside them
    # what a parse error hid from the analysis: (function, its parse error) for a function
    # swallowed whole (inside another one whose body does not close), ("", error) for text
    # outside any function that could not be read
    unreadable: tuple[tuple[str, C.ParseError], ...] = ()

    @property
    def degraded_functions(self) -> int:
        return sum(f.degraded for f in self.functions)


def parse_file(path: str, text: str, iterators: IteratorTable,
               data: FrontendData | None = None) -> ParsedFile:
    """Parse one file; ``data`` is the frontend data of the rules in use (default: built in)."""
    data = data or load_data()
    rw = rewrite(text, iterators, data)
    tree = _parser().parse(rw.text.encode("utf-8", "surrogateescape"))
    if len(rw.local):  # the file's own iterators: their positions, not the default ones
        iterators = rw.local.merge(iterators)
    conv = _Converter(path, rw.text.encode("utf-8", "surrogateescape"), rw, iterators,
                      original=text.encode("utf-8", "surrogateescape"), frontend=data)
    return conv.file(tree.root_node)


def parse_expression(text: str) -> C.Expr:
    """Parse a lone C expression (a contract argument, a rule pattern)."""
    wrapped = f"void __rmaplint_expr(void) {{ {text}; }}".encode()
    root = _parser().parse(wrapped).root_node
    conv = _Converter("<expr>", wrapped, None, None)
    fn = root.children[0] if root.children else None
    body = fn.child_by_field_name("body") if fn is not None else None
    if body is not None:
        for ch in body.named_children:
            if ch.type == "expression_statement" and ch.named_children:
                return conv.expr(ch.named_children[0])
    return C.Opaque(text)


_DECLARATOR_WRAPPERS = {
    "pointer_declarator", "array_declarator", "parenthesized_declarator",
    "attributed_declarator", "init_declarator", "function_declarator",
}


def _field(n: ts.Node, name: str) -> ts.Node:
    """A field the grammar always gives a node of this type (tree-sitter types it Optional)."""
    c = n.child_by_field_name(name)
    assert c is not None, (n.type, name)
    return c


class _Converter:
    def __init__(self, path: str, data: bytes, rw: Rewritten | None, iterators,
                 original: bytes | None = None, frontend: FrontendData | None = None):
        self.path = path
        self.frontend = frontend or load_data()
        self.data = data
        self.original = data if original is None else original  # before the rewrite
        self.rw = rw
        self.iterators = iterators
        self.byte_to_char = None
        if rw is not None and len(rw.text) != len(data):
            # non-ASCII text: site offsets are char offsets, tree-sitter gives bytes
            self.byte_to_char = _ByteToChar(data)
        self.errors = 0
        self.in_open_comment = False  # past an unterminated /* at file level
        self.hidden: list[tuple[str, C.ParseError]] = []
        self._nested: list[ts.Node] = []  # function definitions inside the current body

    # ------------------------------------------------------------------ helpers
    def text(self, n: ts.Node) -> str:
        return self.data[n.start_byte:n.end_byte].decode("utf-8", "surrogateescape")

    def span(self, n: ts.Node) -> C.Span:
        return C.Span(n.start_point[0] + 1, n.end_point[0] + 1, n.start_byte, n.end_byte)

    def char_offset(self, byte: int) -> int:
        return self.byte_to_char(byte) if self.byte_to_char else byte

    def column(self, byte: int) -> int:
        """1-based column (characters) of a byte offset."""
        start = self.original.rfind(b"\n", 0, byte) + 1
        return len(self.original[start:byte].decode("utf-8", "surrogateescape")) + 1

    def parse_error(self, node: ts.Node) -> C.ParseError | None:
        """The first parse error under ``node`` (an ERROR node or a token the parser had to
        assume, MISSING), in text order, with the number of them; None without any."""
        found: list[ts.Node] = []
        stack = [node]
        while stack:
            n = stack.pop()
            if n.is_error or n.is_missing:
                found.append(n)  # one error, whatever it holds
                continue
            if n.has_error:
                stack.extend(reversed(n.children))
        if not found:
            return None
        e = found[0]
        if e.is_missing:
            what = "an identifier" if e.type == "identifier" else \
                f"'{e.type}'" if not e.type.isidentifier() else f"a {e.type.replace('_', ' ')}"
            after = self.original[e.start_byte:e.start_byte + 200].decode(
                "utf-8", "surrogateescape").split()
            nxt = " ".join(after[:3])[:30] if after else ""
            message = f"expected {what}" + (f" before `{nxt}`" if nxt else " at the end")
        else:
            raw = self.original[e.start_byte:e.end_byte].decode("utf-8", "surrogateescape")
            text = " ".join(raw.split())
            if len(text) > 40:
                text = text[:39] + "\u2026"
            message = f"cannot parse `{text}`" if text else "parse error"
        return C.ParseError(e.start_point[0] + 1, self.column(e.start_byte), message,
                            len(found))

    # ------------------------------------------------------------------ file level
    def file(self, root: ts.Node) -> ParsedFile:
        functions: list[C.Function] = []
        structs: list[StructDef] = []
        comments: list[tuple[int, str]] = []
        includes: list[str] = []
        self.prototypes: set[str] = set()
        self.globals: dict[str, str] = {}
        self.global_notes: list[tuple[str, int, str]] = []
        self._top(root, functions, structs, comments, includes)
        return ParsedFile(self.path, tuple(functions), tuple(structs), tuple(comments),
                          tuple(includes), self.errors, prototypes=frozenset(self.prototypes),
                          globals=tuple(sorted(self.globals.items())),
                          global_notes=tuple(self.global_notes),
                          unreadable=tuple(self.hidden))

    def _top(self, node, functions, structs, comments, includes):
        prev = None
        for ch in node.children:
            before, prev = prev, (ch if ch.is_named and ch.type != "comment" else prev)
            if ch.type == "compound_statement" and before is not None:
                fn = self._macro_function(before, ch)
                if fn is not None:
                    functions.append(fn)
                else:
                    self._lost_body(before, ch, functions)
                continue
            if self.in_open_comment:
                return
            t = ch.type
            if t == "ERROR" and self.data.startswith(b"/*", ch.start_byte) \
                    and self.data.find(b"*/", ch.start_byte + 2) < 0:
                # a comment never closed: the rest of the file is comment text (the C
                # compiler's reading; tree-sitter would parse it as code after the error)
                self.errors += 1
                self.in_open_comment = True
                self.hidden.append(("", C.ParseError(
                    ch.start_point[0] + 1, self.column(ch.start_byte),
                    "comment never closed: the rest of the file is not read")))
                return
            if t == "function_definition":
                fn = self.function(ch)
                if fn is not None:
                    functions.append(fn)
                self._structs_in(ch.child_by_field_name("type"), structs)
            elif t == "comment":
                comments.append((ch.start_point[0] + 1, self.text(ch)))
            elif t == "preproc_include":
                p = ch.child_by_field_name("path")
                if p is not None:
                    includes.append(self.text(p).strip('<>"'))
            elif t in ("preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif",
                       "preproc_elifdef", "linkage_specification", "declaration_list"):
                self._top(ch, functions, structs, comments, includes)
            elif t == "ERROR":
                self.errors += 1
                self._functions_in_error(ch, functions)
                self._hidden_in(ch, functions)
            elif t in ("declaration", "type_definition", "struct_specifier"):
                if ch.has_error:  # what it holds may be a function it swallowed
                    self._hidden_in(ch, functions)
                self._structs_in(ch, structs)
                if t == "declaration":
                    self._file_scope_declaration(ch)

    def _file_scope_declaration(self, ch: ts.Node) -> None:
        """Prototypes, and file-scope objects with their types and what the source says
        beside them (a comment on the line or right above, ``__guarded_by(lock)``)."""
        base = self._named_type(ch.child_by_field_name("type"))
        said, annotated = self._said_beside(ch)
        if annotated is not None and base:  # `int balance __guarded_by(lock);`
            self.globals[annotated[0]] = (base + " " + annotated[1]).strip()
            self.global_notes.extend((annotated[0], ln, c) for ln, c in said)
            return
        for d in ch.children_by_field_name("declarator"):
            if _find_function_declarator(d) is not None:
                name, _ = _declarator_name(d)
                if name:
                    self.prototypes.add(name)
            else:  # a file-scope object: its type, for accesses of it and its members
                name, stars = _declarator_name(d)
                if name and base:
                    self.globals[name] = (base + " " + "*" * stars).strip()
                    self.global_notes.extend((name, ln, c) for ln, c in said)

    def _macro_function(self, head: ts.Node, body: ts.Node) -> C.Function | None:
        """``SYSCALL_DEFINE2(munmap, unsigned long, addr, size_t, len) { body }``: the
        function that the macro of rules/frontend.toml [function_macros] makes of the body."""
        if head.type != "expression_statement" or not head.named_children:
            return None
        call = self.expr(head.named_children[0])
        if not isinstance(call, C.Call) or call.name is None or not call.args:
            return None
        symbol = self.frontend.function_macros.get(call.name.rstrip("0123456789"))
        if symbol is None or not isinstance(call.args[0], C.Name):
            return None
        args_n = _field(head.named_children[0], "arguments")
        src = self.original  # types as written, not as rewritten
        inner = src[args_n.start_byte:args_n.end_byte].decode("utf-8", "surrogateescape")
        texts = _split_args(inner.strip()[1:-1])  # a type argument may read as several nodes
        params = []
        for i in range(1, len(texts) - 1, 2):
            params.append(C.Param(texts[i + 1].strip(), " ".join(texts[i].split())))
        self._comments: list[tuple[int, str]] = []
        self._nested = []
        cbody = self.compound(body)
        name = symbol.format(call.args[0].id)
        # the macro's head reads as a call statement with its ';' missing, and with types
        # for arguments (``struct x __user *, arg``): errors there are its shape, and the
        # parameters come from its text, so only the body's errors degrade the function
        degraded = body.has_error
        err = self.parse_error(body) if degraded else None
        self._swallowed(name, err)
        return C.Function(
            name=name, path=self.path,
            span=C.Span(head.start_point[0] + 1, body.end_point[0] + 1, head.start_byte,
                        body.end_byte),
            params=tuple(params), return_type="long", body=cbody, is_static=True,
            is_inline=True, degraded=degraded, comments=tuple(self._comments),
            parse_error=err)

    def _hidden_in(self, node: ts.Node, functions: list[C.Function]) -> None:
        """Functions file-level text the parser could not read holds and no recovery found:
        a kernel-style body (``{`` alone at the start of a line) under a head whose name is
        the identifier before its first ``(``; unnamed, the text itself ("")."""
        err = self.parse_error(node)
        if err is None:
            return
        raw = self.original[node.start_byte:node.end_byte]
        known = {f.name for f in functions}
        first = node.start_point[0] + 1
        where = f"in text the parser could not read (lines {first}-{node.end_point[0] + 1}: " \
            f"{err.message} at {err.line}:{err.column})"
        for m in _BODY_START.finditer(raw):
            head = _blank_comments(raw[:m.start()])
            head = head[max(head.rfind(b";"), head.rfind(b"}")) + 1:]
            found = self._head_name(head)
            line = first + raw.count(b"\n", 0, m.start())
            if found is None:
                self.hidden.append(("", replace(err, line=line, column=1, message=where)))
                continue
            fn, pos = found
            if fn not in known:
                known.add(fn)
                at = node.start_byte + m.start() - len(head) + pos
                self.hidden.append((fn, C.ParseError(
                    first + raw.count(b"\n", 0, at - node.start_byte), self.column(at), where)))

    def _head_name(self, head: bytes) -> tuple[str, int] | None:
        """The name a function head declares (the identifier before its first ``(``; for a
        macro of rules/frontend.toml [function_macros], the function it makes) and where the
        identifier is in ``head``."""
        m = _HEAD_NAME.search(head)
        if m is None:
            return None
        name = m.group(1).decode("utf-8", "surrogateescape")
        symbol = self.frontend.function_macros.get(name.rstrip("0123456789"))
        if symbol is not None:
            arg = re.match(rb"\s*([A-Za-z_]\w*)", head[m.end():])
            if arg is not None:
                name = symbol.format(arg.group(1).decode("utf-8", "surrogateescape"))
        return name, m.start(1)

    def _lost_body(self, before: ts.Node, body: ts.Node, functions: list[C.Function]) -> None:
        """A body at file level after text that is no function head (a parse error ate the
        head into the declaration before it): the function, named from the head's text, is
        never analysed."""
        if body.start_point[1] != 0:
            return  # a function body starts a line (kernel style): `= {...}` is data
        raw = _blank_comments(self.original[before.start_byte:body.start_byte])
        head = raw[max(raw.rfind(b";"), raw.rfind(b"}")) + 1:]
        found = self._head_name(head)
        if found is None:
            return
        fn, pos = found
        if fn in {f.name for f in functions} or any(n == fn for n, _ in self.hidden):
            return
        err = self.parse_error(before)
        why = f"{err.message} at {err.line}:{err.column}" if err is not None \
            else "no function head the parser could read"
        at = body.start_byte - len(head) + pos
        line = body.start_point[0] + 1 - head.count(b"\n", pos)
        self.hidden.append((fn, C.ParseError(line, self.column(at),
                                             f"its head is text the parser could not read "
                                             f"({why})")))

    def _swallowed(self, outer: str, err: C.ParseError | None) -> None:
        """The function definitions the body of ``outer`` (degraded: ``err``) holds: C has no
        nested functions, so a parse error left its body open and they are never analysed."""
        nested, self._nested = self._nested, []
        if err is None:
            return
        for n in nested:
            decl = n.child_by_field_name("declarator")
            name, _ = _declarator_name(_find_function_declarator(decl) if decl else None)
            if name:
                self.hidden.append((name, C.ParseError(
                    n.start_point[0] + 1, self.column(n.start_byte),
                    f"inside {outer}(), whose body a parse error leaves open "
                    f"({err.message} at {err.line}:{err.column})")))

    def _functions_in_error(self, node, functions, top=None):
        """Recover function bodies that a top-level parse error swallowed."""
        kids = node.children
        top = top if top is not None else node
        for i, ch in enumerate(kids):
            fn = None
            if ch.type == "function_definition":
                fn = self.function(ch, degraded=True)
            elif ch.type == "compound_statement" and i > 0:
                decl = _find_function_declarator(kids[i - 1])
                if decl is not None:
                    fn = self._function_parts(ch, decl, kids[i - 1], None, degraded=True,
                                              start=kids[i - 1])
            elif ch.type == "ERROR":
                self._functions_in_error(ch, functions, top)
            if fn is not None:
                if fn.parse_error is None:  # itself clean: the error is around it
                    fn = replace(fn, parse_error=C.ParseError(
                        fn.span.line, 1,
                        f"recovered from text the parser could not read (lines "
                        f"{top.start_point[0] + 1}-{top.end_point[0] + 1})"))
                functions.append(fn)

    def _structs_in(self, node, structs):
        if node is None:
            return
        stack = [node]
        while stack:
            n = stack.pop()
            if n.type == "struct_specifier":
                name = n.child_by_field_name("name")
                body = n.child_by_field_name("body")
                if name is not None and body is not None:
                    fields: dict[str, str] = {}
                    notes: list[tuple[str, int, str]] = []
                    self._fields_of(body, fields, notes)
                    structs.append(StructDef(self.text(name), fields, tuple(notes),
                                             self._doc_of(n), n.start_point[0] + 1))
            stack.extend(n.named_children)

    def _fields_of(self, body, fields: dict[str, str], notes: list[tuple[str, int, str]]):
        """The members of a struct body, an anonymous struct's or union's members as the
        struct's own (C11: they are), with the comments written beside or above each: the
        member's trailing comment on its line, and the comment block right above it."""
        for fd in body.children:
            if fd.type in ("preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif",
                           "preproc_elifdef"):
                self._fields_of(fd, fields, notes)  # every configuration's members
                continue
            if fd.type != "field_declaration":
                continue
            base_node = fd.child_by_field_name("type")
            decls = fd.children_by_field_name("declarator")
            if not decls and base_node is not None \
                    and base_node.type in ("struct_specifier", "union_specifier") \
                    and base_node.child_by_field_name("name") is None:
                inner = base_node.child_by_field_name("body")
                if inner is not None:
                    self._fields_of(inner, fields, notes)
                continue
            base = self._type_text(base_node)
            said, annotated = self._said_beside(fd)
            if annotated is not None:  # `int level __guarded_by(lock);`
                fields[annotated[0]] = (base + " " + annotated[1]).strip()
                notes.extend((annotated[0], ln, text) for ln, text in said)
                continue
            for d in decls:
                nm, stars = _declarator_name(d)
                if nm:
                    fields[nm] = (base + " " + "*" * stars).strip()
                    notes.extend((nm, ln, text) for ln, text in said)

    def _said_beside(self, n: ts.Node) -> tuple[list[tuple[int, str]],
                                                tuple[str, str] | None]:
        """What the source says beside a declaration (a member or a file-scope object): the
        comment block right above it (not the previous line's trailing comment), the comment
        on its last line, and a ``guarded_by`` annotation as written (the rewrite blanks
        attributes). With an annotation, the declared name and its ``*``s: tree-sitter reads
        ``int level __guarded_by(lock)`` as a function declarator."""
        said = []
        prev = n.prev_sibling
        if prev is not None and prev.type == "comment" \
                and prev.end_point[0] >= n.start_point[0] - 1 \
                and (prev.prev_sibling is None
                     or prev.prev_sibling.end_point[0] < prev.start_point[0]):
            said.append((prev.start_point[0] + 1, self.text(prev)))
        nxt = n.next_sibling
        if nxt is not None and nxt.type == "comment" and nxt.start_point[0] == n.end_point[0]:
            said.append((nxt.start_point[0] + 1, self.text(nxt)))
        written = self.original[n.start_byte:n.end_byte].decode("utf-8", "surrogateescape")
        if not re.search(r"guarded_by\s*\(", written, re.I):
            return said, None
        said.append((n.start_point[0] + 1, written))
        m = re.search(r"(\**)\s*(\w+)\s*(?:__)?\w*guarded_by\s*\(", written, re.I)
        return said, ((m.group(2), m.group(1)) if m else None)

    def _doc_of(self, n) -> tuple[int, str] | None:
        """The comment right above the declaration a struct definition starts (its
        kernel-doc block)."""
        top = n
        while top.parent is not None and top.parent.type in ("declaration", "type_definition"):
            top = top.parent
        prev = top.prev_sibling
        if prev is not None and prev.type == "comment" \
                and prev.end_point[0] >= top.start_point[0] - 1:
            return prev.start_point[0] + 1, self.text(prev)
        return None

    def _named_type(self, n) -> str:
        """A declaration's type as a name: ``struct ib_cm`` for ``struct ib_cm { … }``."""
        if n is None:
            return ""
        if n.type in ("struct_specifier", "union_specifier"):
            name = n.child_by_field_name("name")
            return f"{n.type.split('_')[0]} {self.text(name)}" if name is not None else ""
        return self._type_text(n)

    def _type_text(self, n) -> str:
        return " ".join(self.text(n).split()) if n is not None else ""

    # ------------------------------------------------------------------ functions
    def function(self, node: ts.Node, degraded: bool = False) -> C.Function | None:
        decl = node.child_by_field_name("declarator")
        body = node.child_by_field_name("body")
        fdecl = _find_function_declarator(decl) if decl is not None else None
        if fdecl is None or body is None:
            return None
        return self._function_parts(body, fdecl, decl, node, degraded or node.has_error,
                                    start=node)

    def _function_parts(self, body, fdecl, decl, node, degraded, start):
        name_node = fdecl.child_by_field_name("declarator")
        while name_node is not None and name_node.type not in ("identifier",):
            inner = name_node.child_by_field_name("declarator")
            if inner is None:
                break
            name_node = inner
        if name_node is None or name_node.type != "identifier":
            return None
        name = self.text(name_node)
        params: list[C.Param] = []
        plist = fdecl.child_by_field_name("parameters")
        if plist is not None:
            for p in plist.named_children:
                if p.type != "parameter_declaration":
                    continue
                pt = self._type_text(p.child_by_field_name("type"))
                pd = p.child_by_field_name("declarator")
                pname, stars = _declarator_name(pd) if pd is not None else (None, 0)
                if pt == "void" and pd is None:
                    continue  # f(void)
                # positions matter (summaries map arguments by index): an unnamed or
                # unreadable parameter keeps its place under a name no code can use
                params.append(C.Param(pname or f"__arg{len(params)}",
                                      (pt + " " + "*" * stars).strip()))
        head = self.data[start.start_byte:body.start_byte].decode("utf-8", "surrogateescape")
        words = set(head.replace("*", " ").replace("(", " ").split())
        ret_type = ""
        if node is not None:
            tn = node.child_by_field_name("type")
            ret_type = self._type_text(tn)
            _, stars = _declarator_name(decl)
            ret_type = (ret_type + " " + "*" * stars).strip()
        annotations = self._contracts(start.start_byte, body.start_byte)
        self._comments = []
        self._nested = []
        cbody = self.compound(body)
        degraded = bool(degraded or body.has_error)
        err = self.parse_error(node if node is not None else body) if degraded else None
        if degraded and err is None and node is None:
            err = self.parse_error(start)
        self._swallowed(name, err)
        return C.Function(
            name=name,
            path=self.path,
            span=self.span(start),
            params=tuple(params),
            return_type=ret_type,
            body=cbody,
            is_static="static" in words,
            is_inline=bool(words & INLINE_WORDS),
            annotations=annotations,
            degraded=degraded,
            comments=tuple(self._comments),
            parse_error=err,
            attributes=_attribute_words(
                self.original[start.start_byte:body.start_byte], words),
        )

    def text_of(self, s):
        return s

    def _contracts(self, start_byte: int, end_byte: int) -> tuple[C.Annotation, ...]:
        if self.rw is None:
            return ()
        lo, hi = self.char_offset(start_byte), self.char_offset(end_byte)
        out = []
        for c in self.rw.contracts:
            if lo <= c.offset < hi:
                out.append(C.Annotation(c.kind, parse_expression(c.arg)))
        return tuple(out)

    # ------------------------------------------------------------------ statements
    def compound(self, n: ts.Node) -> C.Compound:
        return C.Compound(self.span(n), tuple(self.block_items(n.children)))

    def block_items(self, children) -> list[C.Stmt]:
        out: list[C.Stmt] = []
        for ch in children:
            if not ch.is_named:
                continue
            out.extend(self.stmt_list(ch))
        return out

    def stmt_list(self, n: ts.Node) -> list[C.Stmt]:
        t = n.type
        if t == "declaration":
            return self.declaration(n)
        if t == "comment":
            self._comments.append((n.start_point[0] + 1, self.text(n)))
            return []
        if t == "function_definition":
            self._nested.append(n)  # a body that never closed: see _swallowed
            return []
        if t in ("preproc_call", "preproc_def", "preproc_function_def", "preproc_include",
                 "type_definition", "struct_specifier", "enum_specifier", "union_specifier"):
            return []
        s = self.stmt(n)
        return [s] if s is not None else []

    def stmt(self, n: ts.Node) -> C.Stmt | None:
        t = n.type
        sp = self.span(n)
        if t == "comment":
            self._comments.append((n.start_point[0] + 1, self.text(n)))
            return None
        if t == "compound_statement":
            return self.compound(n)
        if t == "expression_statement":
            e = n.named_children[0] if n.named_children else None
            if e is not None and e.type == "comment":
                self._comments.append((e.start_point[0] + 1, self.text(e)))
                e = None
            if e is None:
                return C.ExprStmt(sp, None)
            expr = self.expr(e)
            g = _as_guard(expr)
            if g is not None:
                return C.Guard(sp, g[0], g[1])
            return C.ExprStmt(sp, expr)
        if t == "if_statement":
            cond = self.expr(n.child_by_field_name("condition"))
            then = self.stmt_or_empty(n.child_by_field_name("consequence"), sp)
            alt = n.child_by_field_name("alternative")
            other = None
            if alt is not None:
                inner = alt.named_children[-1] if alt.type == "else_clause" else alt
                other = self.stmt_or_empty(inner, sp)
            site = self._site(n, "guard")
            if site is not None:
                return scoped_guard(sp, site, _comma_items(cond), then, self.frontend)
            return C.If(sp, cond, then, other)
        if t == "while_statement":
            cond = self.expr(n.child_by_field_name("condition"))
            body = self.stmt_or_empty(n.child_by_field_name("body"), sp)
            macro = self._site(n, "iter")
            if macro is not None:
                return iter_loop(sp, macro, _comma_items(cond), self.iterators, body)
            return C.While(sp, cond, body)
        if t == "do_statement":
            return C.DoWhile(sp, self.stmt_or_empty(n.child_by_field_name("body"), sp),
                             self.expr(n.child_by_field_name("condition")))
        if t == "for_statement":
            init: list[C.Stmt] = []
            ini = n.child_by_field_name("initializer")
            if ini is not None:
                if ini.type == "declaration":
                    init.extend(self.declaration(ini))
                else:
                    init.append(C.ExprStmt(self.span(ini), self.expr(ini)))
            cond_n = n.child_by_field_name("condition")
            step_n = n.child_by_field_name("update")
            return C.For(sp, tuple(init), self.expr(cond_n) if cond_n is not None else None,
                         self.expr(step_n) if step_n is not None else None,
                         self.stmt_or_empty(n.child_by_field_name("body"), sp))
        if t == "switch_statement":
            return C.Switch(sp, self.expr(n.child_by_field_name("condition")),
                            self.stmt_or_empty(n.child_by_field_name("body"), sp))
        if t == "case_statement":
            v = n.child_by_field_name("value")
            kids = [c for c in n.children if c.is_named and c != v]
            return C.Case(sp, self.expr(v) if v is not None else None,
                          tuple(self.block_items(kids)))
        if t == "labeled_statement":
            lab = n.child_by_field_name("label")
            kids = []
            for c in n.named_children:
                if c.type == "comment":
                    self._comments.append((c.start_point[0] + 1, self.text(c)))
                elif c != lab:
                    kids.append(c)
            lbody = None
            for k in kids:
                lbody = self.stmt(k)
                if lbody is not None:
                    break
            assert lab is not None
            return C.Label(sp, self.text(lab), lbody)
        if t == "goto_statement":
            return C.Goto(sp, self.text(_field(n, "label")))
        if t == "break_statement":
            return C.Break(sp)
        if t == "continue_statement":
            return C.Continue(sp)
        if t == "return_statement":
            e = n.named_children[0] if n.named_children else None
            return C.Return(sp, self.expr(e) if e is not None and e.type != "comment" else None)
        if t in ("preproc_if", "preproc_ifdef", "preproc_elif", "preproc_else",
                 "preproc_elifdef"):
            return self.preproc(n)
        if t == "attributed_statement":
            kids = [c for c in n.named_children if c.type != "attribute_declaration"]
            return self.stmt(kids[0]) if kids else C.ExprStmt(sp, None)
        if t in ("declaration",):
            ds = self.declaration(n)
            return C.Compound(sp, tuple(ds))
        if t == "ERROR" or n.is_missing:
            self.errors += 1
            return self.unreadable(n)
        if t.endswith("_expression") or t in ("identifier", "call_expression"):
            return C.ExprStmt(sp, self.expr(n))
        return self.unreadable(n)

    def stmt_or_empty(self, n, sp) -> C.Stmt:
        if n is None:
            return C.ExprStmt(sp, None)
        s = self.stmt(n)
        return s if s is not None else C.ExprStmt(self.span(n), None)

    def unreadable(self, n: ts.Node) -> C.Stmt:
        """A parse-error region: keep the calls (a lock call must not vanish)."""
        calls = tuple(self._calls_below(n))
        return C.ExprStmt(self.span(n), C.Opaque(self.text(n), calls))

    def _calls_below(self, n):
        stack = [n]
        found = []
        while stack:
            x = stack.pop()
            if x.type == "call_expression":
                e = self.expr(x)
                if isinstance(e, C.Call):
                    found.append((x.start_byte, e))
                continue
            stack.extend(x.named_children)
        return [c for _, c in sorted(found, key=lambda p: p[0])]

    def preproc(self, n: ts.Node) -> C.Stmt:
        """``#ifdef`` inside a body: either branch may be compiled, so both are paths."""
        sp = self.span(n)
        cond_n = n.child_by_field_name("condition") or n.child_by_field_name("name")
        cond = C.Opaque("#if " + (self.text(cond_n) if cond_n is not None else "?"))
        alt = n.child_by_field_name("alternative")
        kids = [c for c in n.children if c.is_named and c not in (cond_n, alt)]
        then = C.Compound(sp, tuple(self.block_items(kids)))
        if n.type == "preproc_else":
            return then  # the last alternative: taken when no branch above is
        other = self.preproc(alt) if alt is not None else None
        return C.If(sp, cond, then, other)

    def declaration(self, n: ts.Node) -> list[C.Stmt]:
        base = self._type_text(n.child_by_field_name("type"))
        out: list[C.Stmt] = []
        for d in n.children_by_field_name("declarator"):
            name, stars = _declarator_name(d)
            if name is None:
                continue
            init = None
            if d.type == "init_declarator":
                v = d.child_by_field_name("value")
                if v is not None:
                    init = self.expr(v)
            out.append(C.Decl(self.span(d if len(out) else n), name,
                              (base + " " + "*" * stars).strip(), init))
        return out

    def _site(self, n: ts.Node, kind: str) -> str | None:
        if self.rw is None:
            return None
        off = self.char_offset(n.start_byte)
        sites = self.rw.iter_sites if kind == "iter" else self.rw.guard_sites
        return sites.get(off)

    # ------------------------------------------------------------------ expressions
    def expr(self, n: ts.Node | None) -> C.Expr:
        if n is None:
            return C.Opaque("")
        t = n.type
        if t == "identifier" or t in ("true", "false", "field_identifier"):
            if t == "identifier" and self.rw is not None and self.rw.type_sites \
                    and self.char_offset(n.start_byte) in self.rw.type_sites:
                return C.Opaque(self.text(n))  # a type argument: no object
            return C.Name(self.text(n))
        if t == "null":
            return C.Name("NULL")
        if t in ("number_literal", "string_literal", "char_literal", "concatenated_string",
                 "system_lib_string"):
            return C.Literal(self.text(n))
        if t == "parenthesized_expression":
            kids = [c for c in n.named_children if c.type != "comment"]
            return self.expr(kids[0]) if kids else C.Opaque(self.text(n))
        if t == "field_expression":
            op = n.child_by_field_name("operator")
            return C.Member(self.expr(n.child_by_field_name("argument")),
                            self.text(_field(n, "field")),
                            op is not None and self.text(op) == "->")
        if t == "pointer_expression":
            return C.Unary(self.text(_field(n, "operator")),
                           self.expr(n.child_by_field_name("argument")))
        if t == "unary_expression":
            return C.Unary(self.text(_field(n, "operator")),
                           self.expr(n.child_by_field_name("argument")))
        if t == "update_expression":
            op = _field(n, "operator")
            arg = _field(n, "argument")
            optext = self.text(op)
            if op.start_byte > arg.start_byte:
                optext = "p" + optext
            return C.Unary(optext, self.expr(arg))
        if t == "binary_expression":
            return C.Binary(self.text(_field(n, "operator")),
                            self.expr(n.child_by_field_name("left")),
                            self.expr(n.child_by_field_name("right")))
        if t == "assignment_expression":
            return C.Assign(self.text(_field(n, "operator")),
                            self.expr(n.child_by_field_name("left")),
                            self.expr(n.child_by_field_name("right")))
        if t == "call_expression":
            args_n = n.child_by_field_name("arguments")
            args = tuple(self.expr(a) for a in args_n.named_children if a.type != "comment") \
                if args_n is not None else ()
            return C.Call(self.expr(n.child_by_field_name("function")), args)
        if t == "conditional_expression":
            cons = n.child_by_field_name("consequence")
            test = self.expr(n.child_by_field_name("condition"))
            return C.Ternary(test, self.expr(cons) if cons is not None else test,
                             self.expr(n.child_by_field_name("alternative")))
        if t == "cast_expression":
            return C.Cast(self._type_text(n.child_by_field_name("type")),
                          self.expr(n.child_by_field_name("value")))
        if t == "subscript_expression":
            return C.Index(self.expr(n.child_by_field_name("argument")),
                           self.expr(n.child_by_field_name("index")))
        if t == "comma_expression":
            items = _comma_items(C.Comma((self.expr(n.child_by_field_name("left")),
                                          self.expr(n.child_by_field_name("right")))))
            return C.Comma(tuple(items))
        if t == "ERROR":
            self.errors += 1
        return C.Opaque(self.text(n), tuple(self._calls_below_inner(n)))

    def _calls_below_inner(self, n):
        return [c for c in self._calls_below(n)] if n.named_child_count else []


INLINE_WORDS = frozenset({"inline", "__always_inline", "__inline__"})
_BODY_START = re.compile(rb"^\{", re.M)  # a function body, kernel style
_HEAD_NAME = re.compile(rb"([A-Za-z_]\w*)\s*\(")  # the function's name in its head
_COMMENT = re.compile(rb"/\*.*?\*/|//[^\n]*", re.S)


def _blank_comments(text: bytes) -> bytes:
    """``text`` with its comments turned into spaces (newlines kept: offsets stay)."""
    return _COMMENT.sub(lambda m: re.sub(rb"[^\n]", b" ", m.group(0)), text)


def scoped_guard(sp: C.Span, macro: str, args, body: C.Stmt,
                 data: FrontendData | None = None) -> C.ScopedGuard:
    """``scoped_guard(class, lock…) body`` from the macro's arguments (both frontends)."""
    args = list(args)
    stmt_arg = (data or load_data()).guards.get(macro)
    if stmt_arg is not None and stmt_arg < len(args):
        # scoped_cond_guard's failure action (blanked to `0`) is no lock argument
        args = args[:stmt_arg] + args[stmt_arg + 1:]
    cls = C.render(args[0]) if args else ""
    return C.ScopedGuard(sp, cls, tuple(args[1:]), body)


def iter_loop(sp: C.Span, macro: str, args, iterators: IteratorTable | None,
              body: C.Stmt) -> C.IterLoop:
    """A for-each macro's loop: the cursor and the walked object are the arguments at the
    positions the iterator table gives (else the first and the second)."""
    args = tuple(args)
    it = iterators.get(macro) if iterators is not None else None
    cur_i = it.cursor if it is not None else 0
    obj_i = it.object if it is not None else 1
    cursor = args[cur_i] if cur_i is not None and cur_i < len(args) else None
    obj = args[obj_i] if obj_i is not None and obj_i < len(args) else None
    temp = args[it.temp] if it is not None and it.temp is not None and it.temp < len(args) \
        else None
    return C.IterLoop(sp, macro, args, cursor, obj, body,
                      it is not None and it.from_object and obj is not None, temp)


def _comma_items(e: C.Expr) -> list[C.Expr]:
    if isinstance(e, C.Comma):
        out: list[C.Expr] = []
        for x in e.items:
            out.extend(_comma_items(x))
        return out
    return [e]


def _as_guard(e: C.Expr):
    """``guard(cls)(args)`` → (cls, args)."""
    if isinstance(e, C.Call) and isinstance(e.func, C.Call) and e.func.name == "guard" \
            and e.func.args:
        return C.render(e.func.args[0]), tuple(e.args)
    return None


def _find_function_declarator(n: ts.Node | None) -> ts.Node | None:
    while n is not None:
        if n.type == "function_declarator":
            # `int (*f(void))(int)` — the outer declarator is the real function
            return n
        if n.type in _DECLARATOR_WRAPPERS:
            n = n.child_by_field_name("declarator")
            continue
        return None
    return None


def _attribute_words(original: bytes, kept: set[str]) -> tuple[str, ...]:
    """The ``__word`` attributes of a function's head as written that the rewrite blanked
    (``__init``, ``__meminit``): the section a function lives in says who can run it."""
    text = original.decode("utf-8", "surrogateescape")
    return tuple(sorted({w for w in re.findall(r"\b__\w+", text) if w not in kept}))


def _declarator_name(n: ts.Node | None) -> tuple[str | None, int]:
    """Name and pointer depth of a declarator (``*const *p`` → ("p", 2))."""
    stars = 0
    while n is not None:
        if n.type in ("identifier", "field_identifier", "type_identifier"):
            text = n.text
            assert text is not None  # the tree was parsed from bytes, so every node has text
            return text.decode("utf-8", "surrogateescape"), stars
        if n.type == "pointer_declarator":
            stars += 1
        if n.type == "function_declarator":
            n = n.child_by_field_name("declarator")
            continue
        nxt = n.child_by_field_name("declarator")
        if nxt is None:  # parenthesized_declarator and friends: no field, one inner declarator
            for c in n.named_children:
                if c.type in ("identifier", "field_identifier") or c.type.endswith("declarator"):
                    nxt = c
                    break
        n = nxt
    return None, stars


class _ByteToChar:
    """Map byte offsets to str offsets for texts with multi-byte characters."""

    def __init__(self, data: bytes):
        import bisect

        self._bisect = bisect.bisect_right
        starts = []
        extra = []
        delta = 0
        i = 0
        n = len(data)
        while i < n:
            b = data[i]
            if b < 0x80:
                i += 1
                continue
            size = 2 if b >= 0xC0 and b < 0xE0 else 3 if b >= 0xE0 and b < 0xF0 else \
                4 if b >= 0xF0 else 1
            i += size
            delta += size - 1
            starts.append(i)
            extra.append(delta)
        self.starts = starts
        self.extra = extra

    def __call__(self, byte: int) -> int:
        k = self._bisect(self.starts, byte)
        return byte - (self.extra[k - 1] if k else 0)


def _split_args(text: str) -> list[str]:
    """A macro call's argument text split at its top-level commas (comments dropped)."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return out
