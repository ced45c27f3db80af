"""libclang frontend: a prepared kernel tree, read as the compiler reads it → ``cast.Function``.

The translation unit is parsed with the tree's own flags (``compile_commands.json`` when it
has the file, otherwise the kernel's standard include flags for the prepared architecture), so
``#if CONFIG_…`` is decided by the tree's ``.config``, every header is read, and types are the
compiler's. The file's text is handed to clang as an unsaved file: a git revision's version of
a file is parsed against the work tree's headers.

What the compiler knows is used; what the lock model names is kept at the kernel's API level:

* **Macro invocations** are kept as calls (``spin_lock_irqsave(&l, f)``, ``READ_ONCE(x)``),
  because the lock model is written in the kernel's API and the same invocation read through
  its expansion would be ``_raw_spin_lock_irqsave(spinlock_check(&l))``. Clang's record of
  every expansion tells where one starts and ends; arguments are read from the invocation.
* **Iterator loops** are recognised because clang says so, not from a learned table: a loop
  statement that begins at a macro invocation and whose body lies after it is that macro's
  loop. ``scoped_guard`` and ``guard`` are recognised the same way.
* **Inline helpers in headers** come with their bodies (those the file's functions reach), so
  summaries are built from the code rather than from ``rules/``.
* **Struct types** come from the translation unit's definitions, exactly.
"""

from __future__ import annotations

import bisect
import json
import os
import re
import shlex
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..syntax import tree as C
from .rewrite import FrontendData, IteratorTable, load_data, local_iterators
from .treesitter import (
    INLINE_WORDS,
    ParsedFile,
    StructDef,
    _as_guard,
    iter_loop,
    parse_expression,
    scoped_guard,
)

MAX_INLINE_FUNCTIONS = 600  # header inline bodies converted per file (closure of calls)
MAX_INLINE_DEPTH = 6


class FrontendUnavailable(InputError):
    """The clang frontend cannot run on this tree; the message says what to run."""


@lru_cache(maxsize=1)
def _cindex():
    try:
        import clang.cindex as ci
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise FrontendUnavailable(f"libclang Python bindings missing ({e}): "
                                  "pip install libclang") from None
    try:
        ci.Index.create()
    except Exception as e:  # noqa: BLE001 - the library reports load errors in many ways
        raise FrontendUnavailable(f"libclang cannot be loaded ({e}): pip install libclang"
                                  ) from None
    return ci


# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class BuildConfig:
    """Where a prepared tree keeps what the compiler needs."""

    srctree: Path
    objtree: Path
    arch: str
    config_digest: str

    @classmethod
    def plain(cls, root: str | Path) -> BuildConfig:
        """A folder of C with its own headers and no kernel build (the fixture corpus)."""
        return cls(Path(root).resolve(), Path(root).resolve(), "", "plain")

    def flags(self, path: str) -> list[str]:
        if not self.arch:
            return [f"-I{self.srctree}", f"-I{self.srctree / Path(path).parent}",
                    "-std=gnu11"] + _COMMON
        cc = _compile_commands(str(self.objtree)).get(os.path.normpath(str(self.srctree / path)))
        if cc is not None:
            return cc
        s, o, a = str(self.srctree), str(self.objtree), self.arch
        base = Path(path).stem
        flags = [
            "-nostdinc",
            f"-I{s}/arch/{a}/include", f"-I{o}/arch/{a}/include/generated",
            f"-I{s}/include", f"-I{o}/include",
            f"-I{s}/arch/{a}/include/uapi", f"-I{o}/arch/{a}/include/generated/uapi",
            f"-I{s}/include/uapi", f"-I{o}/include/generated/uapi",
            "-include", f"{s}/include/linux/compiler-version.h",
            "-include", f"{s}/include/linux/kconfig.h",
            "-include", f"{s}/include/linux/compiler_types.h",
            "-D__KERNEL__", "-std=gnu11",
            f'-DKBUILD_MODFILE="{Path(path).with_suffix("").as_posix()}"',
            f'-DKBUILD_BASENAME="{base}"', f'-DKBUILD_MODNAME="{base}"',
            f"-D__KBUILD_MODNAME=kmod_{base}",
        ]
        target = _TARGETS.get(a)
        if target:
            flags.append(f"--target={target}")
        return flags + _COMMON


_TARGETS = {"x86": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu", "riscv": "riscv64-linux-gnu",
            "powerpc": "powerpc64le-linux-gnu", "s390": "s390x-linux-gnu"}
_COMMON = ["-fno-builtin", "-Wno-everything", "-ferror-limit=0", f"-I{Path(__file__).parent}"]
# flags of a compile command that matter to the front end; the rest are gcc code generation
_KEEP_FLAG = re.compile(r"^(-[IDU].*|-std=.*|-nostdinc|-f(no-)?(short-wchar|signed-char|"
                        r"unsigned-char|ms-extensions))$")
_KEEP_WITH_ARG = {"-include", "-isystem", "-I", "-D", "-U", "-imacros"}


@lru_cache(maxsize=4)
def _compile_commands(objtree: str) -> dict[str, list[str]]:
    p = Path(objtree) / "compile_commands.json"
    if not p.is_file():
        return {}
    try:
        entries = json.loads(p.read_text())
    except (OSError, ValueError):
        return {}
    out: dict[str, list[str]] = {}
    for e in entries if isinstance(entries, list) else []:
        try:
            d = e["directory"]
            args = e.get("arguments") or shlex.split(e["command"])
            f = os.path.normpath(os.path.join(d, e["file"]))
        except (KeyError, TypeError, ValueError):
            continue
        keep: list[str] = []
        i = 0
        while i < len(args):
            a = args[i]
            if a in _KEEP_WITH_ARG and i + 1 < len(args):
                v = args[i + 1]
                if a in ("-include", "-isystem", "-I", "-imacros") and not os.path.isabs(v):
                    v = os.path.normpath(os.path.join(d, v))
                keep += [a, v]
                i += 2
                continue
            if a.startswith("-I") and len(a) > 2 and not os.path.isabs(a[2:]):
                a = "-I" + os.path.normpath(os.path.join(d, a[2:]))
            if _KEEP_FLAG.match(a):
                keep.append(a)
            i += 1
        out[f] = keep + _COMMON
    return out


def build_config(srctree: str | Path, objtree: str | Path | None = None) -> BuildConfig:
    """The prepared tree at ``srctree`` (built in ``objtree``, the ``O=`` folder, when given),
    or ``FrontendUnavailable`` saying which command prepares it."""
    import hashlib

    src = Path(srctree).resolve()
    obj = Path(objtree).resolve() if objtree else src
    where = f" in {src}" if obj == src else f" (make -C {src} O={obj} …)"
    if not (src / "Makefile").is_file() or not (src / "include" / "linux").is_dir():
        raise FrontendUnavailable(f"--frontend clang needs a kernel source tree; {src} is not one")
    if not (obj / ".config").is_file():
        raise FrontendUnavailable(
            f"--frontend clang needs a prepared tree: run `make defconfig && make prepare`{where}")
    autoconf = obj / "include" / "generated" / "autoconf.h"
    arches = sorted(p.parent.parent.name for p in (obj / "arch").glob("*/include/generated")
                    if (p / "asm").is_dir() or (p / "uapi").is_dir())
    if not autoconf.is_file() or not arches:
        raise FrontendUnavailable(
            f"--frontend clang needs the generated headers: run `make prepare`{where}")
    _cindex()
    digest = hashlib.sha1(autoconf.read_bytes()).hexdigest()[:16]
    return BuildConfig(src, obj, arches[0], digest)


# --------------------------------------------------------------------------- parsing


_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


class _Files:
    """Texts of the files of one translation unit (the main file's from the caller)."""

    def __init__(self, main: str, text: str):
        self.texts: dict[str, bytes] = {main: text.encode("utf-8", "surrogateescape")}

    def data(self, name: str) -> bytes:
        d = self.texts.get(name)
        if d is None:
            try:
                d = Path(name).read_bytes()
            except OSError:
                d = b""
            self.texts[name] = d
        return d

    def text(self, name: str, start: int, end: int) -> str:
        return self.data(name)[start:end].decode("utf-8", "surrogateescape")


@dataclass(frozen=True)
class _Macro:
    name: str
    start: int
    end: int
    function_like: bool


class ClangFrontend:
    def __init__(self, config: BuildConfig, iterators: IteratorTable | None = None,
                 data: FrontendData | None = None):
        self.config = config
        self.iterators = iterators
        self.data = data or load_data()
        self._index: Any = None  # clang.cindex.Index, made on first use

    def parse_file(self, path: str, text: str) -> ParsedFile:
        ci = _cindex()
        if self._index is None:
            self._index = ci.Index.create()
        abspath = str(self.config.srctree / path)
        try:
            tu = self._index.parse(
                abspath, args=self.config.flags(path), unsaved_files=[(abspath, text)],
                options=ci.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD
                | ci.TranslationUnit.PARSE_INCOMPLETE)
        except ci.TranslationUnitLoadError as e:
            raise InputError(f"{path}: clang could not parse it ({e})") from None
        return _TUConverter(self, ci, tu, path, abspath, text).file()


class _TUConverter:
    def __init__(self, fe: ClangFrontend, ci, tu, path: str, abspath: str, text: str):
        self.fe = fe
        self.ci = ci
        self.K = ci.CursorKind
        self.tu = tu
        self.path = path
        self.main = abspath
        self.root = str(fe.config.srctree) + os.sep
        self.files = _Files(abspath, text)
        self.macros: dict[str, dict[int, _Macro]] = {}
        self.header_defs: dict[str, object] = {}
        self.main_defs: list = []
        self.structs: list[StructDef] = []
        self.error_lines: list[int] = []  # lines of the main file with a clang error
        self.errors_at: list[C.ParseError] = []  # and what each says, in the same order
        self.guard_names = set(fe.data.guards)
        # the iterators the file defines itself come first (their cursor positions)
        known = fe.iterators or IteratorTable()
        local = local_iterators(text, known)
        self.iterators = local.merge(known) if len(local) else known
        self.cur_file = abspath
        self._starts: dict[str, list[int]] = {}  # per file: sorted invocation starts

    # ------------------------------------------------------------------ file level
    def file(self) -> ParsedFile:
        K = self.K
        for d in self.tu.diagnostics:
            if d.severity >= 3 and d.location.file is not None \
                    and d.location.file.name == self.main:
                self.error_lines.append(d.location.line)
                self.errors_at.append(C.ParseError(d.location.line, d.location.column,
                                                   " ".join(str(d.spelling).split())[:200]))
        includes: list[str] = []
        prototypes: set[str] = set()
        globals_: dict[str, str] = {}
        for c in self.tu.cursor.get_children():
            k = c.kind
            if k == K.MACRO_INSTANTIATION:
                ext = c.extent
                f = ext.start.file
                if f is None:
                    continue
                s, e = ext.start.offset, ext.end.offset
                fl = self.files.data(f.name)[e - 1:e] == b")" and e - s > len(c.spelling)
                self.macros.setdefault(f.name, {})[s] = _Macro(c.spelling, s, e, fl)
            elif k == K.FUNCTION_DECL:
                if not c.is_definition():
                    prototypes.add(c.spelling)
                    continue
                f = c.location.file
                if f is None:
                    continue
                if f.name == self.main:
                    self.main_defs.append(c)
                else:
                    self.header_defs.setdefault(c.spelling, c)
            elif k in (K.STRUCT_DECL, K.UNION_DECL) and c.is_definition():
                self._struct(c)
            elif k == K.VAR_DECL and c.spelling and c.location.file is not None \
                    and c.location.file.name == self.main:
                globals_[c.spelling] = c.type.spelling  # a file-scope object
            elif k == K.INCLUSION_DIRECTIVE and c.location.file is not None \
                    and c.location.file.name == self.main:
                includes.append(c.spelling)
        functions = []
        for c in self.main_defs:
            fn = self.function(c)
            if fn is not None:
                functions.append(fn)
        inline = self._inline_closure(functions)
        return ParsedFile(self.path, tuple(functions), tuple(self.structs), (), tuple(includes),
                          len(self.error_lines), inline_functions=tuple(inline), frontend="clang",
                          prototypes=frozenset(prototypes),
                          globals=tuple(sorted(globals_.items())))

    def _struct(self, c) -> None:
        K = self.K
        if not c.spelling or c.is_anonymous():
            return
        fields: dict[str, str] = {}

        TK = self.ci.TypeKind

        def collect(rec):
            for f in rec.get_children():
                if f.kind == K.FIELD_DECL:
                    if f.spelling:
                        t = f.type
                        canon = t.get_canonical()
                        # a typedef'd pointer names its struct: `struct x *`, not `x_ptr`
                        fields[f.spelling] = canon.spelling if t.kind == TK.TYPEDEF and \
                            canon.kind == TK.POINTER else t.spelling
                elif f.kind in (K.STRUCT_DECL, K.UNION_DECL) and f.is_anonymous():
                    collect(f)  # members of an anonymous struct/union are the parent's
        collect(c)
        name = c.spelling.split()[-1]
        self.structs.append(StructDef(name, fields))

    def _inline_closure(self, functions: list[C.Function]) -> list[C.Function]:
        """Header functions (static inline) the file's functions call, transitively."""
        out: list[C.Function] = []
        seen: set[str] = {f.name for f in functions}
        frontier = list(functions)
        depth = 0
        while frontier and depth < MAX_INLINE_DEPTH and len(out) < MAX_INLINE_FUNCTIONS:
            nxt = []
            names: list[str] = []
            for f in frontier:
                for n in C.called_names(f.body):
                    if n not in seen and n in self.header_defs:
                        seen.add(n)
                        names.append(n)
            for n in names:
                if len(out) >= MAX_INLINE_FUNCTIONS:
                    break
                c = self.header_defs[n]
                fn = self.function(c)
                if fn is not None:
                    out.append(fn)
                    nxt.append(fn)
            frontier = nxt
            depth += 1
        return out

    # ------------------------------------------------------------------ helpers
    def off(self, c) -> tuple[int, int]:
        ext = c.extent
        return ext.start.offset, ext.end.offset

    def text(self, s: int, e: int) -> str:
        return self.files.text(self.cur_file, s, e)

    def span(self, c) -> C.Span:
        ext = c.extent
        return C.Span(ext.start.line, ext.end.line, ext.start.offset, ext.end.offset)

    def macro_at(self, s: int, e: int) -> _Macro | None:
        """The macro invocation whose expansion this node is (it lies within the invocation
        and starts where the invocation does)."""
        m = self.macros.get(self.cur_file, {}).get(s)
        if m is not None and e <= m.end:
            return m
        return None

    def macros_from(self, s: int, e: int) -> list[_Macro]:
        """The invocations starting in [s, e) of the current file, in order."""
        starts = self._starts.get(self.cur_file)
        if starts is None:
            starts = self._starts[self.cur_file] = sorted(self.macros.get(self.cur_file, {}))
        at = self.macros.get(self.cur_file, {})
        lo, hi = bisect.bisect_left(starts, s), bisect.bisect_left(starts, e)
        return [at[x] for x in starts[lo:hi]]

    def inside_macro(self, off: int) -> bool:
        """Does a macro invocation of the current file span ``off``? (Top-level invocations
        do not overlap: the last one starting at or before it is the only candidate.)"""
        before = self.macros_from(0, off + 1)
        return bool(before) and off < before[-1].end

    def macro_call(self, m: _Macro) -> C.Expr:
        if not m.function_like:
            return C.Name(m.name)
        text = self.text(m.start, m.end)
        e = parse_expression(text)
        return e if isinstance(e, C.Call) else C.Opaque(text)

    def rel(self, name: str) -> str:
        if name == self.main:
            return self.path
        return name[len(self.root):] if name.startswith(self.root) else name

    # ------------------------------------------------------------------ functions
    def function(self, c) -> C.Function | None:
        K = self.K
        f = c.location.file
        self.cur_file = f.name
        body = None
        params: list[C.Param] = []
        for ch in c.get_children():
            if ch.kind == K.PARM_DECL:
                params.append(C.Param(ch.spelling or f"__arg{len(params)}", ch.type.spelling))
            elif ch.kind == K.COMPOUND_STMT:
                body = ch
        if body is None:
            return None
        s, e = self.off(c)
        bs, _ = self.off(body)
        if self.inside_macro(bs):
            return None  # a function a macro wrote whole (sysfs show, syscall stubs)
        head = self.text(s, bs)
        words = set(_COMMENT.sub(" ", head).replace("*", " ").replace("(", " ").split())
        cbody = self.compound(body)
        ann = self._contracts(s, bs)
        sp = self.span(c)
        inside = [e for e in self.errors_at if sp.line <= e.line <= sp.end_line] \
            if f.name == self.main else []
        degraded = bool(inside)
        err = replace(inside[0], count=len(inside)) if inside else None
        comments = tuple(_comments_in(self.text(s, e), sp.line))
        return C.Function(
            name=c.spelling, path=self.rel(f.name), span=sp, params=tuple(params),
            return_type=c.result_type.spelling, body=cbody,
            is_static=c.storage_class == self.ci.StorageClass.STATIC,
            is_inline=bool(words & INLINE_WORDS),
            annotations=ann, degraded=degraded, comments=comments, parse_error=err)

    def _contracts(self, s: int, e: int) -> tuple[C.Annotation, ...]:
        """Sparse contracts in the function's head (rules/frontend.toml [contracts])."""
        kinds = self.fe.data.contracts
        out = []
        for m in self.macros_from(s, e):
            if m.name in kinds:
                call = self.macro_call(m)
                if isinstance(call, C.Call) and call.args:
                    out.append(C.Annotation(kinds[m.name], call.args[0]))
        return tuple(out)

    # ------------------------------------------------------------------ statements
    def compound(self, c) -> C.Compound:
        return C.Compound(self.span(c), tuple(self.items(list(c.get_children()))))

    def items(self, kids) -> list[C.Stmt]:
        K = self.K
        out: list[C.Stmt] = []
        open_case: list[C.Stmt] = []  # the statements of case_head, once there is one
        case_head = None
        for ch in kids:
            if ch.kind in (K.CASE_STMT, K.DEFAULT_STMT):
                if case_head is not None:
                    out.append(C.Case(case_head[0], case_head[1], tuple(open_case)))
                chain = self._case_chain(ch)
                for sp, v, _ in chain[:-1]:
                    out.append(C.Case(sp, v, ()))
                case_head = chain[-1][:2]
                open_case = list(chain[-1][2])
                continue
            stmts = self.stmt_list(ch)
            if case_head is not None:
                open_case.extend(stmts)
            else:
                out.extend(stmts)
        if case_head is not None:
            out.append(C.Case(case_head[0], case_head[1], tuple(open_case)))
        return out

    def _case_chain(self, c):
        """``case 1: case 2: stmt`` (nested in clang's tree) → [(span, value, body)…]."""
        K = self.K
        chain: list[list[Any]] = []
        while c.kind in (K.CASE_STMT, K.DEFAULT_STMT):
            kids = list(c.get_children())
            if c.kind == K.CASE_STMT:
                value, sub = self.expr(kids[0]), (kids[-1] if len(kids) > 1 else None)
            else:
                value, sub = None, (kids[0] if kids else None)
            chain.append([self.span(c), value, ()])
            if sub is None:
                break
            c = sub
        else:
            chain[-1][2] = tuple(self.stmt_list(c))
        return [tuple(x) for x in chain]

    def stmt_list(self, c) -> list[C.Stmt]:
        K = self.K
        if c.kind == K.DECL_STMT:
            m = self._macro_stmt(c)
            if m is not None:
                return [m]
            return self.declaration(c)
        s = self.stmt(c)
        return [s] if s is not None else []

    def declaration(self, c) -> list[C.Stmt]:
        K = self.K
        out: list[C.Stmt] = []
        for v in c.get_children():
            if v.kind != K.VAR_DECL:
                continue
            init = None
            kids = [k for k in v.get_children() if k.kind.is_expression()]
            if kids and self._is_initializer(v, kids[-1]):
                init = self.expr(kids[-1])
            out.append(C.Decl(self.span(c) if not out else self.span(v), v.spelling,
                              v.type.spelling, init))
        return out

    def _is_initializer(self, var, e) -> bool:
        # array bounds are expressions too; the initializer follows the `=`
        vs, _ = self.off(var)
        es, _ = self.off(e)
        between = self.text(vs, es)
        return "=" in _COMMENT.sub("", between)

    def _macro_stmt(self, c) -> C.Stmt | None:
        """A statement that a macro invocation produced."""
        s, e = self.off(c)
        m = self.macros.get(self.cur_file, {}).get(s)
        if m is None:
            return None
        sp = self.span(c)
        K = self.K
        if m.name == "guard" and c.kind == K.DECL_STMT:
            # guard(class)(args); — the declaration of a variable with a cleanup
            end = self.text(m.end, e).rstrip().rstrip(";")
            g = _as_guard(parse_expression(self.text(m.start, m.end) + end))
            return C.Guard(sp, g[0], g[1]) if g is not None else None
        if c.kind in (K.FOR_STMT, K.WHILE_STMT) and e > m.end:
            body = list(c.get_children())[-1]
            bs, _ = self.off(body)
            if bs >= m.end:
                call = self.macro_call(m)
                args = call.args if isinstance(call, C.Call) else ()
                cbody = self.stmt_or_empty(body, sp)
                if m.name in self.guard_names:
                    return scoped_guard(sp, m.name, args, cbody, self.fe.data)
                return iter_loop(sp, m.name, args, self.iterators, cbody)
        if e <= m.end + 1:
            return C.ExprStmt(sp, self.macro_call(m))
        return None

    def stmt_or_empty(self, c, sp) -> C.Stmt:
        s = self.stmt(c) if c is not None else None
        return s if s is not None else C.ExprStmt(sp, None)

    def stmt(self, c) -> C.Stmt | None:
        K = self.K
        k = c.kind
        sp = self.span(c)
        m = self._macro_stmt(c)
        if m is not None:
            return m
        kids = list(c.get_children())
        if k == K.COMPOUND_STMT:
            return self.compound(c)
        if k == K.DECL_STMT:
            return C.Compound(sp, tuple(self.declaration(c)))
        if k == K.IF_STMT:
            cond = self.expr(kids[0])
            then = self.stmt_or_empty(kids[1] if len(kids) > 1 else None, sp)
            other = self.stmt_or_empty(kids[2], sp) if len(kids) > 2 else None
            return C.If(sp, cond, then, other)
        if k == K.WHILE_STMT:
            return C.While(sp, self.expr(kids[0]), self.stmt_or_empty(kids[-1], sp))
        if k == K.DO_STMT:
            return C.DoWhile(sp, self.stmt_or_empty(kids[0], sp), self.expr(kids[-1]))
        if k == K.FOR_STMT:
            return self._for(c, kids, sp)
        if k == K.SWITCH_STMT:
            body = kids[-1]
            if body.kind == K.COMPOUND_STMT:
                cbody = self.compound(body)
            else:
                cbody = C.Compound(self.span(body), tuple(self.items([body])))
            return C.Switch(sp, self.expr(kids[0]), cbody)
        if k in (K.CASE_STMT, K.DEFAULT_STMT):
            chain = self._case_chain(c)
            return C.Compound(sp, tuple(C.Case(s, v, b) for s, v, b in chain))
        if k == K.LABEL_STMT:
            return C.Label(sp, c.spelling, self.stmt(kids[0]) if kids else None)
        if k == K.GOTO_STMT:
            return C.Goto(sp, kids[0].spelling if kids else "")
        if k == K.BREAK_STMT:
            return C.Break(sp)
        if k == K.CONTINUE_STMT:
            return C.Continue(sp)
        if k == K.RETURN_STMT:
            return C.Return(sp, self.expr(kids[0]) if kids else None)
        if k == K.NULL_STMT:
            return C.ExprStmt(sp, None)
        if k.is_expression():
            return C.ExprStmt(sp, self.expr(c))
        return C.ExprStmt(sp, self.opaque(c))  # asm, indirect goto, …

    def _for(self, c, kids, sp) -> C.Stmt:
        """``for (init; cond; step) body``: clang lists only the parts present; the
        semicolons of the header tell which is which."""
        s, e = self.off(c)
        body = kids[-1]
        bs, _ = self.off(body)
        head = self.text(s, bs)
        open_i = head.find("(")
        seps = _top_semicolons(head, open_i) if open_i >= 0 else []
        init: list[C.Stmt] = []
        cond = step = None
        if len(seps) == 2:
            a, b = s + seps[0], s + seps[1]
            for k in kids[:-1]:
                ks, _ = self.off(k)
                if ks < a:
                    if k.kind == self.K.DECL_STMT:
                        init.extend(self.declaration(k))
                    else:
                        init.append(C.ExprStmt(self.span(k), self.expr(k)))
                elif ks < b:
                    cond = self.expr(k)
                else:
                    step = self.expr(k)
        return C.For(sp, tuple(init), cond, step, self.stmt_or_empty(body, sp))

    # ------------------------------------------------------------------ expressions
    def expr(self, c) -> C.Expr:
        K = self.K
        s, e = self.off(c)
        m = self.macro_at(s, e)
        if m is not None:
            return self.macro_call(m)
        k = c.kind
        if k in (K.UNEXPOSED_EXPR, K.PAREN_EXPR):
            kids = list(c.get_children())
            if len(kids) == 1:
                return self.expr(kids[0])
            return self.opaque(c)
        if k == K.DECL_REF_EXPR:
            return C.Name(c.spelling)
        if k == K.MEMBER_REF_EXPR:
            kids = list(c.get_children())
            if not kids:
                return C.Name(c.spelling)
            base = self.expr(kids[0])
            if _anonymous(c.spelling):
                return base  # an anonymous struct/union member: C spells through it
            real = kids[0]  # through anonymous members to the base that is written
            while real.kind == K.MEMBER_REF_EXPR and _anonymous(real.spelling):
                inner = list(real.get_children())
                if not inner:
                    break
                real = inner[0]
            _, be = self.off(real)
            arrow = "->" in _COMMENT.sub("", self.text(be, e)) if be <= e else False
            return C.Member(base, c.spelling, arrow)
        if k == K.CALL_EXPR:
            kids = list(c.get_children())
            if not kids:
                return self.opaque(c)
            return C.Call(self.expr(kids[0]), tuple(self.expr(a) for a in kids[1:]))
        if k == K.UNARY_OPERATOR:
            kids = list(c.get_children())
            if len(kids) != 1:
                return self.opaque(c)
            os_, oe = self.off(kids[0])
            pre = _COMMENT.sub("", self.text(s, os_)).strip()
            if pre:
                return C.Unary(pre, self.expr(kids[0]))
            post = _COMMENT.sub("", self.text(oe, e)).strip()
            return C.Unary("p" + post if post in ("++", "--") else post, self.expr(kids[0]))
        if k in (K.BINARY_OPERATOR, K.COMPOUND_ASSIGNMENT_OPERATOR):
            kids = list(c.get_children())
            if len(kids) != 2:
                return self.opaque(c)
            _, le = self.off(kids[0])
            rs, _ = self.off(kids[1])
            op = _operator(self.text(le, rs))
            left, right = self.expr(kids[0]), self.expr(kids[1])
            if op.endswith("=") and op not in ("==", "!=", "<=", ">="):
                return C.Assign(op, left, right)
            if op == ",":
                items: list[C.Expr] = []
                for x in (left, right):
                    items.extend(x.items if isinstance(x, C.Comma) else (x,))
                return C.Comma(tuple(items))
            return C.Binary(op, left, right)
        if k == K.CONDITIONAL_OPERATOR:
            kids = list(c.get_children())
            if len(kids) == 3:
                return C.Ternary(*(self.expr(x) for x in kids))
            if len(kids) == 2:
                t = self.expr(kids[0])
                return C.Ternary(t, t, self.expr(kids[1]))
            return self.opaque(c)
        if k == K.CSTYLE_CAST_EXPR:
            kids = [x for x in c.get_children() if x.kind.is_expression()]
            if not kids:
                return self.opaque(c)
            return C.Cast(c.type.spelling, self.expr(kids[-1]))
        if k == K.ARRAY_SUBSCRIPT_EXPR:
            kids = list(c.get_children())
            if len(kids) == 2:
                return C.Index(self.expr(kids[0]), self.expr(kids[1]))
        if k in (K.INTEGER_LITERAL, K.STRING_LITERAL, K.CHARACTER_LITERAL, K.FLOATING_LITERAL):
            return C.Literal(self.text(s, e))
        if k == K.CXX_NULL_PTR_LITERAL_EXPR:
            return C.Name("NULL")
        if k == K.CXX_BOOL_LITERAL_EXPR:
            return C.Name(self.text(s, e))
        return self.opaque(c)

    def opaque(self, c) -> C.Opaque:
        """What the analysis does not look into, with the calls inside it."""
        s, e = self.off(c)
        calls: list[C.Call] = []
        stack = list(reversed(list(c.get_children())))
        while stack:
            x = stack.pop()
            xs, xe = self.off(x)
            mac = self.macro_at(xs, xe)
            if x.kind == self.K.CALL_EXPR or mac is not None:
                e2 = self.expr(x)
                if isinstance(e2, C.Call):
                    calls.append(e2)
                    continue
            stack.extend(reversed(list(x.get_children())))
        return C.Opaque(self.text(s, e), tuple(calls))


_OPS = re.compile(r"<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^]=|[-+*/%<>&|^=,]")


def _anonymous(spelling: str) -> bool:
    return not spelling or "(anonymous" in spelling or "(unnamed" in spelling


def _operator(between: str) -> str:
    t = _COMMENT.sub(" ", between)
    t = t.replace("(", " ").replace(")", " ").strip()
    m = _OPS.search(t)
    return m.group(0) if m else t


def _top_semicolons(head: str, open_i: int) -> list[int]:
    depth = 0
    out = []
    i = open_i
    text = _COMMENT.sub(lambda m: " " * len(m.group(0)), head)
    while i < len(text):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                break
        elif ch == ";" and depth == 1:
            out.append(i)
        elif ch in "\"'":
            j = i + 1
            while j < len(text) and text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            i = j
        i += 1
    return out


def _comments_in(text: str, first_line: int) -> list[tuple[int, str]]:
    out = []
    for m in _COMMENT.finditer(text):
        out.append((first_line + text.count("\n", 0, m.start()), m.group(0)))
    return out
