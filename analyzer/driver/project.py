"""The pipeline for one tree: parse (cached by blob id), build CFGs, solve lock states.

A ``Project`` owns what is shared by every file of one tree: the lock model, the iterator
macros learned from the tree, the header bodies that summaries are derived from, and the cache.
``analyse_file`` gives every function of a file with its CFG and fixed-point lock states.

Entry states: a function starts with every lock unknown, except what its contracts say; a
``static`` function called in its own file starts from the join of its callers' states at the
call sites (mapped onto its parameters), which settles most helpers.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

from ..syntax import tree as C
from .cache import Cache
from ..flow.cfg import Cfg, build_cfg
from ..errors import InputError
from ..frontend.rewrite import IteratorTable, learn_iterators, load_data
from ..frontend.treesitter import ParsedFile, parse_file
from ..model.lockmodel import LockModel
from ..locks.dataflow import Analysis, Fact, LockResult, State, TypeInfo, join, _has_prefix
from ..source.reader import Source, SourceFile
from ..locks.summaries import FunctionIndex, Summaries

if TYPE_CHECKING:
    from ..frontend.clang import BuildConfig
    from ..frontend.kconfig import KernelConfig

PARSE_VERSION = "1"
# rounds of callers → static helper entry states: a chain of helpers settles one link a
# round (memory_failure → try_memory_failure_hugetlb → … → action_result is five deep)
ENTRY_ROUNDS = 8
# a function definition's head at column 0, not static: "struct anon_vma *name(" … "{"
_DEFINITION = re.compile(r"^(?!static\b)(?:[A-Za-z_][\w ]*[\s*])(\w+)\([^;{]*\)\s*\n\{",
                         re.M)


@dataclass
class FunctionAnalysis:
    function: C.Function
    cfg: Cfg
    result: LockResult
    entry_from_callers: bool = False

    @property
    def analysis(self) -> Analysis:
        return self.result.analysis


@dataclass
class FileAnalysis:
    path: str
    status: str  # ok | degraded | error
    error: str | None = None
    parsed: ParsedFile | None = None
    functions: list[FunctionAnalysis] = field(default_factory=list)
    source: SourceFile | None = None
    seconds: float = 0.0
    project: "Project | None" = field(default=None, repr=False, compare=False)

    @property
    def degraded_functions(self) -> int:
        return sum(fa.function.degraded for fa in self.functions)

    def function(self, name: str) -> FunctionAnalysis | None:
        for fa in self.functions:
            if fa.function.name == name:
                return fa
        return None


class Project:
    def __init__(self, source: Source, model: LockModel, cache: Cache | None = None,
                 iterators: IteratorTable | None = None, clang: "BuildConfig | None" = None,
                 config: "KernelConfig | None" = None):
        self.source = source
        self.config = config  # tree-sitter: read #if chains in this configuration
        self.clang = clang  # parse C files with libclang on this prepared tree
        self._far_inline: dict[str, C.Function] = {}
        self._clang_fe = None
        self.model = model
        self.cache = cache or Cache(None)
        self._iterators = iterators
        self._parsed: dict[str, ParsedFile | None] = {}
        self._header_funcs: dict[str, dict[str, C.Function]] = {}
        self.types = TypeInfo(model.structs)
        self._types_loaded: set[str] = set()
        self._defs: dict[str, str] | None = None
        self._comments: dict[tuple[str, str], str | None] = {}

    # ------------------------------------------------------------ shared tree data
    @property
    def iterators(self) -> IteratorTable:
        if self._iterators is None:
            self._iterators = self._learn_iterators()
        return self._iterators

    def _learn_iterators(self) -> IteratorTable:
        data = load_data()
        clang = None
        if self.source.exists(".clang-format"):
            clang = self.source.read(".clang-format").text
        headers = [p for p in self.engine_headers("iterator_headers")]
        texts = []
        for p in headers:
            try:
                texts.append(self.source.read(p).text)
            except InputError:
                continue
        return learn_iterators(texts, clang, data.fallback)

    def engine_headers(self, key: str) -> list[str]:
        conf = self.model.extra.get("engine", {})
        out = []
        for pat in conf.get(key, []):
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
        h.update(",".join(sorted(m.name + str(m.cursor) + str(m.object)
                                 for m in self.iterators)).encode())
        for path, marker in self._declared_tree_comments():  # rules' results depend on them
            h.update(f"\0{path}\0{self.tree_comment(path, marker)}".encode())
        return h.hexdigest()

    def _declared_tree_comments(self) -> list[tuple[str, str]]:
        """``[tree_comment] path/marker`` tables of rules/*.toml: tree comments rules read."""
        out = []
        for table in self.model.extra.values():
            tc = table.get("tree_comment") if isinstance(table, dict) else None
            if isinstance(tc, dict) and "path" in tc and "marker" in tc:
                out.append((tc["path"], tc["marker"]))
        return sorted(out)

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

                self._clang_fe = ClangFrontend(self.clang, self.iterators)
            return self._clang_fe.parse_file(sf.path, sf.text)
        if self.config is not None:
            sf = replace(sf, text=self.config.apply(sf.text))
        if not sf.path.endswith(".h"):
            # a .c file's results are cached whole; pickling its syntax tree too cost more
            # than parsing it again (headers are parsed for every file that includes them)
            return parse_file(sf.path, sf.text, self.iterators)
        key = hashlib.sha1((sf.blob_id + sf.path + self.salt).encode()).hexdigest()
        hit = self.cache.get("parse", key)
        if isinstance(hit, ParsedFile):
            return hit
        pf = parse_file(sf.path, sf.text, self.iterators)
        self.cache.put("parse", key, pf)
        return pf

    def _load_types(self, path: str) -> None:
        if path in self._types_loaded:
            return
        self._types_loaded.add(path)
        pf = self.parse(path)
        if pf is not None:
            for sd in pf.structs:
                self.types.add(sd.name, sd.fields)

    def header_functions(self, path: str) -> dict[str, C.Function]:
        if path not in self._header_funcs:
            pf = self.parse(path)
            funcs = {f.name: f for f in pf.functions} if pf is not None else {}
            self._header_funcs[path] = funcs
            if pf is not None:
                for sd in pf.structs:
                    self.types.add(sd.name, sd.fields)
        return self._header_funcs[path]

    def _in_other_files(self, name: str) -> C.Function | None:
        """A non-static function defined in another C file of the tree (folders in
        rules/engine.toml's ``summary_dirs``): folio_lock_anon_vma_read() of mm/rmap.c,
        used by mm/memory-failure.c, is summarised from its own body."""
        path = self._definitions().get(name)
        if path is None:
            return None
        pf = self.parse(path)
        if pf is None:
            return None
        for f in pf.functions:
            if f.name == name and not f.is_static:
                # its inline helpers come with it (clang: of its own translation unit)
                for g in pf.inline_functions:
                    self._far_inline.setdefault(g.name, g)
                return f
        return None

    def _definitions(self) -> dict[str, str]:
        if self._defs is None:
            self._defs = {}
            dirs = self.model.extra.get("engine", {}).get("summary_dirs", [])
            for d in dirs:
                for path in self.source.glob(d, ".c"):
                    try:
                        text = self.source.read(path).text
                    except InputError:
                        continue
                    for m in _DEFINITION.finditer(text):
                        self._defs.setdefault(m.group(1), path)
        return self._defs

    def resolve_include(self, inc: str, from_path: str) -> str | None:
        for cand in (posixpath.join(posixpath.dirname(from_path), inc), "include/" + inc):
            cand = posixpath.normpath(cand)
            if self.source.exists(cand):
                return cand
        return None

    # ------------------------------------------------------------ analysis
    def summaries_for(self, pf: ParsedFile) -> Summaries:
        own = {f.name: f for f in pf.functions}
        if pf.frontend == "clang":
            # the translation unit is the truth: its inline helpers, its types; a name it
            # has no body for is a declaration or a macro there, whatever a header parse says
            inline = {f.name: f for f in pf.inline_functions}
            index = FunctionIndex([own.get, inline.get, self._far_inline.get],
                                  [self._in_other_files])
            return Summaries(self.model, index, self.types)
        headers = [self.resolve_include(i, pf.path) for i in pf.includes]
        headers = [h for h in headers if h] + self.engine_headers("summary_headers")
        seen = set()
        ordered = [h for h in headers if not (h in seen or seen.add(h))]
        for h in self.engine_headers("type_headers"):
            self._load_types(h)

        def in_headers(name: str) -> C.Function | None:
            for h in ordered:
                fn = self.header_functions(h).get(name)
                if fn is not None:
                    return fn
            return None

        index = FunctionIndex([own.get, in_headers], [self._in_other_files])
        return Summaries(self.model, index, self.types)

    def analyse_file(self, path: str) -> FileAnalysis:
        t0 = time.perf_counter()
        try:
            sf = self.source.read(path)
        except InputError as e:
            return FileAnalysis(path, "error", str(e))
        if sf.binary:
            return FileAnalysis(path, "error", "binary file (NUL bytes), not C source",
                                source=sf)
        try:
            pf = self._parsed.get(path)  # parsed already for another file's lookups?
            if pf is None:
                pf = self.parse_source(sf)
                self._parsed[path] = pf
            for sd in pf.structs:
                self.types.add(sd.name, sd.fields)
            summ = self.summaries_for(pf)
            fas = analyse_functions(pf, self.model, summ, self.types)
        except RecursionError:
            return FileAnalysis(path, "error", "nesting too deep to analyse", source=sf)
        status = "degraded" if any(fa.function.degraded for fa in fas) else "ok"
        return FileAnalysis(path, status, None, pf, fas, sf, time.perf_counter() - t0, self)


def analyse_functions(pf: ParsedFile, model: LockModel, summ: Summaries,
                      types: TypeInfo) -> list[FunctionAnalysis]:
    """Solve every function; static functions called in the file get their callers' states."""
    fns = list(pf.functions)
    cfgs = {id(f): build_cfg(f) for f in fns}
    statics = {f.name: f for f in fns if f.is_static}
    callers: dict[str, list[tuple[C.Function, C.Call]]] = {n: [] for n in statics}
    for f in fns:
        for call in cfgs[id(f)].calls():
            if call.name in callers and call.name != f.name:
                callers[call.name].append((f, call))
    results: dict[str, FunctionAnalysis] = {}

    def solve(f: C.Function, entry: State | None, from_callers: bool) -> FunctionAnalysis:
        an = Analysis(f, cfgs[id(f)], model, summ, types)
        return FunctionAnalysis(f, an.cfg, an.solve(entry), from_callers)

    # first: every function with an unknown (or contract) entry
    for f in fns:
        results[f.name] = solve(f, None, False)
    # then: static helpers from their callers' states, a few rounds for chains of helpers
    # id(result) → (result, call → states). The result is kept with its id: a result
    # replaced in a later round is freed, and a new one may be given the same id
    call_states: dict[int, tuple[LockResult, dict[C.Call, list[State]]]] = {}

    def states_at_calls(fa: FunctionAnalysis) -> dict[C.Call, list[State]]:
        key = id(fa.result)
        hit = call_states.get(key)
        if hit is None or hit[0] is not fa.result:
            found: dict[C.Call, list[State]] = {}
            for ev in fa.result.replay():
                if ev.kind == "call" and ev.call is not None and ev.call.name in callers:
                    found.setdefault(ev.call, []).append(ev.state)
            hit = call_states[key] = (fa.result, found)
        return hit[1]

    for _ in range(ENTRY_ROUNDS):
        changed = False
        for name, sites in callers.items():
            if not sites:
                continue
            f = statics[name]
            entry = _entry_from_callers(f, sites, results, summ, states_at_calls)
            if entry is None:
                continue
            cur = results[name]
            if cur.entry_from_callers and cur.result.ins[cur.cfg.entry] == entry:
                continue
            results[name] = solve(f, entry, True)
            changed = True
        if not changed:
            break
    out = []
    for f in fns:
        fa = results.get(f.name)
        if fa is not None and fa.function is f:
            out.append(fa)
        else:
            out.append(solve(f, None, False))
    return out


def _entry_from_callers(f: C.Function, sites, results, summ, states_at_calls) -> State | None:
    own = Analysis(f, results[f.name].cfg, results[f.name].analysis.model, summ,
                   results[f.name].analysis.types).entry_state()
    entry: State | None = None
    for caller, call in sites:
        fa = results.get(caller.name)
        if fa is None:
            continue
        for st in states_at_calls(fa).get(call, ()):
            entry = join(entry, _map_state(st, fa.analysis, call, f))
    if entry is None:
        return None
    for k, fact in own.locks.items():  # the callee's own contract wins
        entry = entry.with_lock(k, fact)
    return entry


def _map_state(st: State, an: Analysis, call: C.Call, callee: C.Function) -> State:
    """Express the caller's state at a call site in the callee's parameter names."""
    prefixes: list[tuple[str, str]] = []
    for p, a in zip(callee.params, call.args):
        k = an.key(a, st)
        if k is not None:
            prefixes.append((k, p.name))
        addr = a
        if isinstance(addr, C.Unary) and addr.op == "&" and isinstance(addr.operand, C.Name):
            pass
    caller_locals = set(an.vartypes)

    def map_key(k: str) -> str | None:
        best = None
        for pre, name in prefixes:
            if _has_prefix(k, pre) and (best is None or len(pre) > len(best[0])):
                best = (pre, name)
        if best is not None:
            return best[1] + k[len(best[0]):]
        root = re.match(r"[A-Za-z_]\w*", k)
        if root and root.group(0) not in caller_locals and "@" not in k:
            return k  # a global lock keeps its name
        return None

    locks: dict[str, Fact] = {}
    for k, fact in st.locks.items():
        mk = map_key(k)
        if mk is not None and not st.null_rooted(k):
            locks[mk] = fact
    null = frozenset(m for m in (map_key(k) for k in st.null) if m)
    nonnull = frozenset(m for m in (map_key(k) for k in st.nonnull) if m)
    return State(locks, null, nonnull)
