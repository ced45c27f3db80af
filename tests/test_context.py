"""Findings decided at the function's callers (analyzer.driver.context): "held by all N
callers", a caller that lacks the lock through a chain across two folders, the safe verdict
of a lock dropped in a walk protected by a lock the callers hold, and the callers index."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from analyzer.driver.cache import Cache
from analyzer.driver.context import MAX_FILES, Contexts, Held, decide, entry_point
from analyzer.driver.run import Checker, SourceSpec, caller_verdicts, check_paths, decide_at_callers
from analyzer.findings.finding import Finding, Severity
from analyzer.index.bodies import bodies
from analyzer.index.callers import CallerIndex, called_names
from analyzer.locks.calls import CallSite, FunctionCalls, LockAt, Need
from analyzer.locks.lockid import parse_path
from analyzer.model import lockmodel
from analyzer.source.reader import TreeSource

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "corpus" / "context"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The fixture tree: mm/ and kernel/ callers, the rule fixtures' headers in include/."""
    t = tmp_path / "tree"
    shutil.copytree(FIXTURES, t, ignore=shutil.ignore_patterns("*.md"))
    (t / "include").mkdir()
    for h in ("anon.h", "kernel.h"):
        shutil.copy(ROOT / "corpus" / "rules" / h, t / "include" / h)
    return t


def run(tree: Path, paths: list[str], jobs: int = 1, cache: Path | None = None):
    spec = SourceSpec(str(tree), None, None, None, str(cache) if cache else None)
    return check_paths(spec, paths, jobs=jobs)


def of(run_, path: str):
    return next(r for r in run_.reports if r.path == path)


def test_walk_held_by_every_caller_is_decided_away(tree):
    rep = of(run(tree, ["mm/chain.c"]), "mm/chain.c")
    assert not [f for f in rep.findings if f.function == "chain_count"]
    decided = [d for d in rep.decided if d.function == "chain_count"]
    assert len(decided) == 1 and decided[0].rule == "walk-unlocked"
    assert "held by all 2 callers" in decided[0].text
    assert "count_locked() (mm/users.c:" in decided[0].text


def test_caller_that_dropped_the_lock_is_named_with_its_chain(tree):
    rep = of(run(tree, ["mm/chain.c"]), "mm/chain.c")
    [f] = [f for f in rep.findings if f.function == "chain_sum"]
    assert (f.rule, f.kind, f.severity) == ("walk-unlocked", "caller-lacks", "error")
    assert "sum_after_unlock() (kernel/users.c:" in f.message
    assert any(r.path == "kernel/users.c" for r in f.related)
    # the caller that holds it is no excuse for the one that does not
    assert "sum_locked" not in f.message


def test_chain_of_three_across_two_folders(tree):
    model = lockmodel.load()
    checker = Checker(TreeSource(tree), model, Cache(None))
    [(f, sites)] = caller_verdicts(checker, "mm/chain.c", "chain_count")
    assert f.rule == "walk-unlocked"
    by = {s.caller: s for s in sites}
    assert set(by) == {"count_locked", "count_for"}
    assert by["count_locked"].verdict == Held.HELD
    up = by["count_for"]  # count_for -> count_twice (static) -> count_all takes the lock
    assert up.verdict == Held.HELD and up.path == "mm/users.c"
    [twice] = {s.caller for s in up.subs}
    assert twice == "count_twice"
    top = [t for s in up.subs for t in s.subs]
    assert top and all(t.caller == "count_all" and t.path == "kernel/users.c"
                       and t.verdict == Held.HELD for t in top)


def test_drop_in_walk_protected_by_the_callers_lock_is_safe(tree):
    rep = of(run(tree, ["mm/chain.c"]), "mm/chain.c")
    [f] = [f for f in rep.findings if f.rule == "lock-dropped-in-loop"]
    assert (f.severity, f.kind) == ("note", "safe")
    assert "protected by src->vm_mm->mmap_lock, held by its caller" in f.message
    assert "copy_locked() (mm/users.c:" in f.message


def test_without_its_callers_the_drop_stays_a_warning(tree):
    (tree / "mm" / "users.c").unlink()
    rep = of(run(tree, ["mm/chain.c"]), "mm/chain.c")
    [f] = [f for f in rep.findings if f.rule == "lock-dropped-in-loop"]
    assert f.severity == "warning"
    assert "no caller in the indexed tree" in f.message
    # chain_sum keeps one caller, which dropped the lock
    [w] = [f for f in rep.findings if f.function == "chain_sum"]
    assert w.severity == "error" and w.kind == "caller-lacks"


def test_same_verdicts_alone_whole_tree_parallel_and_warm(tree, tmp_path):
    def seen(r):
        rep = of(r, "mm/chain.c")
        return sorted((f.fingerprint, f.severity, f.message) for f in rep.findings), \
            sorted(d.text for d in rep.decided)

    alone = seen(run(tree, ["mm/chain.c"]))
    assert seen(run(tree, ["."])) == alone
    assert seen(run(tree, ["."], jobs=2)) == alone
    cache = tmp_path / "cache"
    assert seen(run(tree, ["mm/chain.c"], cache=cache)) == alone
    warm = run(tree, ["mm/chain.c"], cache=cache)
    assert warm.cache_hits == 1 and seen(warm) == alone


def test_a_new_caller_changes_the_verdict_on_a_warm_cache(tree, tmp_path):
    cache = tmp_path / "cache"
    run(tree, ["mm/chain.c"], cache=cache)
    (tree / "kernel" / "late.c").write_text(
        '#include "anon.h"\nint chain_count(struct vm_area_struct *src);\n'
        "int late(struct vm_area_struct *vma)\n{\n\treturn chain_count(vma);\n}\n")
    rep = of(run(tree, ["mm/chain.c"], cache=cache), "mm/chain.c")
    [w] = [f for f in rep.findings if f.function == "chain_count"]
    assert "held by 2 of 3 callers" in w.message and "late() (kernel/late.c:" in w.message


def test_verbose_and_explain_show_the_callers(tree):
    env_cmd = [sys.executable, "-m", "analyzer.cli"]
    out = subprocess.run([*env_cmd, "check", "--no-cache", "--verbose", "mm/chain.c"],
                         cwd=tree, capture_output=True, text=True)
    assert "mm/chain.c:11: chain_count: decided at the callers [walk-unlocked]" in out.stdout
    ex = subprocess.run([*env_cmd, "explain", "--no-cache", "mm/chain.c", "chain_count"],
                        cwd=tree, capture_output=True, text=True)
    assert ex.returncode == 0, ex.stderr
    assert "src->vm_mm->mmap_lock held by all 2 callers" in ex.stdout
    assert "held: count_all() (kernel/users.c:" in ex.stdout


# ----------------------------------------------------------------------- the values


def test_called_names_are_call_positions_without_keywords():
    names = called_names(b"int f(void)\n{\n\tif (g(1)) return h (2);\n\tsizeof(x);\n}\n")
    assert names == ("f", "g", "h")


def test_callers_index_lists_files_in_path_order():
    ix = CallerIndex.build([("b.c", ("x",)), ("a.c", ("x", "y"))], ("mm",), "d")
    assert ix.calling("x") == ("a.c", "b.c") and ix.calling("z") == ()
    assert ix.covers("mm/a.c") and not ix.covers("mmx/a.c")


def _site(callee, args, locks=()):
    return CallSite(callee, 10, tuple(parse_path(a) if a else None for a in args),
                    tuple(locks))


def test_need_rebases_on_the_argument_and_the_class_serves_for_another_object():
    need = Need("walk", parse_path("src->vm_mm->mmap_lock"), 0, "mm_struct.mmap_lock", "read")
    assert need.at(_site("walk", ["prev"])) == parse_path("prev->vm_mm->mmap_lock")
    assert need.at(_site("walk", [None])) is None
    held = LockAt(parse_path("mm->mmap_lock"), "mm_struct.mmap_lock", "R")
    tables = {"a.c": (FunctionCalls("walk", 1, False, ("src",), ()),),
              "b.c": (FunctionCalls("user", 1, False, ("mm", "v"),
                                    (_site("walk", ["v"], [held]),)),)}
    ctx = Contexts(lambda p, _name: tables.get(p), CallerIndex.build(
        [("b.c", ("walk",))], ("",), "d"))
    [s] = ctx.sites("a.c", "walk", need)
    assert s.verdict == Held.HELD and "mm->mmap_lock" in s.how
    # a write need is not served by a lock held for read
    wneed = Need("walk", need.path, 0, need.cls, "write")
    [s] = ctx.sites("a.c", "walk", wneed)
    assert s.verdict == Held.UNKNOWN and "no caller" in s.how


def test_a_lock_held_only_if_its_pointer_is_not_null_serves_only_its_own_object():
    """``if (locked) lock(locked)``: on the path where ``locked`` is NULL no lock of the
    class is held, so the lock proves the need of its own object (which does not exist on
    that path either), never another object's by its class."""
    need = Need("walk", parse_path("src->vm_mm->mmap_lock"), 0, "mm_struct.mmap_lock", "read")
    maybe = LockAt(parse_path("mm->mmap_lock"), "mm_struct.mmap_lock", "R", vacuous=True)
    own = LockAt(parse_path("v->vm_mm->mmap_lock"), "mm_struct.mmap_lock", "R", vacuous=True)
    tables = {"a.c": (FunctionCalls("walk", 1, False, ("src",), ()),),
              "b.c": (FunctionCalls("other", 1, False, ("mm", "v"),
                                    (_site("walk", ["v"], [maybe]),)),
                      FunctionCalls("same", 9, False, ("v",),
                                    (_site("walk", ["v"], [own]),)))}
    ctx = Contexts(lambda p, _name: tables.get(p), CallerIndex.build(
        [("b.c", ("walk",))], ("",), "d"))
    by = {s.caller: s for s in ctx.sites("a.c", "walk", need)}
    assert by["same"].verdict == Held.HELD
    assert by["other"].verdict == Held.UNKNOWN
    # the same lock held on every path does serve by its class
    sure = replace(maybe, vacuous=False)
    tables["b.c"] = (FunctionCalls("other", 1, False, ("mm", "v"),
                                   (_site("walk", ["v"], [sure]),)),)
    ctx = Contexts(lambda p, _name: tables.get(p), CallerIndex.build(
        [("b.c", ("walk",))], ("",), "d"))
    [s] = ctx.sites("a.c", "walk", need)
    assert s.verdict == Held.HELD


def test_a_static_function_of_the_same_name_elsewhere_is_not_a_caller():
    need = Need("walk", parse_path("v->lock"), 0, None, "read")
    tables = {"a.c": (FunctionCalls("walk", 1, False, ("v",), ()),),
              "b.c": (FunctionCalls("walk", 1, True, ("v",), ()),
                      FunctionCalls("user", 5, False, ("v",), (_site("walk", ["v"]),)))}
    ctx = Contexts(lambda p, _name: tables.get(p), CallerIndex.build(
        [("b.c", ("walk",))], ("",), "d"))
    assert ctx.sites("a.c", "walk", need) == ()


# ------------------------------------------------------------------ sleeping down the tree

def sleeps(run_, path: str = "mm/sleepy.c"):
    return [f for f in of(run_, path).findings if f.rule == "sleep-in-atomic"]


def test_sleep_two_calls_down_in_other_folders_is_reported_with_the_chain(tree):
    [f] = sleeps(run(tree, ["mm/sleepy.c"]))
    assert (f.function, f.severity, f.kind) == ("stats_add", "error", "chain")
    assert "st->lock" in f.message
    # the whole chain, each step with the file and line of its call
    for step in ("stats_refill() (kernel/waits.c:", "pool_grow() (lib/pool.c:",
                 "pool_resize() (lib/pool.c:", "takes a mutex: mutex_lock(m)"):
        assert step in f.message


def test_a_helper_that_drops_the_callers_lock_or_does_not_sleep_is_quiet(tree):
    assert {f.function for f in sleeps(run(tree, ["mm/sleepy.c"]))} == {"stats_add"}


def test_sleep_chain_alone_equals_whole_tree_and_follows_an_edit_on_a_warm_cache(tree,
                                                                                  tmp_path):
    alone = [(f.fingerprint, f.message) for f in sleeps(run(tree, ["mm/sleepy.c"]))]
    assert [(f.fingerprint, f.message) for f in sleeps(run(tree, ["."], jobs=2))] == alone
    cache = tmp_path / "cache"
    assert len(sleeps(run(tree, ["mm/sleepy.c"], cache=cache))) == 1
    pool = tree / "lib" / "pool.c"
    text = pool.read_text()
    pool.write_text(text.replace("\tmutex_lock(m);\n", "").replace("\tmutex_unlock(m);\n", ""))
    warm = run(tree, ["mm/sleepy.c"], cache=cache)
    assert warm.cache_hits == 0 and sleeps(warm) == []  # a file three calls down changed
    pool.write_text(text)
    assert len(sleeps(run(tree, ["mm/sleepy.c"], cache=cache))) == 1


def test_bodies_are_read_by_the_kernel_layout():
    text = ("static int helper(struct x *a,\n\t\t  int b)\n{\n\tfoo(a->b, bar(b));\n"
            "\tops->cb(a);\n\t/* baz(a); */\n\treturn 0;\n}\n\n"
            "struct page *\nexported(void)\n{\n\treturn helper(NULL, 1);\n}\n"
            "#define wrap(x)\tdo { spin_unlock(&(x)->lock); \\\n\tmsleep(1); } while (0)\n")
    found = bodies(text)
    assert set(found) == {"helper", "exported", "wrap"}
    h = found["helper"]
    assert h.static and h.line == 1
    assert [(c.name, c.line, c.args) for c in h.calls] == [("foo", 4, "a->b, bar(b)"),
                                                         ("bar", 4, "b")]
    assert not found["exported"].static and [c.name for c in found["exported"].calls] == \
        ["helper"]
    assert found["wrap"].macro and [c.name for c in found["wrap"].calls] == \
        ["spin_unlock", "msleep"]


# ------------------------------------------------------------------ double lock in a callee

def test_a_lock_taken_again_inside_a_callee_is_a_double_lock_with_the_chain(tree):
    found = {f.function: f for f in of(run(tree, ["mm/relock.c"]), "mm/relock.c").findings
             if f.rule == "double-lock"}
    assert set(found) == {"queue_setup_failed", "queue_account"}
    direct, deep = found["queue_setup_failed"], found["queue_account"]
    assert (direct.kind, direct.severity) == ("callee", "error")
    assert "q->mutex" in direct.message and "inside queue_remove()" in direct.message
    assert "queue_remove() (kernel/queue.c:" in direct.message
    assert [r.message for r in direct.related] == ["first acquired here"]
    # two calls down, through a global the caller holds
    assert "queue_count() (kernel/queue.c:" in deep.message
    assert "queues_recount() (kernel/queue.c:" in deep.message
    assert "takes queues_lock: spin_lock(&queues_lock)" in deep.message


def test_retakes_follow_arguments_and_skip_cycles_and_moved_parameters():
    from analyzer.locks.retakes import Retakes, rebase

    text = (FIXTURES / "kernel" / "queue.c").read_text()
    found = bodies(text)
    model = lockmodel.load(None)
    rt = Retakes(model, lambda name, path: [(path, found[name])] if name in found else [])
    assert [(r.lock, r.param) for r in rt.of_call("queue_remove", "k.c")] == [("q->mutex", 0)]
    assert rt.of_call("queue_wait", "k.c") == ()  # released first: the caller's, retaken
    assert [(r.lock, r.param) for r in rt.of_call("queue_lock_parent", "k.c")] == \
        [("q->parent->mutex", 0)]
    assert rt.of_call("queue_up_lock", "k.c") == ()  # q names the parent by then
    assert [(r.lock, r.param) for r in rt.of_call("queue_count", "k.c")] == \
        [("queues_lock", None)]
    assert rt.of_call("queue_maybe_lock", "k.c") == ()  # only on the path a flag picks
    assert rebase("p->m", "p", "&s->inner") == "s->inner.m"
    assert rebase("p->m", "p", "q->parent") == "q->parent->m"
    assert rebase("p->m", "p", "f(x)") is None


def test_callers_hold_the_lock_across_text_callees_pointer_calls_and_methods(tree):
    """peek_noted() holds the mmap lock across another folder's helper that touches no
    lock of mm (read as text) and a hook given mm; widget_mmap() is an ->mmap method, whose
    caller holds it by the lock model's contract; mm_note_drop() gives it back."""
    rep = of(run(tree, ["mm/peek.c"]), "mm/peek.c")
    [f] = [f for f in rep.findings if f.function == "chain_peek"]
    assert f.rule == "walk-unlocked"
    assert "held by 2 of 3 callers" in f.message
    assert "widget_mmap() (fs/widget.c:" in f.message and "peek_noted() (line" in f.message
    assert "unknown at peek_after_drop() (line" in f.message


def test_touches_names_the_parameters_whose_locks_a_text_callee_changes():
    from analyzer.locks.retakes import Touches

    found = bodies((FIXTURES / "kernel" / "notes.c").read_text())
    model = lockmodel.load(None)
    macro = bodies("#define drop_it(m) mmap_read_unlock(m)\n"
                   "#define mmap_read_unlock(m) up_read(&(m)->mmap_lock)\n")

    def resolve(name, path):
        for b in (found, macro):
            if name in b:
                return [(path, b[name])]
        return []

    t = Touches(model, resolve)
    assert t.of_call("mm_note", "k.c") == frozenset()
    assert t.of_call("mm_note_drop", "k.c") == frozenset({0})
    assert t.of_call("drop_it", "k.c") == frozenset({0})
    assert t.of_call("not_in_sight", "k.c") is None
    assert t.of_call("up_read", "k.c") is None  # a primitive: the lock model's


def test_operations_tables_give_their_methods_the_model_contract():
    from analyzer.frontend.treesitter import parse_file  # noqa: F401  (frontend loads)
    from analyzer.index.ops import assigned_methods

    text = (FIXTURES / "fs" / "widget.c").read_text()
    assert assigned_methods(text)["widget_mmap"] == (("file_operations", "mmap"),)
    arr = ("static struct proc_ops ops[] __ro_after_init = {\n"
           "\t{ .proc_mmap = a_mmap, },\n\t{ .proc_mmap = b_mmap },\n};\n"
           "/* .mmap = not_a_table */\n")
    got = assigned_methods(arr)
    assert got["a_mmap"] == got["b_mmap"] == (("proc_ops", "proc_mmap"),)
    assert "not_a_table" not in got
    # as call-graph edges only tables that set two members or more to functions count: an
    # operations table, not the holder of one callback (nor an array of such holders)
    nb = ("static struct notifier_block a_nb = {\n\t.notifier_call = a_event,\n"
          "\t.priority = INT_MAX,\n};\n"
          "static const struct gadget_ops g_ops = {\n\t.scan = g_scan,\n\t.count = g_count,\n"
          "\t.owner = THIS_MODULE,\n};\n")
    functions = {"a_event", "g_scan", "g_count", "a_mmap", "b_mmap"}
    assert assigned_methods(nb, functions, least=2) == {
        "g_scan": (("gadget_ops", "scan"),), "g_count": (("gadget_ops", "count"),),
        "THIS_MODULE": (("gadget_ops", "owner"),)}
    assert "a_event" in assigned_methods(nb)  # an entry point all the same
    assert assigned_methods(arr, functions, least=2) == {}


def test_html_gutter_shows_what_the_callers_decided(tree, tmp_path):
    """The HTML page marks the line a finding was decided away at, with the callers."""
    out = tmp_path / "html"
    proc = subprocess.run([sys.executable, "-m", "analyzer.cli", "check", "--no-cache",
                           "--format", "html", "-o", str(out), "mm/chain.c"],
                          cwd=tree, capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr
    page = next(p for p in out.rglob("*.html") if "chain.c" in p.name)
    text = html.unescape(page.read_text())
    row = re.search(r'<tr id="L11" class="([^"]*)">(.*?)</tr>', text, re.S)
    assert row is not None and "decided" in row.group(1).split()
    assert "walk-unlocked: decided at the callers: " in row.group(2)
    assert "held by all 2 callers" in row.group(2)



def irq_claims(run_):
    return [f for f in of(run_, "kernel/slots.c").findings if f.rule == "irq-enable-under-lock"]


def test_interrupts_turned_on_under_a_callers_irq_off_lock_is_reported_at_the_callee(tree):
    [f] = irq_claims(run(tree, ["kernel/slots.c"]))
    assert (f.function, f.kind, f.severity) == ("slot_put", "caller", "error")
    assert "spin_unlock_irq() of s->lock" in f.message
    # the direct caller, with the lock and the acquire that turned interrupts off
    assert "table_drain() (mm/slotusers.c:26) calls it with t->lock (table.lock) held, " \
           "taken with interrupts off by spin_lock_irq() on line 24" in f.message
    # the other through a helper that holds nothing: a plain acquire made under an _irq one
    assert "so do table_release() (mm/slotusers.c:32)" in f.message
    chained = [r.message for r in f.related if "table_release" in r.message]
    assert chained and "called by table_move() (mm/slotusers.c:40)" in chained[0]
    assert "by spin_lock() on line 38, under o->lock (table.lock) taken by spin_lock_irq()" \
        in chained[0]


def test_the_callees_irq_claim_is_the_same_alone_whole_tree_and_warm(tree, tmp_path):
    def seen(r):
        return sorted((f.fingerprint, f.message) for f in irq_claims(r))

    alone = seen(run(tree, ["kernel/slots.c"]))
    assert alone and seen(run(tree, ["."])) == alone == seen(run(tree, ["."], jobs=2))
    cache = tmp_path / "cache"
    assert seen(run(tree, ["kernel/slots.c"], cache=cache)) == alone
    assert seen(run(tree, ["kernel/slots.c"], cache=cache)) == alone


def test_without_a_caller_with_interrupts_off_there_is_no_claim(tree):
    (tree / "mm" / "slotusers.c").write_text(
        '#include "anon.h"\nstruct slot;\nvoid slot_put(struct slot *s);\n'
        "void only(struct slot *s)\n{\n\tslot_put(s);\n}\n")
    assert irq_claims(run(tree, ["kernel/slots.c"])) == []
    # review and the hooks read no callers: a one-file report carries the claim apart
    checker = Checker(TreeSource(tree), lockmodel.load(), Cache(None))
    rep = checker.check_file("kernel/slots.c")
    assert not [f for f in rep.findings if f.rule == "irq-enable-under-lock"]
    assert [f.function for f in rep.claims] == ["slot_put", "slot_get"]


def test_explain_shows_the_callers_that_run_it_with_interrupts_off(tree):
    out = subprocess.run([sys.executable, "-m", "analyzer.cli", "explain", "--no-cache",
                          "kernel/slots.c", "slot_put"], cwd=tree, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert "called with interrupts off at 2 call sites" in out.stdout
    assert "irqs-off: table_drain() (mm/slotusers.c:26)" in out.stdout
    assert "irqs-off: table_move() (mm/slotusers.c:40)" in out.stdout


def sleep_claims(run_, path: str = "kernel/naps.c"):
    return [f for f in of(run_, path).findings if f.rule == "sleep-in-atomic"]


def test_a_sleep_its_callers_make_atomic_is_reported_where_it_sleeps(tree):
    found = {f.function: f for f in sleep_claims(run(tree, ["kernel/naps.c"]))
             if f.kind == "caller"}
    # nap_wait() is reported from its entry state (its callers' spinlock); nap_idle() is
    # called under a mutex only, nap_drop() gives the caller's spinlock back around its
    # sleep, nap_poll() sleeps through nap_peek(), whose own claim names it, and
    # nap_sleep() is called by name from another file: judged there
    assert sorted(found) == ["nap_peek", "nap_slow_poll"]
    peek = found["nap_peek"]
    assert (peek.severity, peek.line) == ("error", 52)
    assert "msleep() may sleep, but nap_scan() (line 66) reaches it in an RCU read-side " \
           "critical section (call chain: nap_scan() (line 66) → nap_poll() (line 58) → " \
           "nap_peek()): atomic context" in peek.message
    assert [r.line for r in peek.related] == [58]
    assert not [f for f in sleep_claims(run(tree, ["kernel/naps.c"]))
                if f.function in ("nap_idle", "nap_drop", "nap_sleep", "nap_note")]


def test_a_function_stored_in_an_operations_table_is_called_through_its_member(tree):
    [f] = [f for f in sleep_claims(run(tree, ["kernel/naps.c"]))
           if f.function == "nap_slow_poll"]
    # napper_kick() calls ->poll of a struct nap_ops; napper_dial() calls ->poll of a
    # struct dial_ops under the same lock, and is no caller of it; nor is napper_notify()
    # of nap_note(): a struct nap_notifier holds one callback, called by any chain
    assert "napper_kick() (mm/napusers.c:49) calls it with p->lock (napper.lock) held (a " \
           "spinlock), through ->poll of struct nap_ops: atomic context" in f.message
    assert "napper_dial" not in f.message


def test_a_walk_in_a_method_is_decided_by_the_calls_through_its_member(tree):
    rep = of(run(tree, ["fs/gadget.c"]), "fs/gadget.c")
    [f] = rep.findings
    assert (f.function, f.rule, f.kind, f.severity) == \
        ("gadget_count", "walk-unlocked", "caller-lacks", "error")
    assert "not held at its caller gadget_tail() (mm/gadgetusers.c:28): " \
           "vma->vm_mm->mmap_lock is not held, through ->count of struct gadget_ops" \
           in f.message
    [d] = rep.decided
    assert d.function == "gadget_scan" and "held by its caller (gadget_run() " \
        "(mm/gadgetusers.c:15))" in d.text
    # without the calls through the members, both are entry points of the table again
    (tree / "mm" / "gadgetusers.c").unlink()
    rep = of(run(tree, ["fs/gadget.c"]), "fs/gadget.c")
    assert sorted((f.function, f.severity) for f in rep.findings) == \
        [("gadget_count", "note"), ("gadget_scan", "note")]
    assert all("is ->" in f.message and "of struct gadget_ops (called through it)"
               in f.message for f in rep.findings)


def test_the_sleep_claim_is_the_same_alone_whole_tree_parallel_and_warm(tree, tmp_path):
    def seen(r):
        return sorted((f.fingerprint, f.message) for f in sleep_claims(r))

    alone = seen(run(tree, ["kernel/naps.c"]))
    assert alone and seen(run(tree, ["."])) == alone == seen(run(tree, ["."], jobs=2))
    cache = tmp_path / "cache"
    assert seen(run(tree, ["kernel/naps.c"], cache=cache)) == alone
    assert seen(run(tree, ["kernel/naps.c"], cache=cache)) == alone


def test_without_a_caller_in_atomic_context_a_sleep_is_no_finding(tree):
    (tree / "mm" / "napusers.c").write_text(
        '#include "anon.h"\nstruct nap;\nstruct nap_ops {\n\tint (*poll)(struct nap *n);\n'
        '\tvoid (*wake)(struct nap *n);\n};\n'
        "int quiet(struct nap *n, const struct nap_ops *ops)\n{\n\treturn ops->poll(n);\n}\n")
    assert not [f for f in sleep_claims(run(tree, ["kernel/naps.c"]))
                if f.function == "nap_slow_poll"]
    # a one-file report (review, the hooks) carries the claims apart, never as findings
    checker = Checker(TreeSource(tree), lockmodel.load(), Cache(None))
    rep = checker.check_file("kernel/naps.c")
    assert not [f for f in rep.findings if f.kind == "sleeps"]
    assert sorted(f.function for f in rep.claims if f.rule == "sleep-in-atomic") == \
        ["nap_idle", "nap_note", "nap_peek", "nap_slow_poll"]


def test_explain_shows_the_callers_that_make_a_sleep_atomic(tree):
    out = subprocess.run([sys.executable, "-m", "analyzer.cli", "explain", "--no-cache",
                          "kernel/naps.c", "nap_peek"], cwd=tree, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert "called in atomic context at 1 call site" in out.stdout
    assert "atomic: nap_poll() (kernel/naps.c:58): called by nap_scan()" in out.stdout
    assert "  atomic: nap_scan() (kernel/naps.c:66): in an RCU read-side critical " \
           "section" in out.stdout


def _acquired(tree: Path, path: str, function: str) -> dict[int, set[str]]:
    """Per line of ``function``, the locks (with mode) its events take there."""
    checker = Checker(TreeSource(tree), lockmodel.load(), Cache(None))
    fa = checker.project.analyse_file(path)
    [fn] = [r for r in fa.functions if r.function.name == function]
    out: dict[int, set[str]] = {}
    for ev in fn.events:
        if ev.kind.name == "ACQUIRE" and ev.lock is not None:
            out.setdefault(ev.span.line, set()).add(f"{ev.lock.path} {ev.mode.name}")
    return out


def test_a_helper_beside_the_file_takes_the_locks_its_flag_bits_name(tree):
    """gizmo_lock() of fs/gizmo/gizmo_lock.c takes its three locks by the bits of a flags
    argument; its callers in fs/gizmo/gizmo_map.c (not a summary_dirs folder) get what their
    constant flags select, so the error return that keeps io_rwsem is a leak."""
    rep = of(run(tree, ["fs/gizmo/gizmo_map.c"]), "fs/gizmo/gizmo_map.c")
    by = {f.function: f for f in rep.findings}
    assert sorted(by) == ["gizmo_map_leaky", "gizmo_map_traced_leaky", "gizmo_peek_leaky"]
    # through gizmo_lock_traced(), which hands its mode on: the mode still chooses
    assert "g->io_rwsem" in by["gizmo_map_traced_leaky"].message
    f = by["gizmo_map_leaky"]
    assert (f.rule, f.severity) == ("lock-imbalance", "error")
    assert "g->io_rwsem" in f.message and "leaks" in f.message
    taken = _acquired(tree, "fs/gizmo/gizmo_map.c", "gizmo_resize")
    first = min(taken)
    assert taken[first] == {"g->map_rwsem READ", "g->lock WRITE"}, taken
    assert all("io_rwsem" not in lock for locks in taken.values() for lock in locks)


def test_a_mode_the_helper_returns_reaches_the_unlock_on_its_own_path(tree):
    """gizmo_lock_map_shared() takes map_rwsem for read or for write and returns which;
    gizmo_unlock(g, mode) then gives back that one on each path, so the early return that
    skips it is the only exit holding the lock."""
    checker = Checker(TreeSource(tree), lockmodel.load(), Cache(None))
    fa = checker.project.analyse_file("fs/gizmo/gizmo_map.c")
    [fn] = [r for r in fa.functions if r.function.name == "gizmo_peek_leaky"]
    held = sorted((x.returned, x.state.vals.get("mode"),
                   "".join(sorted(p.name[0] for f in x.state.locks.values() for p in f.poss)))
                  for x in fn.exits)
    assert held == [("-EINVAL", "GIZMO_MAPLOCK_EXCL", "W"),
                    ("-EINVAL", "GIZMO_MAPLOCK_SHARED", "R"),
                    ("0", "GIZMO_MAPLOCK_EXCL", "N"), ("0", "GIZMO_MAPLOCK_SHARED", "N")], held
    rep = of(run(tree, ["fs/gizmo/gizmo_map.c"]), "fs/gizmo/gizmo_map.c")
    [f] = [f for f in rep.findings if f.function == "gizmo_peek_leaky"]
    assert f.rule == "lock-imbalance" and "g->map_rwsem" in f.message
    assert "return -EINVAL" in f.message


def test_flags_not_known_at_the_call_keep_every_case_of_the_helper(tree):
    taken = _acquired(tree, "fs/gizmo/gizmo_map.c", "gizmo_relock")
    locks = {lock.split()[0] for locks in taken.values() for lock in locks}
    assert locks == {"g->io_rwsem", "g->map_rwsem", "g->lock"}


def test_without_the_helpers_file_the_flags_decide_nothing(tree):
    (tree / "fs" / "gizmo" / "gizmo_lock.c").unlink()
    rep = of(run(tree, ["fs/gizmo/gizmo_map.c"]), "fs/gizmo/gizmo_map.c")
    assert not rep.findings


def test_an_edit_of_the_helper_beside_the_file_or_of_a_flag_reaches_a_warm_cache(tree,
                                                                                 tmp_path):
    cache = tmp_path / "cache"
    path = "fs/gizmo/gizmo_map.c"

    def leaks() -> list[str]:
        return sorted(f.function for f in of(run(tree, [path], cache=cache), path).findings)

    every = ["gizmo_map_leaky", "gizmo_map_traced_leaky", "gizmo_peek_leaky"]
    assert leaks() == every
    assert leaks() == every  # warm
    # the helper's IOLOCK bit now takes nothing: no lock to leak at gizmo_map_leaky()
    helper = tree / "fs" / "gizmo" / "gizmo_lock.c"
    text = helper.read_text()
    helper.write_text(text.replace("\tif (lock_flags & GIZMO_IOLOCK_EXCL)\n"
                                   "\t\tdown_write(&g->io_rwsem);\n\telse ", "\t", 1))
    assert leaks() == ["gizmo_peek_leaky"]  # and the traced one, through the same helper
    # the flag's value is the map lock's bit too: the leaky call now takes both locks
    helper.write_text(text)
    header = tree / "fs" / "gizmo" / "gizmo.h"
    header.write_text(header.read_text().replace("#define GIZMO_IOLOCK_EXCL\t(1u << 0)",
                                                 "#define GIZMO_IOLOCK_EXCL\t(1u << 2)"))
    rep = of(run(tree, [path], cache=cache), path)
    locks = sorted(f.locks[0].split()[0] for f in rep.findings
                   if f.function == "gizmo_map_leaky")
    assert locks == ["g->io_rwsem", "g->map_rwsem"], locks


# ----------------------------------------------------------------- a caller's file, in part


def _fixture_files() -> list[tuple[Path, str]]:
    out = [(ROOT / "corpus" / "rules", p.name) for p in sorted((ROOT / "corpus" / "rules")
                                                                .glob("*.c"))]
    out += [(FIXTURES, p.relative_to(FIXTURES).as_posix())
            for p in sorted(FIXTURES.rglob("*.c"))]
    return out


@pytest.mark.parametrize(("root", "path"), _fixture_files(), ids=lambda x: str(x))
def test_a_callers_part_of_a_file_is_what_the_whole_file_gives(root, path):
    """Reading a caller's file for the call sites of one name analyses only the functions
    those sites need (and the static callers their entry states come from): every entry it
    gives is the whole file's entry of that function, for every name the file calls."""
    model = lockmodel.load()
    checker = Checker(TreeSource(root), model, Cache(None))
    whole = {(f.name, f.line): f for f in checker.check_file(path).calls}
    text = (root / path).read_text()
    names = sorted({s.callee for f in whole.values() for s in f.sites}
                   | {n for n, _ in whole if f"{n}(" in text})
    assert names, path
    for name in names:
        part = Checker(TreeSource(root), model, Cache(None)).calls_of(path, name)
        got = {(f.name, f.line): f for f in part}
        assert all(got[k] == whole.get(k) for k in got), (path, name)
        # every call site of the name is there, and the name's own entry
        need = {k for k, f in whole.items() if k[0] == name
                or any(s.callee == name for s in f.sites)}
        assert need <= set(got), (path, name, need - set(got))


# ------------------------------------------------------- a guarded member left to the callers


def test_a_member_write_left_to_the_callers_is_decided_at_them(tree):
    """tally_note_peak() and tally_note_drop() write members of struct tally, whose writes
    all hold t->lock in functions that take it: neither takes it, so the callers decide.
    Both callers of the first hold it; tally_flush() calls the second after unlocking."""
    rep = of(run(tree, ["kernel/tally.c"]), "kernel/tally.c")
    [f] = [f for f in rep.findings if f.rule == "unguarded-access"]
    assert (f.function, f.severity, f.kind) == ("tally_note_drop", "error", "caller-lacks")
    assert "tally_flush() (mm/tallyusers.c:" in f.message and "t->lock" in f.message
    [d] = [d for d in rep.decided if d.rule == "unguarded-access"]
    assert d.function == "tally_note_peak" and "held by all 2 callers" in d.text


def test_a_member_write_with_no_caller_in_the_tree_stays_a_warning(tree):
    (tree / "mm" / "tallyusers.c").unlink()
    tally = tree / "kernel" / "tally.c"
    tally.write_text(tally.read_text() + "EXPORT_SYMBOL_GPL(tally_note_peak);\n")
    rep = of(run(tree, ["kernel/tally.c"]), "kernel/tally.c")
    found = {f.function: f for f in rep.findings if f.rule == "unguarded-access"}
    assert sorted((n, f.severity) for n, f in found.items()) == [
        ("tally_note_drop", "warning"), ("tally_note_peak", "warning")]
    assert "no caller in the indexed tree" in found["tally_note_drop"].message
    # an exported function's callers may be modules: the chain ends at an entry point
    assert "unknown at entry: tally_note_peak() is exported (EXPORT_SYMBOL_GPL)" \
        in found["tally_note_peak"].message


@pytest.mark.parametrize(("text", "name", "why"), [
    ("SYSCALL_DEFINE3(remap, unsigned long, a, int, b, int, c)\n{\n}\n", "__do_sys_remap",
     "is a system call"),
    ("int pool_get(void)\n{\n}\nEXPORT_SYMBOL(pool_get);\n", "pool_get",
     "is exported (EXPORT_SYMBOL): its callers may be modules"),
    ("static int __init pool_init(void)\n{\n}\nsubsys_initcall(pool_init);\n", "pool_init",
     "is an initcall"),
    ("static const struct vm_operations_struct pool_ops = {\n\t.fault = pool_fault,\n};\n",
     "pool_fault", "is ->fault of struct vm_operations_struct (called through it)"),
    ("int pool_put(void)\n{\n}\nEXPORT_SYMBOL(pool_get);\n", "pool_put", None),
    ("SYSCALL_DEFINE1(remap, int, a)\n{\n}\n", "__do_sys_unmap", None),
])
def test_an_entry_point_is_named_by_what_its_file_says(text, name, why):
    assert entry_point(text, name) == why


def test_a_function_called_from_too_many_files_is_not_decided_at_them():
    """An exported interface with callers all over the tree is left as found (reading
    thousands of files for one finding is not done), and the finding says why."""
    need = Need("walk", parse_path("v->lock"), 0, None, "read")
    held = LockAt(parse_path("v->lock"), None, "W")
    n = MAX_FILES + 1
    tables = {"a.c": (FunctionCalls("walk", 1, False, ("v",), ()),)}
    tables |= {f"u{i}.c": (FunctionCalls(f"user{i}", 1, False, ("v",),
                                         (_site("walk", ["v"], [held]),)),) for i in range(n)}
    index = CallerIndex.build([(f"u{i}.c", ("walk",)) for i in range(n)], ("",), "d")
    ctx = Contexts(lambda p, _name: tables.get(p), index)
    assert ctx.crowded("a.c", "walk") == n + 1  # its own file too
    f = Finding("walk-unlocked", Severity.WARNING, "a.c", "walk", 3, 3, "v->list walked",
                needs=need)
    kept, decided = decide(f, ctx)
    assert decided is None and kept is not None
    assert f"called from {n + 1} files" in kept.message
    # one file fewer: decided, held by every caller
    del tables[f"u{n - 1}.c"]
    index = CallerIndex.build([(f"u{i}.c", ("walk",)) for i in range(n - 2)], ("",), "d")
    kept, decided = decide(f, Contexts(lambda p, _name: tables.get(p), index))
    assert kept is None and decided is not None


def test_the_workers_read_the_callers_files_and_the_verdicts_do_not_change(tree):
    """With worker processes, the callers' files are read by the pool a level of the call
    chains at a time: every finding, verdict and note is what one process gives."""
    files = ["mm/chain.c", "kernel/tally.c", "mm/sleepy.c", "kernel/slots.c"]

    def seen(r):
        return sorted((f.path, f.fingerprint, f.severity, f.message) for rep in r.reports
                      for f in rep.findings), \
            sorted((rep.path, d.text) for rep in r.reports for d in rep.decided)

    one = seen(run(tree, files))
    assert one[0] and one[1]  # callers outside the run decided some of them
    assert seen(run(tree, files, jobs=2)) == one
    # the rounds ask for the callers' files outside the run, each (file, name) once
    checker = Checker(TreeSource(tree), lockmodel.load(), Cache(None))
    reports = [checker.check_file(p) for p in files]
    asked: list[tuple[str, str]] = []

    def prefetch(keys):
        asked.extend(keys)
        return [Checker(TreeSource(tree), lockmodel.load(), Cache(None)).calls_of(*k)
                for k in keys]

    decided = decide_at_callers(reports, checker, prefetch)
    assert asked and len(asked) == len(set(asked))
    assert not {p for p, _ in asked} & set(files)
    assert ("mm/tallyusers.c", "tally_note_drop") in asked
    assert seen(type("R", (), {"reports": decided})) == one


def test_a_callers_text_says_where_a_spinning_lock_may_be_held():
    """The text prefilter of the atomic claim: a lock taken above the call and not given
    back by a plain statement at its depth since (an early-exit unlock in an if does not
    count, the one after a loop does)."""
    from analyzer.driver.context import _atomic_in_text

    fb = bodies("int f(struct s *x)\n{\n\tspin_lock(&x->l);\n\tif (a) {\n"
                "\t\tspin_unlock(&x->l);\n\t\treturn 1;\n\t}\n\tg();\n"
                "\tfor (;;) {\n\t\tspin_lock(&x->m);\n\t\th();\n\t\tspin_unlock(&x->m);\n"
                "\t}\n\tspin_unlock(&x->l);\n\tk();\n\trcu_read_lock();\n\tr();\n"
                "\trcu_read_unlock();\n\tz();\n}\n")
    m = lockmodel.load()
    assert {n: _atomic_in_text(fb["f"], n, m, fb) for n in "ghkrz"} == \
        {"g": True, "h": True, "k": False, "r": True, "z": False}


def test_the_callers_index_read_in_parts_is_the_index_read_whole(tree):
    """The pool reads the callers index in chunks (run._in_pool): the same index."""
    whole = Checker(TreeSource(tree), lockmodel.load(), Cache(None)).project.callers()
    parts = Checker(TreeSource(tree), lockmodel.load(), Cache(None))
    reader = Checker(TreeSource(tree), lockmodel.load(), Cache(None)).project
    asked: list[int] = []

    def many(idents):
        asked.append(len(idents))
        return [pf for i in range(0, len(idents), 3) for pf in reader.called_in(idents[i:i + 3])]

    got = parts.project.callers(many)
    assert asked == [len(list(tree.rglob("*.c")))]
    assert got == whole and got.calling("chain_count") == whole.calling("chain_count") != ()
