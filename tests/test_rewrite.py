"""analyzer.frontend.rewrite: offset-preserving pre-parse rewrite and iterator learning.

All C inputs are small snippets written for these tests in kernel style.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_c
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.frontend.rewrite import Contract, IteratorMacro, IteratorTable, Rewritten, learn_from_tree, learn_iterators, load_data, local_attribute_words, parse_clang_format_foreach, rewrite

KERNEL = Path(os.environ.get("RMAPLINT_KERNEL_TREE",
                             "/root/.cache/rmaplint/kernel/linux-source-6.12"))

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))


def table(*macros: tuple[str, int | None, int | None]) -> IteratorTable:
    return IteratorTable.of(IteratorMacro(n, c, o, "define") for n, c, o in macros)


ITERS = table(
    ("list_for_each_entry", 0, 1),
    ("list_for_each_entry_safe", 0, 2),
    ("anon_vma_interval_tree_foreach", 0, 1),
    ("for_each_vma", 1, 0),
    ("xa_for_each", 2, 0),
    ("each", 0, 1),  # shorter than "while": never rewritten
)


def assert_preserved(src: str, out: str) -> None:
    assert len(out) == len(src)
    assert len(out.encode("utf-8")) == len(src.encode("utf-8"))
    assert [i for i, c in enumerate(out) if c in "\r\n"] == [
        i for i, c in enumerate(src) if c in "\r\n"
    ]
    for a, b in zip(src, out):
        if a != b:
            assert a.isascii() and b.isascii()


def rw(src: str, iterators: IteratorTable = ITERS) -> Rewritten:
    r = rewrite(src, iterators)
    assert_preserved(src, r.text)
    return r


def errors(text: str) -> list[str]:
    """Text of every ERROR / MISSING node in the tree-sitter parse of ``text``."""
    tree = _PARSER.parse(text.encode("utf-8"))
    out, stack = [], [tree.root_node]
    while stack:
        n = stack.pop()
        if n.type == "ERROR" or n.is_missing:
            out.append(n.text.decode("utf-8", "replace"))
        elif n.has_error:
            stack.extend(n.children)
    return out


# --------------------------------------------------------------------------- preservation


def test_offsets_lines_and_utf8_length_are_preserved():
    src = (
        "/* Größe der Liste — ünïcödé ✓ */\n"
        "static void __init walk(struct anon_vma *anon_vma) __acquires(&anon_vma->rwsem)\n"
        "{\n"
        "\tstruct anon_vma_chain *avc; // naïve «comment» 😀\n"
        "\tanon_vma_interval_tree_foreach(avc, &anon_vma->rb_root, 0, ULONG_MAX) {\n"
        '\t\tpr_info("é %s\\n", "ü");\n'
        "\t}\n"
        "}\n"
    )
    r = rw(src)
    assert "Größe" in r.text and "😀" in r.text and '"é %s\\n"' in r.text
    assert r.text.splitlines()[4].lstrip().startswith("while")


def test_crlf_line_endings_are_preserved():
    src = (
        "static void f(struct list_head *head)\r\n"
        "\t__must_hold(&lock)\r\n"
        "{\r\n"
        "\tstruct foo *pos;\r\n"
        "\tlist_for_each_entry(pos, head, node)\r\n"
        "\t\tpos->x = 1;\r\n"
        "}\r\n"
    )
    r = rw(src)
    assert r.text.count("\r\n") == src.count("\r\n")
    assert list(r.iter_sites.values()) == ["list_for_each_entry"]
    assert r.contracts == (Contract(src.index("__must_hold"), 2, "must_hold", "&lock"),)
    assert errors(r.text) == []


def test_untouched_text_is_returned_as_is():
    src = "int f(int a)\n{\n\treturn a + 1;\n}\n"
    assert rw(src).text == src


# --------------------------------------------------------------------------- each rewrite


def test_iterator_becomes_padded_while_and_site_is_recorded():
    src = "void f(void)\n{\n\tlist_for_each_entry(pos, &head, lru) {\n\t\tg(pos);\n\t}\n}\n"
    r = rw(src)
    off = src.index("list_for_each_entry")
    assert r.text[off : off + len("list_for_each_entry")] == "while" + " " * 14
    assert r.iter_sites == {off: "list_for_each_entry"}
    assert r.text[off + 19 :].startswith("(pos, &head, lru) {")


def test_iterator_followed_by_a_comment_then_a_statement():
    src = "void f(void)\n{\n\tfor_each_vma(vmi, vma) /* all */\n\t\tcount++;\n}\n"
    r = rw(src)
    assert r.iter_sites == {src.index("for_each_vma"): "for_each_vma"}


@pytest.mark.parametrize(
    "src",
    [
        "void f(void)\n{\n\tlist_for_each_entry(pos, &head, lru);\n}\n",  # followed by ;
        "void f(void)\n{\n\tg(list_for_each_entry(pos, &head, lru), 1);\n}\n",  # an argument
        "void f(void)\n{\n\tx = list_for_each_entry(a, b, c) + 1;\n}\n",  # operator after
        "int list_for_each_entry(int a, int b, int c)\n{\n\treturn a;\n}\n",  # a declarator
        "void f(void)\n{\n\teach(a, b) {\n\t}\n}\n",  # name shorter than "while"
    ],
)
def test_iterator_outside_statement_position_is_left_alone(src):
    r = rw(src)
    assert r.iter_sites == {}
    assert r.text == src


def test_scoped_guard_becomes_if():
    src = (
        "void f(struct foo *foo)\n{\n"
        "\tscoped_guard(spinlock_irqsave, &foo->lock) {\n\t\tfoo->n++;\n\t}\n"
        "\tscoped_guard(mutex, &foo->mutex)\n\t\tfoo->m++;\n"
        "}\n"
    )
    r = rw(src)
    offs = [m.start() for m in re.finditer("scoped_guard", src)]
    assert r.guard_sites == {o: "scoped_guard" for o in offs}
    assert r.text[offs[0] : offs[0] + 12] == "if" + " " * 10
    assert errors(r.text) == []


def test_scoped_cond_guard_statement_argument_becomes_zero():
    src = (
        "int f(struct foo *foo)\n{\n"
        "\tscoped_cond_guard(mutex_intr, return -EINTR, &foo->lock) {\n"
        "\t\tfoo->n++;\n\t}\n\treturn 0;\n}\n"
    )
    r = rw(src)
    assert r.guard_sites == {src.index("scoped_cond_guard"): "scoped_cond_guard"}
    line = r.text.splitlines()[2]
    assert line == "\tif               (mutex_intr, 0            , &foo->lock) {"
    assert errors(src) and errors(r.text) == []


def test_guard_call_is_left_alone():
    src = "void f(struct foo *foo)\n{\n\tguard(mutex)(&foo->lock);\n\tfoo->n++;\n}\n"
    r = rw(src)
    assert r.text == src and r.guard_sites == {}
    assert errors(src) == []


def test_contracts_are_recorded_with_line_and_blanked():
    src = (
        "static void lock_it(struct foo *a)\n"
        "\t__acquires(a->lock)\n"
        "{\n\tspin_lock(&a->lock);\n}\n\n"
        "static void unlock_it(struct foo *a) __releases(a->lock) __must_hold(&big_lock)\n"
        "{\n\tspin_unlock(&a->lock);\n}\n"
        "bool try_it(struct foo *a) __cond_acquires(&a->\n\t\tlock);\n"
    )
    r = rw(src)
    assert r.contracts == (
        Contract(src.index("__acquires"), 2, "acquires", "a->lock"),
        Contract(src.index("__releases"), 7, "releases", "a->lock"),
        Contract(src.index("__must_hold"), 7, "must_hold", "&big_lock"),
        Contract(src.index("__cond_acquires"), 11, "cond_acquires", "&a-> lock"),
    )
    assert "__acquires" not in r.text and "a->lock)" not in r.text.splitlines()[1]
    assert r.text.splitlines()[1].strip() == ""
    assert errors(src) and errors(r.text) == []


def test_attribute_words_and_calls_are_blanked():
    src = (
        "static int __init __must_check setup(char *str)\n{\n\treturn 0;\n}\n"
        "static noinline void __cold slow(void)\n{\n}\n"
        "struct foo __rcu *ptr __read_mostly;\n"
        'static int table[4] __attribute__((section(".data..x)y"), aligned(8)));\n'
        "static struct bar b __aligned(64);\n"
        "void __printf(2, 3) say(int lvl, const char *fmt, ...);\n"
    )
    r = rw(src)
    for word in ("__init", "__must_check", "noinline", "__cold", "__rcu", "__read_mostly",
                 "__attribute__", "section", "aligned", "__aligned", "__printf"):
        assert re.search(rf"\b{word}\b", r.text) is None, word
    assert "static int table[4]" in r.text and r.text.count(";") == src.count(";") - 0
    assert errors(r.text) == []


def test_type_arguments_become_expressions():
    src = (
        "void f(struct list_head *p, struct work_struct *w)\n{\n"
        "\tstruct foo *a = container_of(w, struct foo, work);\n"
        "\tunsigned long n = min_t(unsigned long, a->n, 8);\n"
        "\tstruct foo *b = list_first_entry(p, struct foo,\n\t\t\t\t\t   lru);\n"
        "\tvoid *v = bar(p, const char *, 3);\n"
        "\tn = sizeof(struct foo) + (n ? (int)n : 0);\n"
        "}\n"
        "int proto(struct foo *, unsigned long);\n"
    )
    r = rw(src)
    lines = r.text.splitlines()
    assert lines[2] == "\tstruct foo *a = container_of(w,        foo, work);"
    assert lines[3] == "\tunsigned long n = min_t(unsigned_long, a->n, 8);"
    assert lines[4] == "\tstruct foo *b = list_first_entry(p,        foo,"
    assert lines[6] == "\tvoid *v = bar(p,       char  , 3);"
    # sizeof, casts, declarations and prototypes keep their types
    assert lines[7] == "\tn = sizeof(struct foo) + (n ? (int)n : 0);"
    assert lines[9] == "int proto(struct foo *, unsigned long);"
    assert errors(src) and errors(r.text) == []


def test_static_macro_declaration_with_several_arguments():
    src = (
        "static DEFINE_SPINLOCK(lock);\n"
        "static DEFINE_PER_CPU(struct foo, foo_pcp);\n"
        "void f(void)\n{\n"
        "\tstatic DEFINE_RATELIMIT_STATE(rs, 5 * HZ, 10);\n"
        "\tDECLARE_BITMAP(map, 64) = { 0 };\n"
        "\tg(&rs, map);\n}\n"
    )
    r = rw(src)
    lines = r.text.splitlines()
    assert lines[0] == "static DEFINE_SPINLOCK(lock);"  # parses as a declaration: kept
    assert lines[1] == "       DEFINE_PER_CPU(       foo, foo_pcp);"
    assert lines[4] == "\t       DEFINE_RATELIMIT_STATE(rs, 5 * HZ, 10);"
    assert lines[5] == "\tDECLARE_BITMAP(map, 64)        ;"
    assert errors(src) and errors(r.text) == []


def test_file_scope_invocation_without_semicolon_is_blanked():
    src = (
        "static int __init foo_init(void)\n{\n\treturn 0;\n}\n"
        "core_initcall(foo_init)\n\n"
        "static void bar(void)\n{\n}\n"
    )
    r = rw(src)
    assert r.text.splitlines()[4].strip() == ""
    assert errors(r.text) == []


def test_alignof_is_renamed():
    src = "void f(void)\n{\n\tx = __alignof__(p->q);\n}\n"
    r = rw(src)
    assert r.text.splitlines()[2] == "\tx = sizeof     (p->q);"
    assert errors(src) and errors(r.text) == []


# --------------------------------------------------------------------------- lexical safety


def test_no_rewrite_inside_comments_strings_chars_and_preprocessor_lines():
    src = (
        "/* list_for_each_entry(pos, &head, lru) { __init __acquires(x) */\n"
        "// scoped_guard(mutex, &m) { __rcu\n"
        "#define walk(pos, head) \\\n"
        "\tlist_for_each_entry(pos, head, lru) \\\n"
        "\t\tif (__acquires(pos)) {}\n"
        "#define __my_init __init /* multi\n"
        "   line comment with list_for_each_entry(a, b, c) { */\n"
        "static const char *s = \"list_for_each_entry(a, b, c) { __init\";\n"
        "static const char c = '_';\n"
        "static const char *t = \"esc\\\" __init \\\\\";\n"
    )
    r = rw(src)
    assert r.text == src
    assert r.iter_sites == {} and r.guard_sites == {} and r.contracts == ()


def test_line_comment_continuation_is_a_comment():
    src = "// comment \\\n__init list_for_each_entry(a, b, c) {\nint x __init;\n"
    r = rw(src)
    assert r.text.splitlines()[1] == src.splitlines()[1]
    assert r.text.splitlines()[2] == "int x       ;"


@pytest.mark.parametrize(
    "src",
    [
        "void f(void)\n{\n\t/* never closed list_for_each_entry(a, b, c) {\n",
        'void f(void)\n{\n\tg("never closed __init\n\tlist_for_each_entry(a, b, c) {\n',
        "void f(void)\n{\n\tlist_for_each_entry(a, b, c\n",
        "int x __attribute__((aligned(8)\n",
        "void f(void) __acquires(x",
        "'",
        "#define X \\",
    ],
)
def test_unterminated_input_stops_gracefully(src):
    r = rw(src)
    assert r.contracts == () or r.contracts[0].kind  # no exception, same length


def test_offsets_refer_to_the_original_text():
    src = (
        "void f(struct xarray *xa)\n{\n\tunsigned long i;\n\tvoid *entry;\n"
        "\txa_for_each(xa, i, entry)\n\t\tput(entry);\n"
        "\tscoped_guard(rcu)\n\t\tg();\n}\n"
    )
    r = rw(src)
    for off, name in [*r.iter_sites.items(), *r.guard_sites.items()]:
        assert src[off : off + len(name)] == name


# --------------------------------------------------------------------------- parse check

SNIPPETS = [
    # iterator macros, including the _safe form and a vma iterator
    """
static void walk_anon(struct folio *folio, struct anon_vma *anon_vma)
{
	struct anon_vma_chain *avc;
	pgoff_t pgoff_start = folio_pgoff(folio);

	anon_vma_lock_read(anon_vma);
	anon_vma_interval_tree_foreach(avc, &anon_vma->rb_root, pgoff_start, pgoff_start) {
		struct vm_area_struct *vma = avc->vma;

		if (!vma)
			continue;
		visit(vma);
	}
	anon_vma_unlock_read(anon_vma);
}
""",
    """
static int drain(struct list_head *head)
{
	struct page *page, *next;
	int n = 0;

	list_for_each_entry_safe(page, next, head, lru) {
		list_del(&page->lru);
		n++;
	}
	return n;
}
""",
    """
static unsigned long count_vmas(struct mm_struct *mm)
{
	VMA_ITERATOR(vmi, mm, 0);
	struct vm_area_struct *vma;
	unsigned long n = 0;

	mmap_read_lock(mm);
	for_each_vma(vmi, vma)
		n += vma_pages(vma);
	mmap_read_unlock(mm);
	return n;
}
""",
    # sparse contracts and attributes on a definition
    """
static inline void __always_inline lock_both(struct foo *a, struct foo *b)
	__acquires(&a->lock) __acquires(&b->lock)
{
	spin_lock(&a->lock);
	spin_lock_nested(&b->lock, SINGLE_DEPTH_NESTING);
}
""",
    """
static noinline int __must_check __cold slow_path(struct foo __rcu **slot, void __user *buf)
{
	struct foo *f = rcu_dereference(*slot);

	return copy_to_user(buf, f, sizeof(*f)) ? -EFAULT : 0;
}
""",
    # scope guards
    """
static int set_limit(struct foo *foo, unsigned long limit)
{
	guard(mutex)(&foo->mutex);

	scoped_guard(spinlock_irqsave, &foo->lock) {
		foo->limit = limit;
	}
	scoped_cond_guard(rwsem_read_intr, return -EINTR, &foo->sem) {
		foo->seen = limit;
	}
	return 0;
}
""",
    # type arguments, static macro declarations, file-scope invocation without ;
    """
static DEFINE_PER_CPU(struct foo_pcp, foo_pcp);

static struct foo *to_foo(struct kref *kref)
{
	static DEFINE_RATELIMIT_STATE(rs, 5 * HZ, 10);
	struct foo *foo = container_of(kref, struct foo, kref);

	foo->n = min_t(unsigned long, foo->n, ULONG_MAX / 2);
	return foo;
}
late_initcall(foo_init)

static void __exit foo_exit(void)
{
	struct foo *f = list_first_entry(&foo_list, struct foo, node);

	kfree(f);
}
""",
]


@pytest.mark.parametrize("src", SNIPPETS)
def test_snippets_parse_without_errors_after_rewrite(src):
    assert errors(src), "snippet should need the rewrite"
    r = rw(src)
    assert errors(r.text) == []


def test_while_keeps_macro_arguments_in_the_tree():
    r = rw(SNIPPETS[1])
    tree = _PARSER.parse(r.text.encode())
    loops = []
    stack = [tree.root_node]
    while stack:
        n = stack.pop()
        if n.type == "while_statement":
            loops.append(n)
        stack.extend(n.children)
    (loop,) = loops
    cond = loop.child_by_field_name("condition")
    assert cond.text.decode() == "(page, next, head, lru)"
    assert r.iter_sites[loop.start_byte] == "list_for_each_entry_safe"


def test_local_iterators_are_learned_from_the_file():
    src = (
        "#define for_each_bucket(b, tbl) \\\n"
        "\tfor ((b) = (tbl)->first; (b); (b) = (b)->next)\n\n"
        "static void scan(struct table *tbl)\n{\n\tstruct bucket *b;\n\n"
        "\tfor_each_bucket(b, tbl) {\n\t\tvisit(b);\n\t}\n}\n"
    )
    r = rewrite(src, IteratorTable())
    assert list(r.iter_sites.values()) == ["for_each_bucket"]
    assert errors(r.text) == []
    assert rewrite(src, IteratorTable(), learn_local=False).iter_sites == {}


def test_local_attribute_aliases_are_blanked():
    src = (
        "#ifdef CONFIG_X\n#define check_attrs noinline __no_kmsan_checks\n"
        "#else\n#define check_attrs inline\n#endif\n"
        "#define NOT_ATTR 42\n"
        "static check_attrs bool check(u8 *addr)\n{\n\treturn *addr;\n}\n"
    )
    kinds = {"noinline": "word", "__no_kmsan_checks": "word"}
    assert local_attribute_words(src, kinds) == {"check_attrs"}
    r = rw(src)
    assert "check_attrs bool" not in r.text
    assert errors(r.text) == []


# --------------------------------------------------------------------------- learning

LIST_H = r"""
#define list_for_each_entry_reverse(pos, head, member)			\
	for (pos = list_last_entry(head, typeof(*pos), member);		\
	     !list_entry_is_head(pos, head, member); 			\
	     pos = list_prev_entry(pos, member))

#define list_for_each_entry_continue(pos, head, member) 		\
	for (pos = list_next_entry(pos, member);			\
	     !list_entry_is_head(pos, head, member);			\
	     pos = list_next_entry(pos, member))

#define list_for_each_entry_safe(pos, n, head, member)			\
	for (pos = list_first_entry(head, typeof(*pos), member),	\
		n = list_next_entry(pos, member);			\
	     !list_entry_is_head(pos, head, member); 			\
	     pos = n, n = list_next_entry(n, member))

#define hlist_for_each_entry_safe(pos, n, head, member) 		\
	for (pos = hlist_entry_safe((head)->first, typeof(*pos), member);\
	     pos && ({ n = pos->member.next; 1; });			\
	     pos = hlist_entry_safe(n, typeof(*pos), member))

#define anon_vma_interval_tree_foreach(avc, root, start, last)		 \
	for (avc = anon_vma_interval_tree_iter_first(root, start, last); \
	     avc; avc = anon_vma_interval_tree_iter_next(avc, start, last))

#define for_each_vma(__vmi, __vma)					\
	while (((__vma) = vma_next(&(__vmi))) != NULL)

#define xa_for_each_start(xa, index, entry, start)			\
	for (index = start,						\
	     entry = xa_find(xa, &index, ULONG_MAX, XA_PRESENT);	\
	     entry;							\
	     entry = xa_find_after(xa, &index, ULONG_MAX, XA_PRESENT))

#define xa_for_each(xa, index, entry) \
	xa_for_each_start(xa, index, entry, 0)

#define for_each_sg(sglist, sg, nr, __i)	\
	for (__i = 0, sg = (sglist); __i < (nr); __i++, sg = sg_next(sg))

#define hash_for_each_possible(name, obj, member, key)			\
	hlist_for_each_entry(obj, &name[hash_min(key, HASH_BITS(name))], member)

#define node_walk(n, mask) if (mask) for ((n) = 0; (n) < 4; (n)++)
#define scoped_guard(_name, args...)	\
	for (CLASS(_name, scope)(args); true; ({ goto _label; }))
#define not_a_loop(x) do { (x)++; } while (0)
"""


def test_learn_positions_from_defines():
    t = learn_iterators([LIST_H], None, load_data().fallback)
    got = {m.name: (m.cursor, m.object, m.origin) for m in t}
    assert got["list_for_each_entry_reverse"] == (0, 1, "define")
    assert got["list_for_each_entry_continue"] == (0, 1, "define")
    assert got["list_for_each_entry_safe"] == (0, 2, "define")
    assert got["hlist_for_each_entry_safe"] == (0, 2, "define")
    assert got["anon_vma_interval_tree_foreach"] == (0, 1, "define")
    assert got["for_each_vma"] == (1, 0, "define")
    assert got["xa_for_each_start"] == (2, 0, "define")
    assert got["xa_for_each"] == (2, 0, "define")  # alias, mapped through the arguments
    assert got["for_each_sg"] == (1, 0, "define")  # sg = (sglist), not the counter
    # alias of hlist_for_each_entry, known only from the fallback table
    assert got["hash_for_each_possible"] == (1, 0, "define")
    assert "node_walk" not in got  # body starts with `if`
    assert "scoped_guard" not in got  # a guard, not an iterator
    assert "not_a_loop" not in got
    # fallback entries not defined here are kept with their origin
    assert t.get("hlist_for_each_entry").origin == "fallback"


def test_learn_alias_defined_before_its_target_and_unmappable_alias():
    texts = [
        "#define walk_lru(a, b) my_iter(a, b, lru)\n",
        "#define walk_odd(a, b) my_iter((a) + 1, b, lru)\n",
        "#define my_iter(pos, head, m) \\\n\tfor (pos = first(head, m); pos; pos = next(pos, m))\n",
    ]
    t = learn_iterators(texts, None, IteratorTable())
    assert (t.get("my_iter").cursor, t.get("my_iter").object) == (0, 1)
    assert (t.get("walk_lru").cursor, t.get("walk_lru").object) == (0, 1)
    # cursor argument `(a) + 1` still names one param: mapped
    assert t.get("walk_odd").cursor == 0
    t2 = learn_iterators(["#define weird(a, b) my_iter(g(a, b), b, lru)\n"], None,
                         IteratorTable(), known=t)
    assert (t2.get("weird").cursor, t2.get("weird").object) == (0, 1)  # default
    assert "my_iter" not in t2  # `known` entries are not copied


def test_learn_handles_crlf_continuations():
    text = LIST_H.replace("\n", "\r\n")
    t = learn_iterators([text], None, IteratorTable())
    assert t.get("list_for_each_entry_safe").object == 2
    assert t.get("for_each_vma").cursor == 1


CLANG_FORMAT = """\
# comment
ColumnLimit: 80
ForEachMacros:
  - 'list_for_each_entry'
  - "my_private_foreach"   # trailing comment

  - 'for_each_vma'
  - 'scoped_guard'
IncludeBlocks: Preserve
"""


def test_clang_format_list_parsing():
    assert parse_clang_format_foreach(CLANG_FORMAT) == [
        "list_for_each_entry", "my_private_foreach", "for_each_vma", "scoped_guard",
    ]
    assert parse_clang_format_foreach("ForEachMacros: ['a_each', \"b_each\"]\n") == [
        "a_each", "b_each",
    ]
    assert parse_clang_format_foreach("ColumnLimit: 80\n") == []


def test_clang_format_names_become_iterators():
    t = learn_iterators([LIST_H], CLANG_FORMAT, load_data().fallback)
    assert t.get("my_private_foreach") == IteratorMacro("my_private_foreach", 0, 1,
                                                        "clang-format")
    assert t.get("for_each_vma").origin == "define"  # a definition wins
    assert "scoped_guard" not in t
    fb_only = learn_iterators([], "ForEachMacros:\n  - 'list_for_each_entry_safe'\n")
    assert fb_only.get("list_for_each_entry_safe") == IteratorMacro(
        "list_for_each_entry_safe", 0, 2, "clang-format", temp=1)  # the fallback's positions


def test_iterator_table_api():
    a = IteratorTable.of([IteratorMacro("x_for_each", 0, 1, "fallback"),
                          IteratorMacro("y_for_each", 1, 0, "define")])
    b = IteratorTable.of([IteratorMacro("x_for_each", 1, 2, "define"),
                          IteratorMacro("y_for_each", 0, 0, "define"),
                          IteratorMacro("z_for_each", None, None, "clang-format")])
    m = a.merge(b)
    assert len(m) == 3 and "z_for_each" in m and "nope" not in m
    assert m.get("x_for_each").origin == "define"  # stronger origin wins
    assert m.get("y_for_each") == IteratorMacro("y_for_each", 1, 0, "define")  # tie: self
    assert m.get("nope") is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.macros = ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.get("x_for_each").cursor = 3


def test_fallback_table_from_rules():
    fb = load_data().fallback
    assert (fb.get("list_for_each_entry_safe").cursor,
            fb.get("list_for_each_entry_safe").object) == (0, 2)
    assert (fb.get("anon_vma_interval_tree_foreach").cursor,
            fb.get("anon_vma_interval_tree_foreach").object) == (0, 1)
    assert (fb.get("vma_interval_tree_foreach").cursor,
            fb.get("vma_interval_tree_foreach").object) == (0, 1)
    assert (fb.get("for_each_vma").cursor, fb.get("for_each_vma").object) == (1, 0)
    assert fb.get("for_each_online_node").object is None
    assert all(m.origin == "fallback" for m in fb)


# --------------------------------------------------------------------------- property

_TOKENS = st.sampled_from([
    "list_for_each_entry", "scoped_guard", "scoped_cond_guard", "__acquires", "__init",
    "__attribute__", "struct", "unsigned", "long", "static", "DEFINE_X", "DECLARE_BITMAP",
    "(", ")", "{", "}", ";", ",", "=", "*", "/*", "*/", "//", '"', "'", "\\", "#", "\n",
    "\r\n", " ", "\t", "x", "y", "é", "✓", "0", "...", "return",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS, max_size=60))
def test_any_input_keeps_length_and_line_breaks(tokens):
    src = "".join(tokens)
    rw(src)


# --------------------------------------------------------------------------- real tree


@pytest.mark.kernel
@pytest.mark.skipif(not KERNEL.is_dir(), reason="needs the linux-source-6.12 tree")
def test_learn_from_kernel_tree():
    t = learn_from_tree(KERNEL)
    expect = {
        "list_for_each_entry": (0, 1),
        "list_for_each_entry_reverse": (0, 1),
        "list_for_each_entry_safe": (0, 2),
        "hlist_for_each_entry_safe": (0, 2),
        "anon_vma_interval_tree_foreach": (0, 1),
        "vma_interval_tree_foreach": (0, 1),
        "for_each_vma": (1, 0),
        "for_each_vma_range": (1, 0),
        "xa_for_each": (2, 0),
        "for_each_online_node": (0, None),
    }
    for name, pos in expect.items():
        m = t.get(name)
        assert m is not None and m.origin == "define", name
        assert (m.cursor, m.object) == pos, name
    # the fallback table agrees with the definitions of the tree
    for fb in load_data().fallback:
        m = t.get(fb.name)
        if m.origin == "define":
            assert (m.cursor, m.object) == (fb.cursor, fb.object), fb.name


@pytest.mark.kernel
@pytest.mark.skipif(not KERNEL.is_dir(), reason="needs the linux-source-6.12 tree")
def test_mm_functions_parse_after_rewrite():
    t = learn_from_tree(KERNEL)
    total = bad = 0
    for path in sorted((KERNEL / "mm").glob("*.c")):
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        r = rewrite(text, t)
        assert len(r.text) == len(text)
        tree = _PARSER.parse(r.text.encode("utf-8", "surrogateescape"))
        stack = [tree.root_node]
        while stack:
            n = stack.pop()
            if n.type == "function_definition":
                total += 1
                bad += n.has_error
            elif n.type in ("translation_unit", "ERROR") or n.type.startswith("preproc_"):
                stack.extend(n.children)
    assert total > 4000
    assert bad / total < 0.05


@pytest.mark.parametrize("body", ["(*n)++;", "*p++ = 0;", "++count;", "--left;", "!done();"])
def test_iterator_body_starting_with_an_operator(body):
    src = f"void f(void)\n{{\n\tlist_for_each_entry(pos, &head, node)\n\t\t{body}\n}}\n"
    table = load_data().fallback
    rw = rewrite(src, table)
    assert list(rw.iter_sites.values()) == ["list_for_each_entry"]
    assert len(rw.text) == len(src)


def test_a_type_argument_is_no_variable():
    """``list_first_entry(list, struct page, lru)``: ``page`` is the type, read by nobody —
    a stale-pointer check must not take it for the variable ``page``."""
    from analyzer.frontend.treesitter import parse_file
    from analyzer.syntax import tree as C

    src = ("void f(struct list_head *list)\n{\n\tstruct page *page, *next;\n"
           "\tnext = list_first_entry(list, struct page, lru);\n"
           "\tx = min_t(unsigned long, page->a, b);\n}\n")
    body = parse_file("x.c", src, IteratorTable()).functions[0].body.body
    first = body[-2].expr.value
    assert isinstance(first.args[1], C.Opaque) and first.args[1].text == "page"
    assert isinstance(first.args[0], C.Name) and isinstance(first.args[2], C.Name)
    second = body[-1].expr.value
    assert isinstance(second.args[0], C.Opaque)
    assert isinstance(second.args[1], C.Member)  # a real argument stays an expression


def test_iterators_whose_advance_reads_only_the_object():
    """``from_object``: the advance computes the cursor from the object alone, so the walk's
    position lives in the object (an xa_state), not in the cursor (a list node)."""
    text = """
#define xas_for_each(xas, entry, max) \\
	for (entry = xas_find(xas, max); entry; \\
	     entry = xas_next_entry(xas, max))
#define list_for_each_entry(pos, head, member) \\
	for (pos = list_first_entry(head, typeof(*pos), member); \\
	     !list_entry_is_head(pos, head, member); \\
	     pos = list_next_entry(pos, member))
#define list_for_each_entry_safe(pos, n, head, member) \\
	for (pos = list_first_entry(head, typeof(*pos), member), \\
		n = list_next_entry(pos, member); \\
	     !list_entry_is_head(pos, head, member); \\
	     pos = n, n = list_next_entry(n, member))
#define for_each_vma(vmi, vma) while ((vma = vma_next(&(vmi))) != NULL)
#define xas_for_each_alias(xas, entry) xas_for_each(xas, entry, ULONG_MAX)
"""
    t = learn_iterators([text], fallback=IteratorTable())
    got = {m.name: m.from_object for m in t.macros}
    assert got == {"xas_for_each": True, "list_for_each_entry": False,
                   "list_for_each_entry_safe": False, "for_each_vma": True,
                   "xas_for_each_alias": True}
    assert load_data().fallback.get("xas_for_each").from_object  # and without headers
    temps = {m.name: m.temp for m in t.macros}
    assert temps["list_for_each_entry_safe"] == 1  # pos = n: the advance reads n
    assert temps["list_for_each_entry"] is None and temps["xas_for_each"] is None
    assert load_data().fallback.get("list_for_each_entry_safe").temp == 1


@pytest.mark.parametrize("frontend", ["tree-sitter", "clang"])
def test_a_files_own_iterator_keeps_its_cursor_position(frontend, tmp_path):
    """``#define for_each_buffer_cpu(buffer, cpu) for_each_cpu(cpu, buffer->cpumask)`` in the
    file itself: the cursor is ``cpu``, not the first argument (which would rename the
    buffer, and the lock held through it, at every step)."""
    text = """
#define for_each_set_bit(bit, addr, size) \\
	for ((bit) = 0; (bit) < (size); (bit)++)
#define for_each_slot(ring, i) for_each_set_bit(i, (ring)->mask, 64)
struct ring { unsigned long mask; int n; };
void ring_clear(struct ring *ring)
{
	int i;

	for_each_slot(ring, i)
		ring->n = 0;
}
"""
    if frontend == "tree-sitter":
        from analyzer.frontend.treesitter import parse_file
        pf = parse_file("ring.c", text, IteratorTable())
    else:
        from analyzer.frontend.clang import BuildConfig, ClangFrontend
        (tmp_path / "ring.c").write_text(text)
        pf = ClangFrontend(BuildConfig.plain(tmp_path), IteratorTable()).parse_file("ring.c", text)
    [fn] = [f for f in pf.functions if f.name == "ring_clear"]
    loops = [s for s in fn.body.body if type(s).__name__ == "IterLoop"]
    assert len(loops) == 1 and loops[0].cursor is not None
    assert loops[0].cursor.id == "i"
