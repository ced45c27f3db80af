"""The pipeline's direction is a test, not a convention (import-linter style contracts).

``analyzer/``'s packages are layers, listed from the bottom: a module may import modules of
its own layer and of layers below it, never above. Beyond the layering:

* ``report`` turns finished results into text: it never imports the engine (``driver``,
  ``locks.transfer``/``dataflow``/``summaries``, ``frontend``, ``checks``) nor runs git or
  another program (``subprocess``); of ``workflow`` and ``unittests`` it reads only their
  value modules (``VALUE_MODULES``), which import nothing that runs anything, however
  indirectly;
* nothing below ``cli`` reads ``sys.argv`` or prints (``print(`` to stdout) — the command
  line does that; progress goes through callbacks.

The contracts are read from the source with ``ast``, so a lazy import inside a function
counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "analyzer"

# bottom first; modules directly in analyzer/ (errors, datafile) are the base
LAYERS = [
    {"errors", "datafile", "__init__"},
    {"syntax"},
    {"source"},
    {"frontend"},
    {"index"},
    {"model"},
    {"flow"},
    {"locks"},
    {"findings"},
    {"checks", "mining"},
    {"driver"},
    {"workflow", "unittests"},
    {"report"},
    {"cli"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
# what report may not reach even though it sits above it
REPORT_FORBIDDEN = ("analyzer.driver", "analyzer.frontend", "analyzer.checks",
                    "analyzer.locks.transfer", "analyzer.locks.dataflow",
                    "analyzer.locks.summaries", "analyzer.workflow", "analyzer.unittests",
                    "subprocess")
# the result types report formats: plain values, allowed to report
VALUE_MODULES = ("analyzer.workflow.results", "analyzer.unittests.results")
# what a value module may not reach, directly or through the modules it imports
VALUE_FORBIDDEN = ("subprocess", "multiprocessing", "concurrent", "analyzer.driver",
                   "analyzer.frontend", "analyzer.checks", "analyzer.source",
                   "analyzer.index", "analyzer.locks.transfer", "analyzer.locks.dataflow",
                   "analyzer.locks.summaries", "analyzer.workflow.review",
                   "analyzer.workflow.series", "analyzer.unittests.runner")


def _within(mod: str, prefixes) -> bool:
    return any(mod == f or mod.startswith(f + ".") for f in prefixes)


def modules():
    for p in sorted(PACKAGE.rglob("*.py")):
        rel = p.relative_to(PACKAGE)
        if "__pycache__" in rel.parts:
            continue
        yield p, rel


def layer_of(rel: Path) -> str:
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imports(path: Path, rel: Path):
    """(line, absolute module) for every import of the file."""
    tree = ast.parse(path.read_text())
    pkg = ["analyzer", *rel.parts[:-1]]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[:len(pkg) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield node.lineno, mod
            for a in node.names:  # from . import x: x may be a module
                yield node.lineno, f"{mod}.{a.name}"


def target_layer(mod: str) -> str | None:
    parts = mod.split(".")
    if parts[0] != "analyzer" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in RANK else None


def test_every_package_has_a_layer():
    missing = {layer_of(rel) for _, rel in modules()} - set(RANK)
    assert not missing, f"add to LAYERS: {sorted(missing)}"


@pytest.mark.parametrize("path, rel", list(modules()), ids=lambda x: str(x))
def test_imports_go_down_the_pipeline(path: Path, rel: Path):
    me = layer_of(rel)
    bad = []
    for line, mod in imports(path, rel):
        t = target_layer(mod)
        if t is not None and RANK[t] > RANK[me]:
            bad.append(f"{rel}:{line}: {me} imports {mod} ({t} is above it)")
        if me == "report" and _within(mod, REPORT_FORBIDDEN) and not _within(mod, VALUE_MODULES):
            bad.append(f"{rel}:{line}: report imports {mod}: reports read results only")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path, rel", [(p, r) for p, r in modules() if layer_of(r) != "cli"],
                         ids=lambda x: str(x))
def test_nothing_below_cli_reads_argv_or_prints(path: Path, rel: Path):
    tree = ast.parse(path.read_text())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "argv" \
                and isinstance(node.value, ast.Name) and node.value.id == "sys":
            bad.append(f"{rel}:{node.lineno}: reads sys.argv")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "print" and not any(
                    k.arg == "file" for k in node.keywords):
            bad.append(f"{rel}:{node.lineno}: print() to stdout")
    assert not bad, "\n".join(bad)


def _module_file(mod: str) -> Path | None:
    parts = mod.split(".")
    if parts[0] != "analyzer":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def reached(mod: str) -> dict[str, str]:
    """Every module ``mod`` imports, directly or through the analyzer modules it imports
    (lazy imports included) → the module that imports it."""
    seen: dict[str, str] = {}
    todo = [mod]
    while todo:
        cur = todo.pop()
        path = _module_file(cur)
        if path is None:
            continue
        for _, m in imports(path, path.relative_to(PACKAGE)):
            if m not in seen:
                seen[m] = cur
                todo.append(m)
    return seen


@pytest.mark.parametrize("mod", VALUE_MODULES)
def test_value_modules_run_nothing(mod: str):
    assert _module_file(mod) is not None, f"{mod}: no such module"
    bad = [f"{mod} reaches {m} (imported by {by})" for m, by in sorted(reached(mod).items())
           if _within(m, VALUE_FORBIDDEN)]
    assert not bad, "\n".join(bad)


def test_the_contract_sees_an_indirect_import():
    # the check itself: workflow.review runs git through subprocess and the driver
    found = reached("analyzer.workflow.review")
    assert "subprocess" in found and "analyzer.driver.run" in found
