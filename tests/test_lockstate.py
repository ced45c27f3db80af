"""Lock-state dataflow on small kernel-style functions written for these tests.

Each test names the lock state it expects on a line (found by its text, not its number):
held for read/write, must or may, or not held.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from analyzer.model import lockmodel as lockmodel
from analyzer.driver.project import Project
from analyzer.syntax.tree import render
from analyzer.locks.explain import explain
from analyzer.locks.state import Poss
from analyzer.source.reader import TreeSource

MODEL = lockmodel.load()


def analyse(tmp_path: Path, code: str, files: dict[str, str] | None = None,
            path: str = "mm/test.c"):
    for rel, text in {path: code, **(files or {})}.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    project = Project(TreeSource(tmp_path), MODEL)
    fa = project.analyse_file(path)
    assert fa.status == "ok", fa.error
    return fa


def state_at(fa, function: str, needle: str, nth: int = 0) -> dict[str, tuple[str, str]]:
    """{lock: (mode, certainty)} before the line containing ``needle``."""
    f = fa.function(function)
    assert f is not None, function
    ex = explain(f, fa.source.text)
    hits = [ln for ln in ex.lines if needle in ln.text]
    assert len(hits) > nth, f"{needle!r} not found in {function}"
    ln = hits[nth]
    assert ln.reachable, f"{needle!r} unreachable"
    return {h.lock: (h.mode, h.certainty) for h in ln.held}


def exit_state(fa, function: str):
    return fa.function(function).exit_state()


def test_lock_unlock_must_between(tmp_path):
    fa = analyse(tmp_path, """
        struct foo { struct rw_semaphore sem; int n; };
        void f(struct foo *foo)
        {
            down_write(&foo->sem);
            foo->n++;
            up_write(&foo->sem);
            foo->n--;
        }
    """)
    assert state_at(fa, "f", "foo->n++") == {"foo->sem": ("write", "must")}
    assert state_at(fa, "f", "foo->n--") == {}
    assert exit_state(fa, "f").by_text()["foo->sem"][1].not_held


def test_unknown_at_entry_is_not_not_held(tmp_path):
    fa = analyse(tmp_path, """
        void f(struct foo *foo)
        {
            foo->n++;
        }
    """)
    st = fa.function("f").ins[fa.function("f").cfg.entry]
    assert st.locks == {}  # unknown: nothing claimed either way


def test_trylock_success_edge(tmp_path):
    fa = analyse(tmp_path, """
        int f(struct foo *foo)
        {
            if (!down_read_trylock(&foo->sem))
                return -EAGAIN;
            foo->n++;
            up_read(&foo->sem);
            return 0;
        }
    """)
    assert state_at(fa, "f", "return -EAGAIN") == {}
    assert state_at(fa, "f", "foo->n++") == {"foo->sem": ("read", "must")}


def test_trylock_then_lock_fallback(tmp_path):
    fa = analyse(tmp_path, """
        void f(struct foo *foo)
        {
            if (!mutex_trylock(&foo->mutex)) {
                foo->waits++;
                mutex_lock(&foo->mutex);
            }
            foo->n++;
            mutex_unlock(&foo->mutex);
        }
    """)
    assert state_at(fa, "f", "foo->waits++") == {}
    assert state_at(fa, "f", "foo->n++") == {"foo->mutex": ("write", "must")}


def test_killable_zero_means_acquired(tmp_path):
    fa = analyse(tmp_path, """
        int f(struct mm_struct *mm)
        {
            if (down_write_killable(&mm->mmap_lock))
                return -EINTR;
            mm->n++;
            up_write(&mm->mmap_lock);
            return 0;
        }
    """)
    assert state_at(fa, "f", "return -EINTR") == {}
    assert state_at(fa, "f", "mm->n++") == {"mm->mmap_lock": ("write", "must")}


def test_helper_returning_locked_object_or_null(tmp_path):
    fa = analyse(tmp_path, """
        static struct anon_vma *grab_anon_vma(struct folio *folio)
        {
            struct anon_vma *anon_vma = folio_anon(folio);

            if (!anon_vma)
                return NULL;
            down_read(&anon_vma->root->rwsem);
            return anon_vma;
        }

        void walker(struct folio *folio)
        {
            struct anon_vma *av;

            av = grab_anon_vma(folio);
            if (!av)
                return;
            av->n++;
            up_read(&av->root->rwsem);
        }
    """)
    assert state_at(fa, "walker", "return;") == {}
    assert state_at(fa, "walker", "av->n++") == {"av->root->rwsem": ("read", "must")}
    ex = exit_state(fa, "walker")
    assert not any(f.may for f in ex.locks.values())


ROOT_HELPERS = """
    static inline struct anon_vma *lock_root(struct anon_vma *root,
                                             struct anon_vma *anon_vma)
    {
        struct anon_vma *new_root = anon_vma->root;

        if (new_root != root) {
            if (WARN_ON_ONCE(root))
                up_write(&root->rwsem);
            root = new_root;
            down_write(&root->rwsem);
        }
        return root;
    }

    static inline void unlock_root(struct anon_vma *root)
    {
        if (root)
            up_write(&root->rwsem);
    }
"""


def test_conditional_root_switching_helper(tmp_path):
    fa = analyse(tmp_path, ROOT_HELPERS + """
        int clone_chain(struct vm_area_struct *dst, struct vm_area_struct *src)
        {
            struct anon_vma_chain *avc, *pavc;
            struct anon_vma *root = NULL;

            list_for_each_entry_reverse(pavc, &src->anon_vma_chain, same_vma) {
                struct anon_vma *anon_vma;

                avc = chain_alloc(GFP_NOWAIT);
                if (unlikely(!avc)) {
                    unlock_root(root);
                    root = NULL;
                    avc = chain_alloc(GFP_KERNEL);
                    if (!avc)
                        goto enomem;
                }
                anon_vma = pavc->anon_vma;
                root = lock_root(root, anon_vma);
                chain_link(dst, avc, anon_vma);
            }
            unlock_root(root);
            return 0;
        enomem:
            return -ENOMEM;
        }
    """)
    held = state_at(fa, "clone_chain", "chain_link(")
    assert held["root->rwsem"][0] == "write"
    assert state_at(fa, "clone_chain", "root = NULL") == {}
    assert state_at(fa, "clone_chain", "chain_alloc(GFP_KERNEL)") == {}
    assert state_at(fa, "clone_chain", "return 0") == {}
    assert state_at(fa, "clone_chain", "return -ENOMEM") == {}
    # the helper's cases: switch (release old, take new), first lock, same root
    summ = fa.summaries.summary("lock_root")
    assert summ is not None and summ.origin == "body"
    actions = sorted(tuple(sorted(e.action for e in c.effects)) for c in summ.cases)
    assert actions == [(), ("acquire",), ("acquire", "release")]


def test_goto_error_path_unlocks(tmp_path):
    fa = analyse(tmp_path, """
        static int prepare(struct foo *foo)
        {
            return foo->n ? -EINVAL : 0;
        }

        int f(struct foo *foo)
        {
            int err;

            mutex_lock(&foo->mutex);
            err = prepare(foo);
            if (err)
                goto out_unlock;
            foo->n++;
        out_unlock:
            mutex_unlock(&foo->mutex);
            return err;
        }
    """)
    assert state_at(fa, "f", "foo->n++") == {"foo->mutex": ("write", "must")}
    assert state_at(fa, "f", "mutex_unlock") == {"foo->mutex": ("write", "must")}
    assert state_at(fa, "f", "return err") == {}


def test_call_with_unknown_effects_given_the_lock_or_its_owner(tmp_path):
    # prepare() and wait_drop() are defined nowhere: given the lock, or the object owning
    # it, they may take or release it; a call given neither leaves it alone
    fa = analyse(tmp_path, """
        int f(struct foo *foo, struct bar *bar)
        {
            mutex_lock(&foo->mutex);
            prepare(bar);
            foo->a++;
            prepare(foo);
            foo->b++;
            mutex_unlock(&foo->mutex);
            spin_lock(&bar->lock);
            wait_drop(&bar->lock);
            bar->c++;
            spin_unlock(&bar->lock);
            return 0;
        }
    """)
    assert state_at(fa, "f", "foo->a++") == {"foo->mutex": ("write", "must")}
    assert state_at(fa, "f", "foo->b++") == {"foo->mutex": ("write", "may")}
    assert state_at(fa, "f", "bar->c++") == {"bar->lock": ("write", "may")}
    ex = exit_state(fa, "f").by_text()
    assert ex["bar->lock"][1].not_held and ex["foo->mutex"][1].not_held


def test_early_return_inside_locked_region_is_may_at_exit(tmp_path):
    fa = analyse(tmp_path, """
        int f(struct foo *foo)
        {
            spin_lock(&foo->lock);
            if (foo->dead)
                return -ENOENT;
            spin_unlock(&foo->lock);
            return 0;
        }
    """)
    fact = exit_state(fa, "f").by_text()["foo->lock"][1]
    assert fact.may and not fact.must


def test_guard_released_on_every_exit(tmp_path):
    fa = analyse(tmp_path, """
        int f(struct foo *foo)
        {
            guard(mutex)(&foo->mutex);
            if (foo->dead)
                return -ENOENT;
            foo->n++;
            return 0;
        }
    """)
    assert state_at(fa, "f", "foo->n++") == {"foo->mutex": ("write", "must")}
    assert state_at(fa, "f", "return -ENOENT") == {"foo->mutex": ("write", "must")}
    assert exit_state(fa, "f").by_text()["foo->mutex"][1].not_held


def test_scoped_guard_held_in_body_only(tmp_path):
    fa = analyse(tmp_path, """
        void f(struct foo *foo)
        {
            scoped_guard(spinlock, &foo->lock) {
                foo->n++;
            }
            foo->m++;
        }
    """)
    assert state_at(fa, "f", "foo->n++") == {"foo->lock": ("write", "must")}
    assert state_at(fa, "f", "foo->m++") == {}


def test_loop_with_lock_per_iteration_converges(tmp_path):
    fa = analyse(tmp_path, """
        void f(struct foo *foo)
        {
            struct item *it;

            list_for_each_entry(it, &foo->items, node) {
                spin_lock(&foo->lock);
                it->n++;
                spin_unlock(&foo->lock);
            }
            foo->done = 1;
        }
    """)
    f = fa.function("f")
    assert f.converged
    assert state_at(fa, "f", "it->n++") == {"foo->lock": ("write", "must")}
    assert state_at(fa, "f", "foo->done") == {}


def test_reassigned_pointer_renames_held_lock(tmp_path):
    fa = analyse(tmp_path, """
        void f(struct foo *a, struct foo *b)
        {
            struct foo *x = a;

            spin_lock(&x->lock);
            x = b;
            spin_unlock(&x->lock);
        }
    """)
    ex = exit_state(fa, "f")
    stale = [k for k, f in ex.locks.items() if k.render().startswith("x@") and f.must]
    assert stale, ex.locks  # the lock of the old x is still held
    assert ex.by_text()["x->lock"][1].not_held


def test_alias_is_substituted(tmp_path):
    fa = analyse(tmp_path, """
        void f(struct anon_vma_chain *avc)
        {
            struct anon_vma *anon_vma = avc->anon_vma;

            down_write(&anon_vma->root->rwsem);
            avc->n++;
            up_write(&avc->anon_vma->root->rwsem);
            avc->m++;
        }
    """)
    assert state_at(fa, "f", "avc->n++") == {"avc->anon_vma->root->rwsem": ("write", "must")}
    assert state_at(fa, "f", "avc->m++") == {}


def test_must_hold_contract_and_assertion(tmp_path):
    fa = analyse(tmp_path, """
        void f(struct foo *foo)
            __must_hold(&foo->lock)
        {
            foo->n++;
        }

        void g(struct foo *foo)
        {
            lockdep_assert_held_write(&foo->sem);
            foo->n++;
        }
    """)
    # __must_hold does not say the mode; lockdep_assert_held_write does
    assert state_at(fa, "f", "foo->n++") == {"foo->lock": ("any", "must")}
    assert state_at(fa, "g", "foo->n++") == {"foo->sem": ("write", "must")}


def test_static_helper_entry_from_callers(tmp_path):
    fa = analyse(tmp_path, """
        static void bump(struct foo *f)
        {
            f->n++;
        }

        void a(struct foo *foo)
        {
            spin_lock(&foo->lock);
            bump(foo);
            spin_unlock(&foo->lock);
        }

        void b(struct bar *bar)
        {
            spin_lock(&bar->foo->lock);
            bump(bar->foo);
            spin_unlock(&bar->foo->lock);
        }
    """)
    assert fa.function("bump").entry_from_callers
    assert state_at(fa, "bump", "f->n++") == {"f->lock": ("write", "must")}


def test_static_helper_called_unlocked_somewhere_is_may(tmp_path):
    fa = analyse(tmp_path, """
        static void bump(struct foo *f)
        {
            f->n++;
        }

        void a(struct foo *foo)
        {
            spin_lock(&foo->lock);
            bump(foo);
            spin_unlock(&foo->lock);
            bump(foo);
        }
    """)
    assert state_at(fa, "bump", "f->n++") == {"f->lock": ("write", "may")}


def test_summary_derived_from_header_body(tmp_path):
    header = """
        static inline void widget_lock(struct widget *w)
        {
            spin_lock(&w->owner->lock);
        }

        static inline void widget_unlock(struct widget *w)
        {
            spin_unlock(&w->owner->lock);
        }
    """
    fa = analyse(tmp_path, """
        #include <linux/widget.h>

        void f(struct widget *w)
        {
            widget_lock(w);
            w->n++;
            widget_unlock(w);
            w->m++;
        }
    """, {"include/linux/widget.h": header})
    assert state_at(fa, "f", "w->n++") == {"w->owner->lock": ("write", "must")}
    assert state_at(fa, "f", "w->m++") == {}
    summ = fa.summaries.summary("widget_lock")
    assert summ.origin == "body"


def test_header_body_wins_over_rules_fallback(tmp_path):
    # the tree's own anon_vma_lock_write locks something else than rules/ says: trust the tree
    header = """
        static inline void anon_vma_lock_write(struct anon_vma *anon_vma)
        {
            down_write(&anon_vma->other_sem);
        }
    """
    fa = analyse(tmp_path, """
        #include <linux/rmap.h>

        void f(struct anon_vma *av)
        {
            anon_vma_lock_write(av);
            av->n++;
        }
    """, {"include/linux/rmap.h": header})
    assert state_at(fa, "f", "av->n++") == {"av->other_sem": ("write", "must")}


def test_rules_fallback_without_tree_header(tmp_path):
    fa = analyse(tmp_path, """
        void f(struct anon_vma *av)
        {
            anon_vma_lock_read(av);
            av->n++;
            anon_vma_unlock_read(av);
        }
    """)
    assert state_at(fa, "f", "av->n++") == {"av->root->rwsem": ("read", "must")}


def test_helper_that_drops_and_retakes_is_a_cycle(tmp_path):
    fa = analyse(tmp_path, """
        static void relax(struct foo *foo)
        {
            spin_unlock(&foo->lock);
            cond_resched();
            spin_lock(&foo->lock);
        }

        void f(struct foo *foo)
        {
            spin_lock(&foo->lock);
            relax(foo);
            foo->n++;
            spin_unlock(&foo->lock);
        }
    """)
    summ = fa.summaries.summary("relax")
    assert [e.action for c in summ.cases for e in c.effects] == ["cycle"]
    assert state_at(fa, "f", "foo->n++") == {"foo->lock": ("write", "must")}
    events = fa.function("f").events
    kinds = [(e.kind, str(e.lock)) for e in events if e.via == "relax"]
    assert kinds == [("release", "foo->lock"), ("acquire", "foo->lock")]


def test_null_checked_lock_is_vacuous_when_null(tmp_path):
    fa = analyse(tmp_path, """
        void f(struct foo *p)
        {
            if (p)
                spin_lock(&p->lock);
            work();
            if (p)
                spin_unlock(&p->lock);
            done();
        }
    """)
    f = fa.function("f")
    ex = explain(f, fa.source.text)
    line = next(ln for ln in ex.lines if "work();" in ln.text)
    assert [(h.lock, h.certainty, h.vacuous) for h in line.held] == [("p->lock", "must", True)]
    assert state_at(fa, "f", "done();") == {}


def test_downgrade_write_to_read(tmp_path):
    fa = analyse(tmp_path, """
        void f(struct mm_struct *mm)
        {
            down_write(&mm->mmap_lock);
            mm->a = 1;
            downgrade_write(&mm->mmap_lock);
            mm->b = 2;
            up_read(&mm->mmap_lock);
        }
    """)
    assert state_at(fa, "f", "mm->a = 1") == {"mm->mmap_lock": ("write", "must")}
    assert state_at(fa, "f", "mm->b = 2") == {"mm->mmap_lock": ("read", "must")}


def test_lock_class_from_struct_types(tmp_path):
    fa = analyse(tmp_path, """
        struct anon_vma {
            struct anon_vma *root;
            struct rw_semaphore rwsem;
        };

        void f(struct anon_vma *av)
        {
            down_write(&av->root->rwsem);
            av->n++;
        }
    """)
    st = fa.function("f").exit_state()
    assert st.by_text()["av->root->rwsem"][0].cls == "anon_vma.rwsem"


@pytest.mark.parametrize("cond", ["p == NULL", "!p", "unlikely(!p)", "NULL == p"])
def test_null_check_spellings(tmp_path, cond):
    fa = analyse(tmp_path, f"""
        void f(struct foo *p)
        {{
            spin_lock(&p->lock);
            if ({cond})
                return;
            p->n++;
            spin_unlock(&p->lock);
        }}
    """)
    # p was dereferenced by the lock: the NULL branch is infeasible after it
    assert state_at(fa, "f", "p->n++") == {"p->lock": ("write", "must")}


def test_root_helper_establishes_equality(tmp_path):
    fa = analyse(tmp_path, ROOT_HELPERS + """
        void unlink_all(struct vm_area_struct *vma)
        {
            struct anon_vma_chain *avc;
            struct anon_vma *root = NULL;

            list_for_each_entry(avc, &vma->anon_vma_chain, same_vma) {
                struct anon_vma *anon_vma = avc->anon_vma;

                root = lock_root(root, anon_vma);
                tree_remove(avc, &anon_vma->rb_root);
            }
            unlock_root(root);
        }
    """)
    from analyzer.locks.state import same_object
    from analyzer.locks.lockid import parse_path
    f = fa.function("unlink_all")
    st = next(o.state for o in f.ops
              if o.op.expr is not None and "tree_remove" in render(o.op.expr))
    assert same_object(st, parse_path("root->rwsem"), parse_path("avc->anon_vma->root->rwsem"))


def test_warn_on_comparing_roots_is_evidence(tmp_path):
    fa = analyse(tmp_path, """
        void f(struct anon_vma *a, struct anon_vma *b)
        {
            down_write(&b->root->rwsem);
            VM_WARN_ON(a->root != b->root);
            a->n++;
            up_write(&b->root->rwsem);
        }

        void g(struct anon_vma *a, struct anon_vma *b)
        {
            down_write(&b->root->rwsem);
            a->n++;
            up_write(&b->root->rwsem);
        }
    """)
    from analyzer.locks.state import same_object
    from analyzer.locks.lockid import parse_path
    for name, expected in (("f", True), ("g", False)):
        fn = fa.function(name)
        st = next(o.state for o in fn.ops
                  if o.op.expr is not None and "a->n" in render(o.op.expr))
        assert same_object(st, parse_path("a->root->rwsem"),
                           parse_path("b->root->rwsem")) is expected


def test_lock_through_reassigned_pointer_is_another_lock(tmp_path):
    fa = analyse(tmp_path, """
        void f(struct walk *pvmw)
        {
            spinlock_t *ptl = first_lock(pvmw);

            spin_lock(ptl);
            ptl = next_lock(pvmw);
            spin_lock(ptl);
            pvmw->n++;
        }
    """)
    held = state_at(fa, "f", "pvmw->n++")
    assert held["ptl"] == ("write", "must")
    assert any(k.startswith("ptl@") for k in held)  # the first lock, still held


def test_function_pointer_parameter_keeps_argument_positions(tmp_path):
    fa = analyse(tmp_path, """
        static void put_and_unlock(struct kref *ref, void (*release)(struct kref *),
                                   struct foo *foo)
        {
            release(ref);
            spin_unlock(&foo->lock);
        }

        void f(struct foo *foo)
        {
            spin_lock(&foo->lock);
            put_and_unlock(&foo->ref, foo_release, foo);
            foo->n++;
        }
    """)
    params = [p.name for p in fa.function("put_and_unlock").function.params]
    assert params == ["ref", "release", "foo"]
    assert state_at(fa, "f", "foo->n++") == {}


@pytest.mark.parametrize("body", [
    "return down_write_trylock(&m->sem);",
    "int ret = down_write_trylock(&m->sem) != 0;\n            trace(ret);\n            return ret;",
    "if (!down_write_trylock(&m->sem))\n                return 0;\n            return 1;",
])
def test_trylock_wrapper_summary_acquires_only_on_success(tmp_path, body):
    fa = analyse(tmp_path, f"""
        static int try_sem(struct mm *m)
        {{
            {body}
        }}

        int f(struct mm *m)
        {{
            if (!try_sem(m))
                return -EBUSY;
            m->n++;
            up_write(&m->sem);
            return 0;
        }}
    """)
    summ = fa.summaries.summary("try_sem")
    cases = sorted((c.truth, tuple(e.action for e in c.effects)) for c in summ.cases)
    assert cases == [(False, ()), (True, ("acquire",))]
    assert state_at(fa, "f", "return -EBUSY") == {}
    assert state_at(fa, "f", "m->n++") == {"m->sem": ("write", "must")}


def test_helper_equal_to_its_argument_after_a_check_names_the_argument(tmp_path):
    fa = analyse(tmp_path, """
        static struct task *lock_task_of(struct task *t)
        {
            struct task *p = pick_thread(t);

            if (!p)
                return NULL;
            spin_lock(&p->alloc_lock);
            return p;
        }

        static void kill_one(struct task *victim)
        {
            struct task *p;

            p = lock_task_of(victim);
            if (!p)
                return;
            if (victim != p) {
                spin_unlock(&p->alloc_lock);
                return;
            }
            spin_unlock(&victim->alloc_lock);
        }
    """)
    # every path unlocks what it locked: the summary must not release the caller's lock
    summ = fa.summaries.summary("kill_one")
    assert all(e.action != "release" for c in summ.cases for e in c.effects), summ.cases


def test_a_pointer_call_keeps_the_locks_of_an_object_it_is_given(tmp_path):
    """An ops method or hook leaves its caller's locks alone unless handed the lock itself;
    a function with no body in sight may still take or drop the locks of what it is given."""
    fa = analyse(tmp_path, """
        struct foo { struct mutex lock; int n; };
        void out_of_sight(struct foo *foo);
        void f(struct foo *foo, void (*hook)(struct foo *), void (*take)(struct mutex *))
        {
            mutex_lock(&foo->lock);
            hook(foo);
            foo->n++;
            out_of_sight(foo);
            foo->n--;
            mutex_unlock(&foo->lock);
            mutex_lock(&foo->lock);
            take(&foo->lock);
            foo->n = 0;
            mutex_unlock(&foo->lock);
        }
    """)
    assert state_at(fa, "f", "foo->n++") == {"foo->lock": ("write", "must")}
    assert state_at(fa, "f", "foo->n--")["foo->lock"][1] == "may"
    assert state_at(fa, "f", "foo->n = 0")["foo->lock"][1] == "may"


def test_a_vma_mark_taken_inside_a_helper_goes_with_the_mmap_lock(tmp_path):
    fa = analyse(tmp_path, """
        static void mark(struct vm_area_struct *vma)
        {
            vma_start_write(vma);
        }
        void h(struct mm_struct *mm, struct vm_area_struct *vma)
        {
            mmap_write_lock(mm);
            mark(vma);
            vma->vm_flags = 0;
            mmap_write_unlock(mm);
            vma->vm_pgoff = 0;
        }
    """)
    assert state_at(fa, "h", "vma->vm_flags = 0")["vma->vm_lock"] == ("write", "must")
    assert "vma->vm_lock" not in state_at(fa, "h", "vma->vm_pgoff = 0")


def test_a_field_read_again_against_its_saved_value_may_differ(tmp_path):
    """``next = head->next`` saves a value; after the lock is dropped and retaken,
    ``head->next != next`` is the recheck of a walk that may have changed meanwhile: the
    branch is feasible. Two variables, one assigned the other, cannot differ."""
    fa = analyse(tmp_path, """
        struct node { struct node *next; };
        struct owner { spinlock_t lock; struct node head; int n; };
        void f(struct owner *o)
        {
            struct node *next, *same;

            spin_lock(&o->lock);
            next = o->head.next;
            same = next;
            spin_unlock(&o->lock);
            spin_lock(&o->lock);
            if (o->head.next != next) {
                o->n = 1; /* recheck */
                spin_unlock(&o->lock);
                return;
            }
            if (same != next)
                o->n = 2; /* dead */
            spin_unlock(&o->lock);
        }
    """)
    assert state_at(fa, "f", "/* recheck */") == {"o->lock": ("write", "must")}
    ex = explain(fa.function("f"), fa.source.text)
    [dead] = [ln for ln in ex.lines if "/* dead */" in ln.text]
    assert not dead.reachable, "two variables, one assigned the other, never differ"


def test_a_recursive_call_inside_a_summary_is_unknown_not_no_effect(tmp_path):
    """The summary of a helper that calls itself is made while the recursive call's own
    summary is in progress: that call's effects are unknown (its text takes the lock of its
    argument), never "none" -- read as none, the path through it would keep the caller's
    lock while the other path releases it, and the caller's unlock would read as wrong on
    some paths."""
    fa = analyse(tmp_path, """
        struct node { spinlock_t lock; struct node *parent; };
        static void node_unlock_up(struct node *n, int levels)
        {
            if (levels > 0) {
                node_unlock_up(n, levels - 1);
                return;
            }
            spin_unlock(&n->lock);
        }
        void f(struct node *n)
        {
            spin_lock(&n->lock);
            node_unlock_up(n, 2);
            n->parent = NULL;
        }
    """)
    [(lock, fact)] = exit_state(fa, "f").locks.items()
    assert lock.render() == "n->lock" and Poss.UNKNOWN in fact.poss, fact.poss


def test_a_body_past_the_depth_summaries_read_is_unknown_not_no_effect(tmp_path):
    """A chain of helpers across files deeper than summaries read other files' bodies
    (FAR_DEPTH): the last one, defined in the tree but not read, is a call of unknown
    effects that its text narrows to its argument's lock -- not a call with none, which
    would keep the caller's lock held after a chain that gave it back."""
    decl = "struct box { spinlock_t lock; int n; };\n"
    files = {}
    for i in range(1, 5):
        body = f"\th{i + 1}(b);\n" if i < 4 else "\tb->n = 0;\n\tspin_unlock(&b->lock);\n"
        proto = f"void h{i + 1}(struct box *b);\n" if i < 4 else ""
        files[f"mm/h{i}.c"] = f"{decl}{proto}void h{i}(struct box *b)\n{{\n{body}}}\n"
    fa = analyse(tmp_path, decl + """
        void h1(struct box *b);
        void f(struct box *b)
        {
            spin_lock(&b->lock);
            h1(b);
            b->n++;
        }
    """, files)
    [(lock, fact)] = exit_state(fa, "f").locks.items()
    assert lock.render() == "b->lock" and Poss.UNKNOWN in fact.poss, fact.poss
