"""What the rule fixtures cannot say: the lock-order comment parser, the tree as the authority
on the hierarchy, the GFP flag reading, and the central case on the real mm/rmap.c.

Every comment and C snippet here is written for these tests in the kernel's style.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analyzer.model import lockmodel as lockmodel
from analyzer.driver.cache import Cache
from analyzer.syntax.tree import Literal, Name, Unary
from analyzer.checks import CheckContext
from analyzer.locks.naming import const_token
from analyzer.locks.state import value_class
from analyzer.checks.lock_order import class_order, parse_hierarchy, split_names
from analyzer.checks.reclaim_under_lock import reclaim_flag
from analyzer.driver.project import Project
from analyzer.frontend.treesitter import parse_expression
from analyzer.driver.run import Checker
from analyzer.source.reader import TreeSource

MODEL = lockmodel.load()
MARKER = "Lock ordering in mm:"

# Our own comment in the format of mm/rmap.c's: tabs and spaces, names joined by "or" and
# commas, remarks in parentheses that run over two lines, a heading, a second list.
HIERARCHY = """\
/*
 * Lock ordering in mm:
 *
 * outer_sem		(taken by writers only)
 *   middle->lock
 *     leaf_a or leaf_b (in some_function, and in
 *                        another_function when retrying)
 *       innermost
 *     sibling_lock
 *   second_child
 *
 * leaf_a,other->lock   (the reverse case)
 *   ->tail_lock
 *
 * special paths take locks in this order:
 *   innermost
 *     middle->lock
 */
"""


def pairs_of(comment: str) -> set[tuple[str, str]]:
    return set(parse_hierarchy(comment))


def test_deeper_lines_are_taken_inside_every_open_line_above():
    p = pairs_of(HIERARCHY)
    for outer, inner in [("outer_sem", "middle->lock"), ("outer_sem", "leaf_a"),
                         ("outer_sem", "leaf_b"), ("middle->lock", "leaf_b"),
                         ("leaf_a", "innermost"), ("leaf_b", "innermost"),
                         ("outer_sem", "innermost"), ("middle->lock", "sibling_lock"),
                         ("outer_sem", "second_child")]:
        assert (outer, inner) in p, (outer, inner)


def test_siblings_and_names_on_one_line_have_no_order():
    p = pairs_of(HIERARCHY)
    assert ("leaf_a", "leaf_b") not in p and ("leaf_b", "leaf_a") not in p
    assert ("sibling_lock", "innermost") not in p and ("innermost", "sibling_lock") not in p
    assert ("leaf_a", "sibling_lock") not in p
    assert ("middle->lock", "second_child") not in p


def test_remarks_and_their_continuation_lines_are_not_names():
    names = {n for pair in pairs_of(HIERARCHY) for n in pair}
    assert not any("function" in n or "retrying" in n or "writers" in n for n in names)
    assert "innermost" in names


def test_a_blank_line_or_a_heading_starts_a_new_list():
    p = pairs_of(HIERARCHY)
    assert ("leaf_a", "tail_lock") in p and ("other->lock", "tail_lock") in p
    assert ("outer_sem", "tail_lock") not in p  # the first list ended at the blank line
    assert ("innermost", "middle->lock") in p  # from the heading's list
    assert ("leaf_a", "middle->lock") not in p


def test_split_names():
    assert split_names("mm->page_table_lock or pte_lock") == ["mm->page_table_lock", "pte_lock"]
    assert split_names("anon_vma->rwsem,mapping->i_mmap_rwsem") == \
        ["anon_vma->rwsem", "mapping->i_mmap_rwsem"]
    assert split_names("  ->tasklist_lock ") == ["tasklist_lock"]


def test_pairs_stated_both_ways_are_dropped_and_unknown_names_skipped():
    spellings = (("middle->lock", "c.middle"), ("innermost", "c.inner"),
                 ("outer_sem", "c.outer"))
    order = class_order(HIERARCHY, spellings, ())
    assert ("c.outer", "c.middle") in order and ("c.outer", "c.inner") in order
    # the main list says middle → innermost, the heading's list the reverse
    assert ("c.middle", "c.inner") not in order and ("c.inner", "c.middle") not in order


def test_the_fallback_is_used_only_when_the_comment_yields_nothing():
    spellings = (("outer_sem", "c.outer"), ("middle->lock", "c.middle"))
    fallback = (("c.x", "c.y"),)
    assert class_order(HIERARCHY, spellings, fallback) == {("c.outer", "c.middle")}
    assert class_order(None, spellings, fallback) == {("c.x", "c.y")}
    assert class_order("/* Lock ordering in mm:\n */", spellings, fallback) == {("c.x", "c.y")}


# --------------------------------------------------------------------------- tree comments


TREE_ORDER = """\
/*
 * Lock ordering in mm:
 *
 * anon_vma->rwsem
 *   mapping->i_mmap_rwsem
 */
"""

BOTH_LOCKS = """\
struct anon_vma { struct anon_vma *root; struct rw_semaphore rwsem; };
struct address_space { struct rw_semaphore i_mmap_rwsem; };

void file_then_anon(struct address_space *mapping, struct anon_vma *anon_vma)
{
	down_write(&mapping->i_mmap_rwsem);
	down_write(&anon_vma->root->rwsem);
	up_write(&anon_vma->root->rwsem);
	up_write(&mapping->i_mmap_rwsem);
}
"""


def write_tree(root: Path, files: dict[str, str]) -> TreeSource:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return TreeSource(root)


def findings(source: TreeSource, path: str, rule: str | None = None):
    report = Checker(source, MODEL, Cache(None)).check_file(path)
    assert report.status in ("ok", "degraded"), report.error
    return [f for f in report.findings if rule is None or f.rule == rule]


def test_the_analysed_tree_states_the_hierarchy(tmp_path):
    """The same code is in order for our fallback (i_mmap_rwsem outside anon_vma) and out of
    order for a tree whose mm/rmap.c says the reverse: the tree is the authority."""
    plain = write_tree(tmp_path / "a", {"mm/x.c": BOTH_LOCKS})
    assert findings(plain, "mm/x.c", "lock-order") == []
    own = write_tree(tmp_path / "b", {"mm/x.c": BOTH_LOCKS,
                                      "mm/rmap.c": TREE_ORDER + "int rmap_dummy;\n"})
    (f,) = findings(own, "mm/x.c", "lock-order")
    assert (f.line, f.end_line) == (6, 7)
    assert "address_space.i_mmap_rwsem" in f.message and "anon_vma.rwsem" in f.message


def test_the_hierarchy_comment_is_part_of_the_cache_key(tmp_path):
    a = write_tree(tmp_path / "a", {"mm/rmap.c": TREE_ORDER})
    b = write_tree(tmp_path / "b", {"mm/rmap.c": TREE_ORDER.replace("  mapping", "  mm")})
    c = write_tree(tmp_path / "c", {"mm/rmap.c": TREE_ORDER + "int more_code;\n"})
    pa, pb, pc = (Project(s, MODEL) for s in (a, b, c))
    assert pa.tree_comment("mm/rmap.c", MARKER).startswith("/*")
    assert pa.salt != pb.salt  # the comment changed
    assert pa.salt == pc.salt  # only code outside the comment changed


# --------------------------------------------------------------------------- GFP flags

RECLAIM = MODEL.protected.alloc.reclaim
NO_RECLAIM = MODEL.protected.alloc.no_reclaim


@pytest.mark.parametrize("text, flag", [
    ("GFP_KERNEL", "GFP_KERNEL"),
    ("GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN", "GFP_KERNEL"),
    ("(GFP_NOFS)", "GFP_NOFS"),
    ("GFP_NOWAIT | __GFP_NOWARN", None),
    ("GFP_KERNEL | GFP_NOWAIT", None),
    ("GFP_KERNEL & ~__GFP_DIRECT_RECLAIM", None),
    ("GFP_HIGHUSER_MOVABLE & ~(__GFP_RECLAIM | __GFP_IO)", None),
    ("GFP_KERNEL & ~__GFP_IO", "GFP_KERNEL"),
    ("atomic ? GFP_ATOMIC : GFP_KERNEL", "GFP_KERNEL"),
    ("atomic ? GFP_ATOMIC : GFP_NOWAIT", None),
    ("gfp", None),
    ("gfp_mask | __GFP_DIRECT_RECLAIM", "__GFP_DIRECT_RECLAIM"),
    ("current_gfp_context(GFP_KERNEL)", None),  # the nested call's own argument
])
def test_reclaim_flag(text, flag):
    assert reclaim_flag(parse_expression(text), RECLAIM, NO_RECLAIM) == flag


def test_constant_return_values():
    assert const_token(Literal("0")) == "0" and const_token(Name("NULL")) == "NULL"
    assert const_token(Unary("-", Name("EAGAIN"))) == "-EAGAIN"
    assert const_token(Name("VM_FAULT_NOPAGE")) == "VM_FAULT_NOPAGE"
    assert const_token(Name("err")) is None and const_token(Name("dst_vma")) is None
    assert [value_class(t) for t in ("0", "false", "-EAGAIN", "NULL", "nonzero", "1",
                                     "VM_FAULT_NOPAGE")] == \
        ["zero", "zero", "error", "null", "nonzero", "true", None]


# --------------------------------------------------------------------------- the real tree


def test_real_hierarchy_maps_the_rmap_locks(kernel_tree: Path):
    source = TreeSource(kernel_tree)
    comment = Project(source, MODEL).tree_comment("mm/rmap.c", MARKER)
    assert comment is not None and MARKER in comment
    spellings = tuple((s, c.name) for c in MODEL.classes for s in c.order)
    order = class_order(comment, spellings, ())
    for outer, inner in [("mm_struct.mmap_lock", "anon_vma.rwsem"),
                         ("mm_struct.mmap_lock", "address_space.i_mmap_rwsem"),
                         ("address_space.i_mmap_rwsem", "anon_vma.rwsem"),
                         ("anon_vma.rwsem", "mm_struct.page_table_lock"),
                         ("inode.i_rwsem", "mm_struct.mmap_lock"),
                         ("anon_vma.rwsem", "lruvec.lru_lock")]:
        assert (outer, inner) in order, (outer, inner)
        assert (inner, outer) not in order


def test_no_reclaim_finding_on_the_gfp_kernel_retry_of_anon_vma_clone(kernel_tree: Path):
    """The central case: anon_vma_clone() drops the root lock through
    unlock_anon_vma_root() and sets root to NULL before its GFP_KERNEL retry."""
    source = TreeSource(kernel_tree)
    assert [f for f in findings(source, "mm/rmap.c", "reclaim-under-lock")
            if f.function == "anon_vma_clone"] == []
    # the rule did look at the retry: the call is there, and no reclaim-taking lock is held
    project = Project(source, MODEL)
    fa = project.analyse_file("mm/rmap.c")
    ctx = CheckContext(fa, fa.function("anon_vma_clone"), MODEL)
    calls = [ev for ev in ctx.events if ev.kind == "call" and ev.call is not None
             and ev.call.name == "anon_vma_chain_alloc"]
    retry = [ev for ev in calls if "GFP_KERNEL" in str(ev.call.args)]
    first = [ev for ev in calls if "GFP_NOWAIT" in str(ev.call.args)]
    assert retry and first
    assert all(not ev.state.held() for ev in retry)
    assert any(k.cls == "anon_vma.rwsem" for ev in first for k, _ in ev.state.held())


def test_reclaim_under_lock_fires_when_the_retry_keeps_the_lock(kernel_tree: Path, tmp_path):
    """The same file with the drop removed (the shape before the 2011 fix) is reported."""
    text = (kernel_tree / "mm" / "rmap.c").read_text()
    mutated, n = re.subn(r"unlock_anon_vma_root\(root\);\s*root = NULL;\s*"
                         r"(avc = anon_vma_chain_alloc\(GFP_KERNEL\);)", r"\1", text)
    assert n == 1
    kept = write_tree(tmp_path / "kept", {"mm/rmap.c": text})
    broken = write_tree(tmp_path / "broken", {"mm/rmap.c": mutated})
    assert [f for f in findings(kept, "mm/rmap.c", "reclaim-under-lock")
            if f.function == "anon_vma_clone"] == []
    (f,) = [f for f in findings(broken, "mm/rmap.c", "reclaim-under-lock")
            if f.function == "anon_vma_clone"]
    assert "GFP_KERNEL" in f.message and "root->rwsem" in f.message
