"""The pipeline for one tree: parse (cached by blob id), build CFGs, solve lock states.

A ``Project`` owns what is shared by every file of one tree and depends on content only: the
lock model, the iterator macros learned from the tree, parsed files (a pure function of a
blob), the header bodies that summaries are derived from, the index of non-static definitions
and the tree comments rules read. ``analyse_file`` gives every function of a file as a frozen
:class:`~analyzer.locks.result.FunctionResult`.

What one file's analysis reads is exactly what its :class:`Deps` record: the file, its
includes, the configured headers, and the other files of the tree whose functions it called
(found through the definitions index). Struct types come from the file, its includes and the
configured type headers only, never from whatever else the process parsed before, so a file
gets the same findings in a one-file run, a whole-tree run, a worker process or the cache.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import time
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING

from ..errors import InputError
from ..frontend.macros import macro_function, object_macros
from ..frontend.rewrite import IteratorTable, learn_iterators
from ..frontend.treesitter import ParsedFile, StructDef, parse_expression, parse_file
from ..index.bodies import Body, FileBodies, bodies
from ..index.callers import CALLERS_VERSION, CallerIndex, TreeDefinitions, called_names, digest_of
from ..index.definitions import INDEX_VERSION, DefinitionIndex, DefKind, scan
from ..locks.dataflow import solve_functions
from ..locks.result import Deps, FileAnalysis, FileStatus
from ..locks.retakes import Changes, Pins, Retakes, Touches
from ..locks.sleeps import SleepChains
from ..locks.summaries import FunctionIndex, Summaries
from ..locks.types import TypeInfo
from ..mining.declared import declared_guards
from ..model.lockmodel import LockModel
from ..model.methods import with_method_contracts
from ..source.reader import Source, SourceFile
from ..syntax import tree as C
from ..syntax.consteval import value as const_value
from .cache import Cache

if TYPE_CHECKING:
    from ..frontend.clang import BuildConfig, ClangFrontend
    from ..frontend.kconfig import KernelConfig

PARSE_VERSION = "5"  # 5: IterLoop.from_object; 4: StructDef.notes, anonymous members
# flattened, globals, attributes
NORETURN_KEY = "noreturn:"  # Deps lookups of "is it declared __noreturn"
TREEDEF_KEY = "treedef:"  # Deps lookups of "which C files define it, tree-wide"


# reads the callers-index entries of many files (path, identity) at once, in that order
ReadMany = Callable[[list[tuple[str, str]]], list[tuple[str, tuple[str, ...]]]]


class Project:
    def __init__(self, source: Source, model: LockModel, cache: Cache | None = None,
                 iterators: IteratorTable | None = None, clang: BuildConfig | None = None,
                 config: KernelConfig | None = None):
        self.source = source
        self.config = config  # tree-sitter: read #if chains in this configuration
        self.clang = clang  # parse C files with libclang on this prepared tree
        self._clang_fe: ClangFrontend | None = None
        self.model = model
        self.cache = cache or Cache(None)
        self._iterators = iterators
        self._parsed: dict[str, ParsedFile | None] = {}
        self._header_funcs: dict[str, dict[str, C.Function]] = {}
        self._defs: dict[str, str] | None = None
        self._index: DefinitionIndex | None = None
        self._callers: CallerIndex | None = None
        self._tree_defs: TreeDefinitions | None = None
        self._bodies: dict[str, FileBodies] = {}
        self._tree_idents: dict[tuple[str, ...], tuple[list[tuple[str, str]], str,
                                                       tuple[str, ...]]] = {}
        self._macros: dict[tuple[str, str], C.Function | None] = {}
        self._macro_names: dict[str, frozenset[str]] = {}
        self._object_macros: dict[str, dict[str, str | None]] = {}
        self._comments: dict[tuple[str, str], str | None] = {}

    # ------------------------------------------------------------ shared tree data
    def share_tree_tables(self, other: Project) -> None:
        """Use ``other``'s tables of the same tree — learned iterators, the definitions
        index, parsed files and tree comments — which are functions of the tree's content
        only (never of what was analysed), so a one-file run with them is that run."""
        other.iterators, other.index()  # computed once, there
        self._iterators = other._iterators
        self._index = other._index
        self._parsed = other._parsed
        self._header_funcs = other._header_funcs
        self._comments = other._comments

    @property
    def iterators(self) -> IteratorTable:
        if self._iterators is None:
            self._iterators = self._learn_iterators()
        return self._iterators

    @property
    def frontend_data(self):
        from ..frontend.rewrite import load_data

        return self.model.frontend or load_data()

    def _learn_iterators(self) -> IteratorTable:
        data = self.frontend_data
        clang = None
        if self.source.exists(".clang-format"):
            clang = self.source.read(".clang-format").text
        texts = []
        for p in self.engine_headers("iterator_headers"):
            try:
                texts.append(self.source.read(p).text)
            except InputError:
                continue
        return learn_iterators(texts, clang, data.fallback, data=data)

    def engine_headers(self, key: str) -> list[str]:
        out = []
        for pat in getattr(self.model.engine, key):
            if pat.endswith("/*.h"):
                out.extend(self.source.glob(pat[:-4], ".h"))
            elif self.source.exists(pat):
                out.append(pat)
        return out

    @cached_property
    def salt(self) -> str:
        h = hashlib.sha1(PARSE_VERSION.encode())
        h.update(self.frontend_name.encode())
        if self.clang is not None:
            h.update(self.clang.config_digest.encode())
        if self.config is not None:
            h.update(b"config:" + self.config.digest.encode())
        h.update(",".join(sorted(f"{m.name}{m.cursor}{m.object}{m.from_object}{m.temp}"
                                 for m in self.iterators)).encode())
        for tc in self.model.tree_comments():  # rules' results depend on them
            h.update(f"\0{tc.path}\0{self.tree_comment(tc.path, tc.marker)}".encode())
        return h.hexdigest()

    def tree_comment(self, path: str, marker: str) -> str | None:
        """The block comment of the analysed tree's ``path`` containing ``marker`` (data the
        tree states about itself, e.g. mm/rmap.c's lock hierarchy); None when missing."""
        if (path, marker) not in self._comments:
            text = None
            try:
                src = self.source.read(path).text
            except InputError:
                src = ""
            at = src.find(marker)
            if at >= 0:
                start = src.rfind("/*", 0, at)
                end = src.find("*/", at)
                if start >= 0 and end >= 0:
                    text = src[start:end + 2]
            self._comments[(path, marker)] = text
        return self._comments[(path, marker)]

    # ------------------------------------------------------------ parsing
    def parse(self, path: str) -> ParsedFile | None:
        if path in self._parsed:
            return self._parsed[path]
        try:
            sf = self.source.read(path)
        except InputError:
            self._parsed[path] = None
            return None
        pf = self.parse_source(sf)
        self._parsed[path] = pf
        return pf

    @property
    def frontend_name(self) -> str:
        return "clang" if self.clang is not None else "tree-sitter"

    def parse_source(self, sf: SourceFile) -> ParsedFile:
        if self.clang is not None and sf.path.endswith(".c"):
            # headers are read through the C files that include them; a header named on
            # its own is no translation unit and stays with tree-sitter
            if self._clang_fe is None:
                from ..frontend.clang import ClangFrontend

                self._clang_fe = ClangFrontend(self.clang, self.iterators, self.frontend_data)
            return self._clang_fe.parse_file(sf.path, sf.text)
        if self.config is not None:
            sf = replace(sf, text=self.config.apply(sf.text))
        if not sf.path.endswith(".h"):
            # a .c file's results are cached whole; pickling its syntax tree too cost more
            # than parsing it again (headers are parsed for every file that includes them)
            return parse_file(sf.path, sf.text, self.iterators, self.frontend_data)
        key = hashlib.sha1((sf.blob_id + sf.path + self.salt).encode()).hexdigest()
        hit = self.cache.get("parse", key)
        if isinstance(hit, ParsedFile):
            return hit
        pf = parse_file(sf.path, sf.text, self.iterators, self.frontend_data)
        self.cache.put("parse", key, pf)
        return pf

    def header_functions(self, path: str) -> dict[str, C.Function]:
        if path not in self._header_funcs:
            pf = self.parse(path)
            self._header_funcs[path] = {f.name: f for f in pf.functions} if pf else {}
        return self._header_funcs[path]

    def macro_function(self, path: str, name: str) -> C.Function | None:
        """The function-like macro ``name`` of ``path`` read as a function (see
        ``frontend.macros``), or None."""
        key = (path, name)
        if key not in self._macros:
            fn = None
            try:
                text = self.source.read(path).text
            except InputError:
                text = None
            if text is not None:
                fn = macro_function(path, text, name, self.iterators, self.frontend_data)
            self._macros[key] = fn
        return self._macros[key]

    def defines_macro(self, path: str, name: str) -> bool:
        """Whether file ``path`` defines the function-like macro ``name``."""
        if path not in self._macro_names:
            try:
                text = self.source.read(path).text
            except InputError:
                text = ""
            self._macro_names[path] = frozenset(
                n for n, k in scan(path if path.endswith(".h") else path + ".h", text)
                if k == DefKind.MACRO)
        return name in self._macro_names[path]

    def object_macros(self, path: str) -> dict[str, str | None]:
        """The object-like macros of file ``path`` (:func:`frontend.macros.object_macros`)."""
        if path not in self._object_macros:
            try:
                text = self.source.read(path).text
            except InputError:
                text = ""
            self._object_macros[path] = object_macros(text)
        return self._object_macros[path]

    def structs_of(self, path: str):
        pf = self.parse(path)
        return [(sd.name, sd.fields) for sd in pf.structs] if pf is not None else []

    def index(self) -> DefinitionIndex:
        """Every name the tree defines (headers' inline functions and macros, the
        ``summary_dirs``' non-static functions), each file's entries cached by blob."""
        if self._index is None:
            files: list[tuple[str, tuple]] = []
            paths: list[str] = []
            for d in self.model.engine.index_headers:
                if self.source.exists(d):
                    paths.extend(self.source.list_files([d], suffixes=(".h",)))
            for d in self.model.engine.summary_dirs:
                paths.extend(self.source.glob(d, ".h"))
                paths.extend(self.source.glob(d, ".c"))
            for path in dict.fromkeys(paths):
                try:
                    sf = self.source.read(path)
                except InputError:
                    continue
                key = hashlib.sha1(f"{INDEX_VERSION}\0{sf.blob_id}\0{path[-2:]}".encode()
                                   ).hexdigest()
                defs = self.cache.get("defs", key)
                if not isinstance(defs, tuple):
                    defs = scan(path, sf.text)
                    self.cache.put("defs", key, defs)
                files.append((path, defs))
            self._index = DefinitionIndex.build(files)
        return self._index

    def callers(self, many: ReadMany | None = None) -> CallerIndex:
        """Which C files of the engine's ``caller_dirs`` call each name (see
        :mod:`analyzer.index.callers`): each file's names cached under its identity, the
        whole index under the digest of them all. ``many``: reads the names of many files
        at once (the worker pool, :meth:`called_in`), in the order given."""
        if self._callers is None:
            idents, digest, scope = self._idents(self.model.engine.caller_dirs)
            whole = self.cache.get("callers", digest)
            if not isinstance(whole, CallerIndex):
                per_file = many(idents) if many is not None else self.called_in(idents)
                whole = CallerIndex.build(per_file, scope, digest)
                self.cache.put("callers", digest, whole)
            self._callers = whole
        return self._callers

    def called_in(self, idents: list[tuple[str, str]]) -> list[tuple[str, tuple[str, ...]]]:
        """The names each of these files (path, identity) calls: a part of the callers
        index, which any process of the run may read (each file's entry is cached)."""
        return self._per_file(idents, "calls", _called)

    def tree_defs(self) -> TreeDefinitions:
        """Which C files of the engine's ``definition_dirs`` define each name, not static:
        where a call chain read as text goes on (cached like the callers index)."""
        if self._tree_defs is None:
            idents, digest, _ = self._idents(self.model.engine.definition_dirs)
            whole = self.cache.get("treedefs", digest)
            if not isinstance(whole, TreeDefinitions):
                whole = TreeDefinitions.build(self._per_file(idents, "defs", _defined), digest)
                self.cache.put("treedefs", digest, whole)
            self._tree_defs = whole
        return self._tree_defs

    def use_tree_defs(self, defs: TreeDefinitions) -> None:
        """The tree's definitions as another process of the same run read them."""
        self._tree_defs = defs

    def _idents(self, dirs: tuple[str, ...]) -> tuple[list[tuple[str, str]], str,
                                                      tuple[str, ...]]:
        """The C files of ``dirs`` with their identities, their digest, and the folders
        that exist."""
        if dirs not in self._tree_idents:
            scope = tuple(d for d in dirs if self.source.exists(d))
            paths = self.source.list_files(list(scope), suffixes=(".c",)) if scope else []
            idents = []
            for p in paths:
                try:
                    idents.append((p, self.source.identity(p)))
                except InputError:
                    continue
            self._tree_idents[dirs] = (idents, digest_of(idents), scope)
        return self._tree_idents[dirs]

    def _per_file(self, idents, kind: str, read) -> list[tuple[str, tuple[str, ...]]]:
        """``read(path, data)`` of every file, each cached under its identity."""
        out = []
        for p, ident in idents:
            key = hashlib.sha1(f"{CALLERS_VERSION}\0{kind}\0{p}\0{ident}".encode()).hexdigest()
            names = self.cache.get(kind, key)
            if not isinstance(names, tuple):
                try:
                    data = self.source.read(p).data
                except InputError:
                    continue
                names = read(p, data)
                self.cache.put(kind, key, names)
            out.append((p, names))
        return out

    def bodies_of(self, path: str) -> FileBodies:
        """The functions (and macros) of a file read as text (:mod:`analyzer.index.bodies`)."""
        found = self._bodies.get(path)
        if found is None:
            try:
                found = bodies(self.source.read(path).text)
            except InputError:
                found = bodies("")
            self._bodies[path] = found
        return found

    def definitions(self) -> dict[str, str]:
        """Name → the C file (of rules/engine.toml's ``summary_dirs``) defining it, not
        static: the first in path order."""
        if self._defs is None:
            self._defs = self.index().functions_in(DefKind.FUNCTION)
        return self._defs

    def blob(self, path: str) -> str:
        try:
            return self.source.read(path).blob_id
        except InputError:
            return "-"

    def deps_hold(self, deps: Deps) -> bool:
        """Whether a cached analysis that read ``deps`` would read the same today."""
        if deps.lookups:
            index = self.index()
            for name, where in deps.lookups:
                if name.startswith(NORETURN_KEY):
                    if (name[len(NORETURN_KEY):] in index.noreturn) != (where is not None):
                        return False
                elif name.startswith(TREEDEF_KEY):
                    if _joined(self.tree_defs().get(name[len(TREEDEF_KEY):])) != where:
                        return False
                elif _where(index.all(name)) != where:
                    return False
        return all(self.blob(p) == b for p, b in deps.blobs)

    def resolve_include(self, inc: str, from_path: str) -> str | None:
        for cand in (posixpath.join(posixpath.dirname(from_path), inc), "include/" + inc):
            cand = posixpath.normpath(cand)
            if self.source.exists(cand):
                return cand
        return None

    def headers_of(self, pf: ParsedFile) -> list[str]:
        """The headers a file's summaries read, nearest first: its own includes, then the
        configured summary headers."""
        headers = [self.resolve_include(i, pf.path) for i in pf.includes]
        seen: set[str] = set()
        out = []
        for h in [h for h in headers if h] + self.engine_headers("summary_headers"):
            if h not in seen:
                seen.add(h)
                out.append(h)
        return out

    # ------------------------------------------------------------ analysis
    def analyse_file(self, path: str, calling: str | None = None) -> FileAnalysis:
        """The file's analysis; with ``calling``, of only the functions its call sites of
        that name need (:func:`~analyzer.locks.dataflow.calling_subset`): what a caller's
        call table is read for."""
        t0 = time.perf_counter()
        try:
            sf = self.source.read(path)
        except InputError as e:
            return FileAnalysis(path, FileStatus.ERROR, str(e))
        if sf.binary:
            return FileAnalysis(path, FileStatus.ERROR, "binary file (NUL bytes), not C source",
                                source=sf)
        try:
            pf = self._parsed.get(path)  # parsed already for another file's lookups?
            if pf is None:
                pf = self.parse_source(sf)
                self._parsed[path] = pf
            ctx = _FileContext(self, pf)
            functions = with_method_contracts(list(pf.functions), sf.text, self.model)
            results = solve_functions(functions, self.model, ctx.summaries, ctx.types,
                                      calling)
        except RecursionError:
            return FileAnalysis(path, FileStatus.ERROR, "nesting too deep to analyse",
                                source=sf)
        status = FileStatus.DEGRADED if any(r.function.degraded for r in results) \
            else FileStatus.OK
        comments = {(tc.path, tc.marker): self.tree_comment(tc.path, tc.marker)
                    for tc in self.model.tree_comments()}
        declared, mentions = ctx.declared()
        return FileAnalysis(path, status, None, pf, results, sf, time.perf_counter() - t0,
                            self.model, comments, ctx.deps(), ctx.summaries,
                            declared=declared, mentions=mentions, sleeps=ctx.sleeps,
                            retakes=ctx.retakes, pins=ctx.pins, changes=ctx.changes,
                            final_deps=ctx.deps)


_PP_IF = re.compile(r"^\s*#\s*(if|ifdef|ifndef|endif)\b")


def _conditional_lines(text: str) -> frozenset[int]:
    """The (1-based) lines of a C file inside a preprocessor conditional."""
    out = set()
    depth = 0
    for i, line in enumerate(text.split("\n"), 1):
        m = _PP_IF.match(line)
        if m is not None:
            depth += -1 if m.group(1) == "endif" else 1
            depth = max(depth, 0)
            continue
        if depth:
            out.add(i)
    return frozenset(out)


def _called(path: str, data: bytes) -> tuple[str, ...]:
    return called_names(data)


def _defined(path: str, data: bytes) -> tuple[str, ...]:
    text = data.decode("utf-8", "replace")
    return tuple(sorted({n for n, k in scan(path, text) if k == DefKind.FUNCTION}))


def _joined(paths: tuple[str, ...]) -> str | None:
    return ";".join(paths) or None


def _where(defs) -> str | None:
    if not defs:
        return None
    return ";".join(f"{d.path}:{d.kind}" for d in defs)


class _FileContext:
    """What one file's analysis may read: its types and its function index, recording the
    other files it reads through the definitions index."""

    def __init__(self, project: Project, pf: ParsedFile):
        self.project = project
        self.pf = pf
        self.lookups: dict[str, str | None] = {}  # index lookups: name → where
        self.read_from: set[str] = set()  # files whose bodies it read
        self.far_inline: dict[str, C.Function] = {}
        # static functions of the other files a summary was read from: what their bodies
        # call (last of all names: a static of another file is never the analysed file's)
        self.far_static: dict[str, C.Function] = {}
        self._headers: list[str] | None = None  # headers_of(pf), resolved once
        self._if_lines: frozenset[int] = frozenset()  # lines inside #if blocks
        own = {f.name: f for f in pf.functions}
        model = project.model
        if pf.frontend == "clang":
            # the translation unit is the truth: its inline helpers, its types; a name it
            # has no body for is a declaration or a macro there, whatever a header parse says
            inline = {f.name: f for f in pf.inline_functions}
            self.index = FunctionIndex([own.get, inline.get, self.far_inline.get, self._macro],
                                       [self._in_other_files, self.far_static.get])
            self.types = TypeInfo.build(model.structs.items(),
                                        [(sd.name, sd.fields) for sd in pf.structs])
        else:
            headers = project.headers_of(pf)
            type_layers = [project.structs_of(h) for h in project.engine_headers("type_headers")]
            type_layers += [project.structs_of(h) for h in headers]
            self.types = TypeInfo.build(model.structs.items(), *type_layers,
                                        [(sd.name, sd.fields) for sd in pf.structs])

            def in_headers(name: str) -> C.Function | None:
                for h in headers:
                    fn = project.header_functions(h).get(name)
                    if fn is not None:
                        return fn
                return None

            self.index = FunctionIndex([own.get, in_headers, self._macro],
                                       [self._in_other_files, self.far_static.get])

            def alternatives(name: str, far: bool) -> list[C.Function]:
                out = [f for f in pf.functions if f.name == name]
                if any(not f.is_static and not self._conditional(f.span.line) for f in out):
                    # defined here outside any #if: whenever this file is built its body is
                    # the one (a header's stub of the same name would not compile beside it)
                    return out
                for h in headers:
                    hf = project.header_functions(h).get(name)
                    if hf is not None:
                        out.append(hf)
                if far and out:  # a header's stub may have a real body in a C file
                    real = self._in_other_files(name)
                    if real is not None:
                        out.append(real)
                return out

            self.index.alternatives = alternatives
        declared = set(pf.prototypes)
        if pf.frontend != "clang":
            for h in project.headers_of(pf):
                hp = project.parse(h)
                if hp is not None:
                    declared |= hp.prototypes
        def is_function(name: str) -> bool:
            if name in declared:
                return True
            d = self.lookup(name)
            return d is not None and d.kind != DefKind.MACRO

        try:
            own_text = project.source.read(pf.path).text
        except InputError:
            own_text = ""
        self._if_lines = _conditional_lines(own_text)
        own_noreturn = {n for n, k in scan(pf.path[:-2] + ".h", own_text)
                        if k == DefKind.NORETURN}

        def noreturn(name: str) -> bool:
            if name in own_noreturn:
                return True
            found = name in project.index().noreturn
            self.lookups[NORETURN_KEY + name] = "yes" if found else None
            return found

        self.sleeps = SleepChains(model, self._bodies_for)
        self.retakes = Retakes(model, self._bodies_for)
        self.pins = Pins(model, self._bodies_for)
        self.changes = Changes(model, self._bodies_for)
        touches = Touches(model, self._bodies_for)
        self.summaries = Summaries(model, self.index, self.types, is_function,
                                   lambda name: self.lookup(name) is not None, noreturn,
                                   lambda name: touches.of_call(name, self._text_home(name)),
                                   lambda name: any(
                                       d.kind == DefKind.FUNCTION and d.path.endswith(".c")
                                       and d.path != pf.path for d in self.lookup_all(name)),
                                   self.constant)
        self._constants: dict[str, int | None] = {}

    def constant(self, name: str) -> int | None:
        """The value of ``name`` as an object-like macro of the analysed file or of a header
        it includes (nearest first), when its text is an integer constant expression."""
        if name in self._constants:
            return self._constants[name]
        self._constants[name] = None  # a macro defined through itself has no value
        if self._headers is None:
            self._headers = self.project.headers_of(self.pf)
        found = None
        for path in [self.pf.path, *self._headers]:
            macros = self.project.object_macros(path)
            if name in macros:
                text = macros[name]
                if text:
                    found = const_value(parse_expression(text), self.constant,
                                        self.project.model.transparent)
                    if path != self.pf.path:
                        self.read_from.add(path)
                break
        self._constants[name] = found
        return found

    def _text_home(self, name: str) -> str:
        """Where a call of ``name`` is read as text from: the analysed file, or the other
        file whose static function it is (a summary read there called it)."""
        f = self.far_static.get(name)
        return f.path if f is not None and self.index.find(name, far=False) is None \
            else self.pf.path

    def _conditional(self, line: int) -> bool:
        """Whether a line of the analysed file is inside an #if/#ifdef/#ifndef block."""
        return line in self._if_lines

    def _bodies_for(self, name: str, from_path: str) -> list[tuple[str, Body]]:
        """What a call of ``name`` in ``from_path`` may run, read as text: the file's own
        function or macro; else the non-static definitions of C files tree-wide (every
        one: #if alternatives, other architectures); else a header's inline function or
        macro. Every file read is recorded in the deps."""
        project = self.project
        own = project.bodies_of(from_path).get(name)
        if own is not None:
            if from_path != self.pf.path:
                self.read_from.add(from_path)
            return [(from_path, own)]
        paths = project.tree_defs().get(name)
        self.lookups[TREEDEF_KEY + name] = _joined(paths)
        out = []
        for p in paths:
            b = project.bodies_of(p).get(name)
            if b is not None and not b.static and not b.macro:
                self.read_from.add(p)
                out.append((p, b))
        if out:
            return out
        for d in self.lookup_all(name):
            if d.kind in (DefKind.INLINE, DefKind.MACRO):
                b = project.bodies_of(d.path).get(name)
                if b is not None:
                    self.read_from.add(d.path)
                    out.append((d.path, b))
        return out

    def declared(self) -> tuple[tuple, tuple]:
        """The guards the struct definitions this file reads declare (type headers, its
        headers, itself: the layers its types come from), and the unresolved mentions."""
        project, pf = self.project, self.pf
        files: list[tuple[str, ParsedFile]] = []
        for h in dict.fromkeys(project.engine_headers("type_headers")
                               + project.headers_of(pf)):
            hp = project.parse(h)  # a header is read by tree-sitter with either frontend
            if hp is not None:
                files.append((h, hp))
        own = pf
        if pf.frontend == "clang":  # comments are no part of clang's struct types
            try:
                own = parse_file(pf.path, project.source.read(pf.path).text,
                                 project.iterators, project.frontend_data)
            except InputError:
                own = pf
        files.append((pf.path, own))
        guards: dict = {}
        mentions: dict = {}
        for path, f in files:
            scope = StructDef("", dict(f.globals), f.global_notes)  # file-scope objects
            gs, ms = declared_guards(path, (*f.structs, scope), self.types.structs,
                                     project.model)
            for g in gs:
                guards.setdefault((g.struct, g.field, g.access, g.lock), g)
            for m in ms:
                mentions.setdefault((m.struct, m.field, m.where, m.why), m)
        return tuple(guards.values()), tuple(mentions.values())

    def lookup(self, name: str):
        """A name in the tree's definitions index, recorded for the cache (``Deps``)."""
        defs = self.lookup_all(name)
        return defs[0] if defs else None

    def lookup_all(self, name: str):
        defs = self.project.index().all(name)
        self.lookups[name] = _where(defs)
        return defs

    def _macro(self, name: str) -> C.Function | None:
        """A function-like macro read as a function: defined in the file, in a header it
        includes, or anywhere in the tree's headers (the definitions index)."""
        if self.project.model.primitive(name):
            return None
        if self._headers is None:
            self._headers = self.project.headers_of(self.pf)
        for path in [self.pf.path, *self._headers]:
            if self.project.defines_macro(path, name):
                return self.project.macro_function(path, name)
        d = self.lookup(name)
        if d is None or d.kind != DefKind.MACRO:
            return None
        fn = self.project.macro_function(d.path, name)
        if fn is not None:
            self.read_from.add(d.path)
        return fn

    def _in_other_files(self, name: str) -> C.Function | None:
        """A non-static function defined in another C file of the tree (folders in
        rules/engine.toml's ``summary_dirs``): folio_lock_anon_vma_read() of mm/rmap.c,
        used by mm/memory-failure.c, is summarised from its own body."""
        self.lookup(name)
        path = next((d.path for d in self.project.index().all(name)
                     if d.kind == DefKind.FUNCTION), None)
        if path is None:
            path = self._sibling_definition(name)
        if path is None or path == self.pf.path:
            return None
        self.read_from.add(path)
        pf = self.project.parse(path)
        if pf is None:
            return None
        for f in pf.functions:
            if f.name == name and not f.is_static:
                # its inline helpers come with it (clang: of its own translation unit), and
                # its file's static functions, which only its own body can call
                for g in pf.inline_functions:
                    self.far_inline.setdefault(g.name, g)
                for g in pf.functions:
                    if g.is_static:
                        self.far_static.setdefault(g.name, g)
                return f
        return None

    def _sibling_definition(self, name: str) -> str | None:
        """The C file of the analysed file's own folder that defines ``name`` (not static),
        from the tree's definitions: a subsystem's helpers (``xfs_ilock()`` of
        fs/xfs/xfs_inode.c, called from fs/xfs/xfs_pnfs.c) are summarised from their
        bodies wherever the subsystem is, as ``summary_dirs``' functions are tree-wide."""
        folder = posixpath.dirname(self.pf.path)
        paths = self.project.tree_defs().get(name)
        self.lookups[TREEDEF_KEY + name] = _joined(paths)
        here = [p for p in paths if posixpath.dirname(p) == folder and p != self.pf.path]
        return here[0] if len(here) == 1 else None  # two: #if alternatives, not one body

    def deps(self) -> Deps:
        return Deps(tuple(sorted(self.lookups.items(), key=lambda kv: kv[0])),
                    tuple((p, self.project.blob(p)) for p in sorted(self.read_from)))
