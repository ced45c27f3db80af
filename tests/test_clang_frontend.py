"""The libclang frontend, the configured tree-sitter reading, and frontends-diff."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.syntax import tree as C
from analyzer.frontend.clang import BuildConfig, ClangFrontend, FrontendUnavailable, build_config
from analyzer.frontend.kconfig import KernelConfig, Unknown
from analyzer.frontend.rewrite import load_data
from analyzer.frontend.treesitter import parse_file

ROOT = Path(__file__).resolve().parent.parent
FIVE = ["mm/rmap.c", "mm/mmap.c", "mm/vma.c", "mm/ksm.c", "mm/memory-failure.c"]


def rmaplint(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "analyzer.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=env)


# --------------------------------------------------------------------------- configuration


@pytest.fixture
def config(tmp_path):
    p = tmp_path / "autoconf.h"
    p.write_text("#define CONFIG_MMU 1\n#define CONFIG_KSM_MODULE 1\n#define CONFIG_NR 4\n")
    return KernelConfig.from_autoconf(p)


@pytest.mark.parametrize("cond,value", [
    ("defined(CONFIG_MMU)", True), ("defined CONFIG_NUMA", False),
    ("IS_ENABLED(CONFIG_KSM)", True), ("IS_BUILTIN(CONFIG_KSM)", False),
    ("IS_MODULE(CONFIG_KSM)", True), ("CONFIG_NR > 2 && !defined(CONFIG_NUMA)", True),
    ("0", False), ("defined(CONFIG_MMU) && (CONFIG_NR == 4)", True),
])
def test_conditions(config, cond, value):
    assert config.evaluate(cond) is value


def test_a_condition_on_an_arch_macro_is_not_decided(config):
    with pytest.raises(Unknown):
        config.evaluate("defined(HAVE_ARCH_UNMAPPED_AREA)")
    with pytest.raises(Unknown):  # conservative: any undecided name leaves the chain alone
        config.evaluate("defined(CONFIG_MMU) || defined(__x86_64__)")


def test_apply_keeps_offsets_and_reads_decided_chains_only(config):
    text = ("int a;\n#ifdef CONFIG_NUMA\nint numa;\n#elif defined(CONFIG_MMU)\nint mmu;\n"
            "#else\nint none;\n#endif\n#ifdef HAVE_ARCH_X\nint arch;\n#else\nint generic;\n"
            "#endif\n")
    out = config.apply(text)
    assert len(out) == len(text) and out.count("\n") == text.count("\n")
    assert "int mmu;" in out and "numa" not in out and "none" not in out
    assert out.count("#ifdef") == 1 and "#elif" not in out  # decided directives blanked
    assert "int arch;" in out and "int generic;" in out  # undecided: both branches stay


# --------------------------------------------------------------------------- tree-sitter


def test_syscall_bodies_are_functions_for_tree_sitter():
    text = ("SYSCALL_DEFINE2(munmap, unsigned long, addr, size_t, len)\n{\n"
            "\tmmap_write_lock(current->mm);\n\treturn 0;\n}\n")
    pf = parse_file("mm/x.c", text, load_data().fallback)
    [fn] = pf.functions
    assert fn.name == "__do_sys_munmap"
    assert [(p.name, p.type) for p in fn.params] == [("addr", "unsigned long"), ("len", "size_t")]
    assert fn.span.line == 1 and fn.span.end_line == 5
    assert not fn.degraded  # the head's missing ';' is the macro's shape, not an error


def test_a_syscall_with_type_arguments_is_analysed():
    text = ("SYSCALL_DEFINE1(old_op, struct op_args __user *, arg)\n{\n"
            "\tmmap_write_lock(current->mm);\n\treturn 0;\n}\n")
    [fn] = parse_file("mm/x.c", text, load_data().fallback).functions
    assert fn.name == "__do_sys_old_op" and not fn.degraded
    assert [(p.name, p.type) for p in fn.params] == [("arg", "struct op_args __user *")]
    broken = text.replace("return 0;", "return 0 @@;")
    [fn] = parse_file("mm/x.c", broken, load_data().fallback).functions
    assert fn.degraded  # an error in the body still is one


# --------------------------------------------------------------------------- clang, plain C


def test_clang_keeps_kernel_api_macros_and_recognises_loops(tmp_path):
    (tmp_path / "k.h").write_text(
        "struct list_head { struct list_head *next; };\n"
        "struct item { struct list_head node; int v; };\n"
        "#define list_for_each_entry(p, h, m) for (p = (void *)(h)->next; p; p = 0)\n"
        "#define spin_lock_irqsave(l, f) do { (f) = __lock_irqsave(l); } while (0)\n"
        "#define READ_ONCE(x) (*(volatile typeof(x) *)&(x))\n"
        "unsigned long __lock_irqsave(int *l);\n")
    (tmp_path / "a.c").write_text(
        '#include "k.h"\nint f(struct list_head *h, int *l)\n{\n\tstruct item *it;\n'
        "\tunsigned long flags;\n\tint n = 0;\n\tspin_lock_irqsave(l, flags);\n"
        "\tlist_for_each_entry(it, h, node)\n\t\tn += READ_ONCE(it->v);\n\treturn n;\n}\n")
    fe = ClangFrontend(BuildConfig.plain(tmp_path), load_data().fallback)
    pf = fe.parse_file("a.c", (tmp_path / "a.c").read_text())
    [fn] = pf.functions
    body = fn.body.body
    lock = next(s for s in body if isinstance(s, C.ExprStmt))
    assert C.render(lock.expr) == "spin_lock_irqsave(l, flags)"
    loop = next(s for s in body if isinstance(s, C.IterLoop))
    assert loop.macro == "list_for_each_entry" and C.render(loop.iterated) == "h"
    assert "READ_ONCE(it->v)" in C.render(loop.body.expr)
    assert {"list_head": {"next": "struct list_head *"}}.items() <= \
        {s.name: s.fields for s in pf.structs}.items()


def test_clang_names_the_member_through_anonymous_unions(tmp_path):
    (tmp_path / "a.c").write_text(
        "struct m { int x; };\nstruct f { union { struct m *mapping; long pad; }; };\n"
        "struct m *g(struct f *folio)\n{\n\treturn folio->mapping;\n}\n")
    fe = ClangFrontend(BuildConfig.plain(tmp_path))
    [fn] = fe.parse_file("a.c", (tmp_path / "a.c").read_text()).functions
    assert C.render(fn.body.body[0].value) == "folio->mapping"


# --------------------------------------------------------------------------- unprepared trees


def _unprepared(tmp_path) -> Path:
    tree = tmp_path / "linux"
    (tree / "include" / "linux").mkdir(parents=True)
    (tree / "Makefile").write_text("all:\n")
    (tree / "mm").mkdir()
    (tree / "mm" / "a.c").write_text("void f(void)\n{\n}\n")
    return tree


def test_build_config_says_what_to_run(tmp_path):
    tree = _unprepared(tmp_path)
    with pytest.raises(FrontendUnavailable, match="make defconfig && make prepare"):
        build_config(tree)
    (tree / ".config").write_text("CONFIG_MMU=y\n")
    with pytest.raises(FrontendUnavailable, match="run `make prepare`"):
        build_config(tree)


def test_clang_on_an_unprepared_tree_is_one_line_and_exit_2(tmp_path):
    tree = _unprepared(tmp_path)
    for args in (["check", "--frontend", "clang", "mm/a.c"],
                 ["explain", "--frontend", "clang", "mm/a.c", "f"],
                 ["frontends-diff", "mm/a.c"]):
        r = rmaplint(*args, "--repo", str(tree), cwd=tree)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.count("\n") == 1 and "make defconfig && make prepare" in r.stderr
        assert "Traceback" not in r.stderr


def test_auto_falls_back_to_tree_sitter_and_says_so_once(tmp_path):
    tree = _unprepared(tmp_path)
    r = rmaplint("check", "--frontend", "auto", "--no-cache", "-q", "mm", "--repo", str(tree))
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("using tree-sitter") == 1 and r.stderr.count("\n") == 1


# --------------------------------------------------------------------------- the real tree


def test_central_case_is_the_same_for_both_frontends(prepared_kernel_tree: Path):
    # the lock states line by line are the same (explain's JSON: the lines only); what the
    # callers decide is read from the callers' files with each frontend, and is not part of
    # this comparison (with clang, parsing them is most of the run's time)
    tree = str(prepared_kernel_tree)
    ts = rmaplint("explain", "--format", "json", "mm/rmap.c", "anon_vma_clone", "--repo", tree)
    cl = rmaplint("explain", "--format", "json", "--frontend", "clang", "mm/rmap.c",
                  "anon_vma_clone", "--repo", tree)
    assert ts.returncode == cl.returncode == 0, cl.stderr
    ts_doc, cl_doc = json.loads(ts.stdout), json.loads(cl.stdout)
    assert cl_doc["lines"] == ts_doc["lines"]
    assert {"lock": "root->rwsem", "class": "anon_vma.rwsem", "mode": "write",
            "certainty": "must", "if_not_null": True} in \
        [h for ln in cl_doc["lines"] for h in ln.get("held", ())]


def test_frontends_agree_on_the_rmap_files(prepared_kernel_tree: Path, tmp_path):
    out = tmp_path / "frontends.json"
    r = rmaplint("frontends-diff", "--format", "json", "-o", str(out), *FIVE,
                 "--repo", str(prepared_kernel_tree))
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["schema"] == "rmaplint-frontends/1" and not doc["errors"]
    assert set(doc) >= {"functions", "identical", "differences"}
    for d in doc["differences"]:
        assert set(d) == {"path", "function", "kind", "detail"}
    print(f"frontends-diff: {doc['identical']}/{doc['functions']} identical")
    assert doc["functions"] > 300
    assert doc["identical"] / doc["functions"] >= 0.95, doc["differences"]
