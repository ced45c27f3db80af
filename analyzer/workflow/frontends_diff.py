"""``rmaplint frontends-diff``: both frontends on the same files, function by function.

A function is *identical* when the two frontends give the same lock state (locks, modes,
certainty, NULL-vacuity, reachability) on every line where either has code, and the same
findings. Every other function is a difference with a kind:

* ``lock-state``: the first lines whose states differ (both states in the detail);
* ``findings``: a finding only one frontend reports;
* ``only-tree-sitter`` / ``only-clang``: the function exists for one frontend only; for
  tree-sitter-only functions that is a definition the tree's configuration compiles out
  (``#ifdef CONFIG_…``: tree-sitter reads every branch, clang the configured one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .. import checks
from ..driver.project import Project
from ..locks.explain import explain
from ..locks.result import FileAnalysis, FileStatus, FunctionResult

SCHEMA = "rmaplint-frontends/1"
MAX_LINES_SHOWN = 3


@dataclass(frozen=True)
class Difference:
    path: str
    function: str
    kind: str
    detail: str

    def to_json(self) -> dict:
        return {"path": self.path, "function": self.function, "kind": self.kind,
                "detail": self.detail}


@dataclass
class FrontendsDiff:
    functions: int = 0
    identical: int = 0
    differences: list[Difference] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # path: message (file not compared)

    @property
    def agreement(self) -> float:
        return self.identical / self.functions if self.functions else 1.0

    def to_json(self) -> dict:
        return {"schema": SCHEMA, "functions": self.functions, "identical": self.identical,
                "agreement": round(self.agreement, 4),
                "differences": [d.to_json() for d in self.differences],
                "errors": self.errors}


def _states(fa: FunctionResult, text: str) -> tuple[dict[int, str], set[int]]:
    """The state before every line of the function, and the lines where code starts."""
    out = {}
    code = set()
    for ln in explain(fa, text).lines:
        held = ", ".join(sorted(f"{h.lock}:{h.mode[0].upper()}/{h.certainty}"
                                + (" if non-NULL" if h.vacuous else "") for h in ln.held))
        out[ln.line] = (held or "-") if ln.reachable else "unreachable"
        if ln.has_code:
            code.add(ln.line)
    return out, code


def _findings(found, name: str) -> set[tuple[str, int, str]]:
    return {(f.rule, f.line, f.message) for f in found if f.function == name}


def compare_file(ts: FileAnalysis, cl: FileAnalysis, model) -> FrontendsDiff:
    out = FrontendsDiff()
    path = ts.path
    text = ts.source.text if ts.source is not None else ""
    f_ts = checks.run_checks(ts, model)
    f_cl = checks.run_checks(cl, model)
    a = {fa.function.name: fa for fa in ts.functions}
    b = {fa.function.name: fa for fa in cl.functions}
    for name in sorted(set(a) | set(b), key=lambda n: (a.get(n) or b[n]).function.span.line):
        out.functions += 1
        if name not in b:
            out.differences.append(Difference(
                path, name, "only-tree-sitter",
                f"line {a[name].function.span.line}: not compiled in this configuration "
                "(clang reads the configured #if branch)"))
            continue
        if name not in a:
            out.differences.append(Difference(
                path, name, "only-clang", f"line {b[name].function.span.line}: tree-sitter "
                "found no definition"))
            continue
        diffs = []
        (sa, ca), (sb, cb) = _states(a[name], text), _states(b[name], text)
        lines = sorted(ca | cb)
        bad = [ln for ln in lines if sa.get(ln) != sb.get(ln)]
        if bad:
            shown = "; ".join(f"line {ln}: tree-sitter {sa.get(ln, '?')} / clang "
                              f"{sb.get(ln, '?')}" for ln in bad[:MAX_LINES_SHOWN])
            more = f" (+{len(bad) - MAX_LINES_SHOWN} lines)" if len(bad) > MAX_LINES_SHOWN \
                else ""
            diffs.append(Difference(path, name, "lock-state", shown + more))
        fa_, fb_ = _findings(f_ts, name), _findings(f_cl, name)
        for rule, line, msg in sorted(fa_ - fb_):
            diffs.append(Difference(path, name, "findings",
                                    f"tree-sitter only: {rule} at line {line}: {msg}"))
        for rule, line, msg in sorted(fb_ - fa_):
            diffs.append(Difference(path, name, "findings",
                                    f"clang only: {rule} at line {line}: {msg}"))
        if diffs:
            out.differences.extend(diffs)
        else:
            out.identical += 1
    return out


def frontends_diff(source, model, files: list[str], clang, cache=None,
                   all_branches: bool = False) -> FrontendsDiff:
    """Analyse ``files`` of ``source`` with tree-sitter and with clang (``clang`` is the
    prepared tree's BuildConfig) and compare. tree-sitter reads the ``#if`` chains that the
    prepared configuration decides as clang does, unless ``all_branches``: then the
    differences include everything configuration-dependent."""
    config = None
    if not all_branches:
        from ..frontend.kconfig import KernelConfig

        config = KernelConfig.from_autoconf(clang.objtree / "include/generated/autoconf.h")
    ts_project = Project(source, model, cache, config=config)
    cl_project = Project(source, model, cache, clang=clang)
    total = FrontendsDiff()
    for path in files:
        ts = ts_project.analyse_file(path)
        cl = cl_project.analyse_file(path)
        if ts.status == FileStatus.ERROR or cl.status == FileStatus.ERROR:
            total.errors.append(f"{path}: {ts.error or cl.error}")
            continue
        one = compare_file(ts, cl, model)
        total.functions += one.functions
        total.identical += one.identical
        total.differences.extend(one.differences)
    return total


def diff_json(d: FrontendsDiff) -> str:
    return json.dumps(d.to_json(), indent=2) + "\n"


def diff_text(d: FrontendsDiff) -> str:
    lines = [f"{d.identical}/{d.functions} functions identical "
             f"({100 * d.agreement:.1f}%) between tree-sitter and clang"]
    by_fn: dict[tuple[str, str], list[Difference]] = {}
    for x in d.differences:
        by_fn.setdefault((x.path, x.function), []).append(x)
    for (path, fn), xs in by_fn.items():
        lines.append(f"{path}: {fn}:")
        lines.extend(f"  {x.kind}: {x.detail}" for x in xs)
    lines.extend(f"error: {e}" for e in d.errors)
    return "\n".join(lines) + "\n"
