"""Declared and mined protection (``rmaplint mine``) and what unguarded-access reads from it.

Every struct and function here is written for these tests in the kernel's style; the rule's
own fixture is ``corpus/rules/unguarded-access.c``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from analyzer.driver.mine import mine_paths
from analyzer.driver.project import Project
from analyzer.driver.run import SourceSpec
from analyzer.frontend.rewrite import IteratorTable
from analyzer.frontend.treesitter import parse_file
from analyzer.mining.accesses import file_accesses
from analyzer.mining.declared import declared_guards
from analyzer.mining.guards import Located, mine, z_score
from analyzer.model import lockmodel
from analyzer.model.lockmodel import Access
from analyzer.source.reader import TreeSource

ROOT = Path(__file__).resolve().parent.parent
MODEL = lockmodel.load()
RULES = MODEL.protected.guard_rules

HEADER = """\
typedef struct spinlock { int x; } spinlock_t;
struct mutex { int x; };
struct rw_semaphore { int x; };

struct owner {
	struct mutex big_lock;
	spinlock_t table_lock;
};

/**
 * struct item - one item
 * @count: how many, protected by item->lock
 * @words: said in prose, protected by the_caller
 */
struct item {
	spinlock_t lock;
	unsigned long count;
	unsigned long words;
	struct owner *owner;
	unsigned long flags;		/* Serialized by big_lock */
	/* protected by owner->table_lock */
	unsigned long slot;
	unsigned long hint;		/* protected by item_global_lock */
	int first_a, first_b;		/* first_a and first_b are protected by lock */
	struct rw_semaphore sem;	/* protects ->cookie and ->tag_id, not the rest */
	unsigned long cookie;
	unsigned long tag_id;
	unsigned long shared;		/* protected by RCU */
	unsigned long other;		/* protected by nobody_member->x */
};
"""


def declared_of(text: str):
    pf = parse_file("item.h", text, IteratorTable(), MODEL.frontend)
    fields = {sd.name: sd.fields for sd in pf.structs}
    return declared_guards("item.h", pf.structs, fields, MODEL)


def test_declared_forms_resolve_to_templates_over_the_object():
    guards, mentions = declared_of(HEADER)
    got = {(g.field, g.lock) for g in guards if g.access == Access.WRITE}
    assert ("count", "{obj}->lock") in got  # kernel-doc, the struct named
    assert ("flags", "{obj}->owner->big_lock") in got  # a lock of the struct pointed to
    assert ("slot", "{obj}->owner->table_lock") in got  # the comment above, owner named
    assert ("hint", "item_global_lock") in got  # a global
    assert ("cookie", "{obj}->sem") in got and ("tag_id", "{obj}->sem") in got  # lock's own
    assert ("first_a", "{obj}->lock") in got  # the sentence names the members
    assert not any(f in ("words", "shared", "other") for f, _ in got)
    why = {m.field: m.why for m in mentions}
    assert "RCU" in why["shared"]
    assert "nobody_member" in why["other"]
    # each declared guard covers both kinds of access, with where it was said
    assert {g.access for g in guards if g.field == "count"} == {Access.READ, Access.WRITE}
    assert all(g.where.startswith("item.h:") for g in guards)


def test_an_ambiguous_owner_is_a_mention_not_a_guess():
    text = HEADER.replace("struct owner *owner;", "struct owner *owner;\n\tstruct owner *twin;")
    guards, mentions = declared_of(text)
    assert not any(g.field == "flags" for g in guards)
    assert any(m.field == "flags" and "owner, twin" in m.why for m in mentions)


def test_guarded_by_annotation_is_read():
    text = ("typedef struct spinlock { int x; } spinlock_t;\n"
            "struct box {\n\tspinlock_t lock;\n"
            "\tint level __guarded_by(lock);\n};\n")
    guards, _ = declared_of(text)
    assert {(g.field, g.lock) for g in guards} == {("level", "{obj}->lock")}


CODE = HEADER + """
void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
void *kzalloc(unsigned long n, int gfp);
void kfree(const void *p);
void list_add(void *a, void *b);

void item_inc(struct item *it)
{
	spin_lock(&it->lock);
	it->count++;
	spin_unlock(&it->lock);
	it->words = it->count;
}

void item_helper(struct item *it)
{
	it->count = 0;
}

struct item *item_new(void)
{
	struct item *it = kzalloc(sizeof(*it), 0);

	if (!it)
		return 0;
	it->count = 1;
	return it;
}

void item_free(struct item *it)
{
	it->hint = 0;
	kfree(it);
}

void item_gather(struct item *it)
{
	LIST_HEAD(gathered);

	list_add(&it->slot, &gathered);
}

void item_link(struct item *it, void *node)
{
	spin_lock(&it->lock);
	list_add(node, &it->slot);
	spin_unlock(&it->lock);
	it->tag_id = READ_ONCE(it->cookie);
}
"""


def accesses_of(tmp_path: Path, text: str):
    (tmp_path / "item.c").write_text(text)
    fa = Project(TreeSource(tmp_path), MODEL).analyse_file("item.c")
    return fa, file_accesses(fa, MODEL)


def test_accesses_say_held_lacking_and_unknown(tmp_path):
    _, acc = accesses_of(tmp_path, CODE)
    by = {(a.function, a.field, a.access): a for a in acc}
    inc = by[("item_inc", "count", Access.WRITE)]
    assert inc.lock_state("{obj}->lock") is True
    # after the unlock, in a function that takes the lock itself: lacking
    assert by[("item_inc", "words", Access.WRITE)].lock_state("{obj}->lock") is False
    # a helper that never takes it: unknown (a caller may hold it)
    assert by[("item_helper", "count", Access.WRITE)].lock_state("{obj}->lock") is None
    # init and teardown are private
    assert by[("item_new", "count", Access.WRITE)].private
    assert by[("item_free", "hint", Access.WRITE)].private
    # a container mutator given &it->slot writes it
    assert by[("item_link", "slot", Access.WRITE)].lock_state("{obj}->lock") is True
    # linked into a list on the stack: the function's own business
    assert by[("item_gather", "slot", Access.WRITE)].private
    # marked lockless: not an access; lock members are never accesses
    assert ("item_link", "cookie", Access.READ) not in by
    assert not any(a.field == "lock" for a in acc)


def test_z_score_and_thresholds():
    assert z_score(37, 39, 0.5) > 5
    assert z_score(3, 3, 0.5) < RULES.min_score  # three agreeing sites are not enough
    assert z_score(8, 9, 0.5) >= RULES.min_score


def _located(field, access, states, struct="item", taken=True):
    from analyzer.mining.accesses import FieldAccess

    out = []
    for i, s in enumerate(states):
        held = ("{obj}->lock",) if s is True else ()
        lacking = ("{obj}->lock",) if s is False else ()
        out.append(Located("x.c", FieldAccess(struct, field, access, f"f{i}", i + 1,
                                              f"it->{field}", held, lacking,
                                              taken=held if taken else ())))
    return out


def test_local_discipline_makes_a_function_without_the_lock_deviate():
    """Every access holding the lock takes it itself: one that never takes it deviates.
    Where some hold it by a caller (an assertion, a static function's callers), a function
    that never takes it may be such a callee: unknown, not a deviation."""
    local = _located("count", Access.WRITE, [True] * 9 + [None])
    [m] = mine(local, RULES)
    assert m.local and m.deviations == ("x.c:10",)
    callee = _located("count", Access.WRITE, [True] * 9, taken=False) \
        + _located("count", Access.WRITE, [None])
    [m] = mine(callee, RULES)
    assert not m.local and m.deviations == ()
    # too many functions without it: the pair would not hold with them, none is flagged
    weak = _located("count", Access.WRITE, [True] * 9 + [None] * 5)
    [m] = mine(weak, RULES)
    assert m.deviations == ()


def test_mined_pairs_need_support_confidence_and_share():
    good = _located("count", Access.WRITE, [True] * 8 + [False])
    [m] = mine(good, RULES)
    assert (m.guard.held, m.guard.total, m.deviations) == (8, 9, ("x.c:9",))
    assert not mine(_located("count", Access.WRITE, [True] * 3), RULES)  # too few
    assert not mine(_located("count", Access.WRITE, [True] * 6 + [False] * 3), RULES)
    # held at 8 of the known, unknown at 40 more: a coincidence of where it is read
    assert not mine(_located("count", Access.WRITE, [True] * 8 + [None] * 40), RULES)


def test_a_read_pair_needs_the_writes_to_take_the_lock():
    reads = _located("count", Access.READ, [True] * 9)
    assert not mine(reads, RULES)  # never written under it
    writes = _located("count", Access.WRITE, [True, True])
    assert {m.guard.access for m in mine(reads + writes, RULES)} == {Access.READ}


def test_mine_command_json_and_toml(tmp_path):
    src = (ROOT / "corpus" / "rules" / "unguarded-access.c").read_text()
    (tmp_path / "kernel.h").write_text((ROOT / "corpus" / "rules" / "kernel.h").read_text())
    (tmp_path / "u.c").write_text(src)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "analyzer.cli", "mine", "--no-cache",
                          "--repo", str(tmp_path), "--format", "json", "u.c"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    doc = json.loads(out.stdout)
    assert doc["schema"] == "rmaplint-mine/1"
    mined = [g for g in doc["guards"] if g["source"] == "mined"]
    assert mined and mined[0]["struct"] == "reserve_map" and mined[0]["field"] == "resv"
    assert mined[0]["deviations"] == ["u.c:172"]
    assert set(mined[0]) >= {"struct", "field", "lock", "access", "source", "held", "total",
                             "score", "examples", "deviations"}
    assert any(g["source"] == "declared" and g["field"] == "nr_free" for g in doc["guards"])
    toml = subprocess.run([sys.executable, "-m", "analyzer.cli", "mine", "--no-cache",
                           "--repo", str(tmp_path), "--format", "toml", "u.c"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    # the TOML is rules data: appended to a copy of protected.toml, the rules load it
    rules = tmp_path / "rules"
    rules.mkdir()
    for p in (ROOT / "rules").glob("*.toml"):
        (rules / p.name).write_text(p.read_text())
    with open(rules / "protected.toml", "a") as f:
        f.write("\n" + toml.stdout)
    tomllib.loads(toml.stdout)
    model = lockmodel.load(rules)
    kept = [g for g in model.protected.guards if g.field == "resv"]
    assert kept and kept[0].source == "mined" and kept[0].held == 8


def test_a_kept_guard_in_rules_is_declared_protection(tmp_path):
    """A [[guard]] a maintainer committed applies as written, with its reads."""
    rules = tmp_path / "rules"
    rules.mkdir()
    for p in (ROOT / "rules").glob("*.toml"):
        (rules / p.name).write_text(p.read_text())
    with open(rules / "protected.toml", "a") as f:
        f.write('\n[[guard]]\nstruct = "item"\nfield = "words"\nlock = "{obj}->lock"\n'
                'access = "write"\n')
    (tmp_path / "item.c").write_text(CODE)
    from analyzer.driver.run import check_paths

    run = check_paths(SourceSpec(str(tmp_path), None, None, str(rules), None), ["item.c"])
    got = [(f.rule, f.kind, f.function, f.line) for f in run.findings
           if f.rule == "unguarded-access"]
    line = CODE.splitlines().index("\tit->words = it->count;") + 1
    assert got == [("unguarded-access", "declared", "item_inc", line)]


def test_mine_on_real_mm_finds_the_rules_pairs(kernel_tree, tmp_path):
    """Found, not copied: the anon_vma tree's lock is mined from mm/rmap.c's code, the VMA's
    anon_vma_chain lock read from its comment in mm_types.h."""
    spec = SourceSpec(str(kernel_tree), None, None, None, str(tmp_path / "cache"))
    run = mine_paths(spec, ["mm/rmap.c", "mm/interval_tree.c"], jobs=1)
    mined = {(m.guard.struct, m.guard.field, m.guard.access, m.guard.lock) for m in run.guards}
    assert ("anon_vma", "rb_root", Access.WRITE, "{obj}->root->rwsem") in mined
    declared = {(g.struct, g.field, g.lock) for g in run.declared}
    assert ("vm_area_struct", "anon_vma_chain", "{obj}->vm_mm->mmap_lock") in declared
    assert ("vm_area_struct", "anon_vma", "{obj}->vm_mm->page_table_lock") in declared
    again = mine_paths(spec, ["mm/rmap.c", "mm/interval_tree.c"], jobs=1)
    assert all(f.cached for f in again.files)
    assert [m.to_json() for m in again.guards] == [m.to_json() for m in run.guards]


def test_review_reports_a_patch_that_adds_a_deviant_access(make_git_repo, tmp_path):
    """A patch adding one write outside the lock every other write of the member takes is
    new in its review; the base has none."""
    fixture = (ROOT / "corpus" / "rules" / "unguarded-access.c").read_text()
    kernel_h = (ROOT / "corpus" / "rules" / "kernel.h").read_text()
    deviant = "\t// ruleid: unguarded-access[mined]\n\tmap->resv -= n;\n"
    assert deviant in fixture
    base = fixture.replace(deviant, "")
    repo = make_git_repo({"mm/kernel.h": kernel_h, "mm/resv.c": base},
                         {"mm/resv.c": fixture})
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           **{k: v for k, v in repo.env.items() if k.startswith("GIT_CONFIG")}}
    out = subprocess.run([sys.executable, "-m", "analyzer.cli", "review", "--no-cache",
                          "--repo", str(repo.path), "--format", "json",
                          f"{repo.commits[0]}..{repo.commits[1]}"],
                         capture_output=True, text=True, env=env, cwd=repo.path)
    doc = json.loads(out.stdout)
    [patch] = doc["patches"]
    new = [(f["rule"], f["kind"], f["function"]) for f in patch["new"]]
    assert new == [("unguarded-access", "mined", "resv_commit")]


def test_file_scope_objects_and_other_annotation_spellings(tmp_path):
    """A file-scope counter is an access of its own, guarded by a global lock; Clang's
    thread-safety spellings (GUARDED_BY, the attribute) declare it too."""
    src = ("struct mutex { int x; };\nvoid mutex_lock(struct mutex *m);\n"
           "void mutex_unlock(struct mutex *m);\n"
           "static struct mutex mu;\n"
           "int a GUARDED_BY(mu);\n"
           "int b __attribute__((guarded_by(mu)));\n"
           "static int c;\t/* serialized by mu */\n"
           "void f(void)\n{\n\tmutex_lock(&mu);\n\ta++;\n\tmutex_unlock(&mu);\n"
           "\tb = 1;\n\tc--;\n}\n")
    fa, acc = accesses_of(tmp_path, src)
    assert {(g.field, g.lock) for g in fa.declared if g.access == Access.WRITE} == \
        {("a", "mu"), ("b", "mu"), ("c", "mu")}
    states = {(a.field, a.line): a.lock_state("mu") for a in acc if a.struct == ""}
    assert states == {("a", 11): True, ("b", 13): False, ("c", 14): False}


def test_struct_wide_local_discipline():
    """Members written at too few sites for a pair of their own borrow their struct's: every
    write of its members that holds the lock is in a function taking it, so a function that
    never takes it deviates — but not one that takes it elsewhere (it knows the lock), and
    not a header's function (its callers are in other files)."""
    many = [la for f in ("a", "b", "c") for la in _located(f, Access.WRITE, [True] * 3)]
    lone = _located("d", Access.WRITE, [True, None])
    got = [m for m in mine(many + lone, RULES) if m.scope == "struct"]
    assert [(m.guard.field, m.deviations) for m in got] == [("d", ("x.c:2",))]
    knows = _located("d", Access.WRITE, [True, False])
    assert not [m for m in mine(many + knows, RULES) if m.scope == "struct"]
    from dataclasses import replace as _r
    header = [Located(la.path, _r(la.access, elsewhere=True)) if la.access.line == 2 else la
              for la in lone]
    assert not [m for m in mine(many + header, RULES) if m.scope == "struct"]


def test_init_section_functions_run_alone(tmp_path):
    src = ("struct mutex { int x; };\nvoid mutex_lock(struct mutex *m);\n"
           "struct box { struct mutex mu; int n; };\n"
           "static int __init box_setup(struct box *b)\n{\n\tb->n = 1;\n\treturn 0;\n}\n"
           "void box_set(struct box *b)\n{\n\tb->n = 2;\n}\n")
    _, acc = accesses_of(tmp_path, src)
    assert {a.function: a.private for a in acc if a.field == "n"} == \
        {"box_setup": True, "box_set": False}
