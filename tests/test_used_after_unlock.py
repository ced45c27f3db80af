"""used-after-unlock's reading of helper bodies: which arguments a call changes (a lookup that
changes what it searches hands over an entry taken out of it). The rule's paths are held by
its fixture, corpus/rules/used-after-unlock.c."""

from __future__ import annotations

from analyzer.index.bodies import FileBodies, _written
from analyzer.locks.retakes import RESULT, Changes
from analyzer.model import lockmodel

HELPERS = """\
struct item *pool_pop(struct pool *pool)
{
	struct item *it = pool->next;

	if (it)
		pool->next = it->next;
	return it;
}

struct item *pool_find(struct pool *pool, int key)
{
	struct item *it;

	for (it = pool->next; it; it = it->next)
		if (it->key == key)
			return it;
	return NULL;
}

static void item_unlink(struct item *it)
{
	list_del(&it->node);
}

struct item *pool_take(struct pool *pool, struct item *it)
{
	item_unlink(it);
	pool->count--;
	return it;
}

struct item *pool_walk(struct pool *pool)
{
	pool = pool->parent;
	pool->seen = 1;
	return pool->next;
}
"""


def changes() -> Changes:
    bodies = FileBodies(HELPERS)
    return Changes(lockmodel.load(), lambda name, _path: [("pool.c", bodies[name])]
                   if name in bodies else [])


def test_written_names_are_the_ones_written_through_a_member():
    text = "a->x = 1; b->y.z[i] += 2; c->n++; --d->m; e->f == 3; g.h = 4; k->l->m = 5;"
    assert _written(text) == {"a", "b", "c", "d", "k"}


def test_a_pop_changes_the_pool_and_a_find_does_not():
    ch = changes()
    assert ch.of_call("pool_pop", "pool.c") == {0}
    assert ch.of_call("pool_find", "pool.c") == frozenset()


def test_changes_follow_mutators_and_helpers():
    ch = changes()
    # item_unlink hands its parameter to list_del; pool_take writes pool and unlinks it
    assert ch.of_call("item_unlink", "pool.c") == {0}
    assert ch.of_call("pool_take", "pool.c") == {0, 1}


def test_a_reassigned_parameter_is_not_the_argument_any_more():
    assert changes().of_call("pool_walk", "pool.c") == frozenset()


def test_no_body_in_sight_changes_nothing():
    assert changes().of_call("pool_elsewhere", "pool.c") == frozenset()


def test_a_lookup_that_pins_or_changes_what_it_returns_says_so():
    bodies = FileBodies("""\
static void entry_get(struct entry *entry)
{
	entry->refcount++;
}

struct entry *entry_find_get(struct rb_root *root, int key)
{
	struct entry *entry;

	entry = entry_search(root, key);
	if (entry)
		entry_get(entry);
	return entry;
}

struct entry *entry_find(struct rb_root *root, int key)
{
	struct entry *entry = entry_search(root, key);
	return entry;
}
""")
    ch = Changes(lockmodel.load(), lambda name, _path: [("e.c", bodies[name])]
                 if name in bodies else [])
    assert ch.of_call("entry_find_get", "e.c") == {RESULT}
    assert ch.of_call("entry_find", "e.c") == frozenset()


def test_a_lookup_returning_a_pinning_lookup_pins_too():
    bodies = FileBodies("""\
static struct em *__lookup_em(struct tree *tree, int start, int strict)
{
	struct em *em = search(tree, start);

	if (!em)
		return NULL;
	refcount_inc(&em->refs);
	return em;
}

struct em *lookup_em(struct tree *tree, int start)
{
	return __lookup_em(tree, start, 1);
}

struct em *peek_em(struct tree *tree, int start)
{
	return search(tree, start);
}
""")
    ch = Changes(lockmodel.load(), lambda name, _path: [("em.c", bodies[name])]
                 if name in bodies else [])
    assert ch.of_call("lookup_em", "em.c") == {RESULT}
    assert ch.of_call("peek_em", "em.c") == frozenset()


def test_the_messages_do_not_depend_on_the_run():
    """A pointer found twice (a lookup, then a walk's step) reaches a use with two finds:
    the message names the same one in every run (the facts come out of sets)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    fixture = Path(__file__).resolve().parents[1] / "corpus" / "rules" / "used-after-unlock.c"
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from analyzer.driver.cache import Cache\n"
        "from analyzer.driver.run import Checker\n"
        "from analyzer.model import lockmodel\n"
        "from analyzer.source.reader import TreeSource\n"
        "p = Path(sys.argv[1])\n"
        "r = Checker(TreeSource(p.parent), lockmodel.load(), Cache(None)).check_file(p.name)\n"
        "print('\\n'.join(f.message for f in r.findings if f.rule == 'used-after-unlock'))\n")
    outs = set()
    for seed in ("0", "1", "2", "3"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", code, str(fixture)], env=env,
                              capture_output=True, text=True, check=True)
        outs.add(done.stdout)
    assert len(outs) == 1 and "gadget_find()" in next(iter(outs))
