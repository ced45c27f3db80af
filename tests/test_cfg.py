"""analyzer.cfg: a catalogue of small named C shapes and the exact CFG each one must give.

In the style of python-graphs' control-flow test programs: every shape below is a short
kernel-style C function (written for these tests), parsed with the tree-sitter frontend and
turned into a CFG; its test asserts concrete blocks, edge kinds, targets, loop records and the
operations seen along every path.

Paths are written as *traces*: the operations of the blocks a path visits, one token each —
the called function for an ``eval``/``decl`` with calls (else the statement text for an
``eval``), ``return``, ``+class``/``-class`` for scope-guard acquire/release, ``advance`` for an
iterator loop moving its cursor. Conditions are not in traces; tests look at them directly.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

import pytest

from analyzer.syntax import tree as C
from analyzer.flow.cfg import Cfg, Edge, EdgeKind, Loop, build_cfg
from analyzer.frontend.rewrite import load_data
from analyzer.frontend.treesitter import parse_file

K = EdgeKind

# --------------------------------------------------------------------------- the shapes

SHAPES: dict[str, str] = {}


def shape(name: str, body: str) -> None:
    SHAPES[name] = body


shape("straight_line", """
static void straight_line(struct foo *f)
{
	prepare(f);
	commit(f);
}
""")

shape("if_then", """
static void if_then(struct foo *f)
{
	if (f->ready)
		start(f);
	finish(f);
}
""")

shape("if_else", """
static int if_else(struct foo *f)
{
	int ret;

	if (f->ready)
		ret = start(f);
	else
		ret = defer(f);
	return ret;
}
""")

shape("else_if_chain", """
static int else_if_chain(int state)
{
	if (state == 1)
		one();
	else if (state == 2)
		two();
	else if (state == 3)
		three();
	else
		other();
	return 0;
}
""")

shape("while_loop", """
static void while_loop(struct foo *f)
{
	setup(f);
	while (pending(f))
		step(f);
	done(f);
}
""")

shape("for_full", """
static void for_full(struct foo *f)
{
	int i;

	for (i = 0; i < f->nr; i++)
		visit(f, i);
	done(f);
}
""")

shape("for_decl_init", """
static void for_decl_init(struct foo *f)
{
	for (int i = 0; i < f->nr; i++)
		visit(f, i);
}
""")

shape("for_no_cond", """
static int for_no_cond(struct foo *f)
{
	int i;

	for (i = 0; ; i++) {
		if (try_slot(f, i))
			break;
	}
	return i;
}
""")

shape("for_no_step", """
static void for_no_step(struct foo *f)
{
	struct page *p;

	for (p = first_page(f); p; )
		p = next_page(f, p);
	done(f);
}
""")

shape("for_forever", """
static void for_forever(struct foo *f)
{
	for (;;) {
		if (poll_once(f))
			break;
		cpu_relax();
	}
	done(f);
}
""")

shape("do_while", """
static void do_while(struct foo *f)
{
	do {
		work(f);
	} while (again(f));
	done(f);
}
""")

# `continue` in each loop kind: (shape, where it must go)
shape("continue_while", """
static void continue_while(struct foo *f)
{
	while (more(f)) {
		if (skip(f))
			continue;
		use(f);
	}
	done(f);
}
""")

shape("continue_for", """
static void continue_for(struct foo *f)
{
	int i;

	for (i = 0; i < f->nr; i++) {
		if (skip(f))
			continue;
		use(f);
	}
	done(f);
}
""")

shape("continue_do", """
static void continue_do(struct foo *f)
{
	do {
		if (skip(f))
			continue;
		use(f);
	} while (more(f));
	done(f);
}
""")

shape("continue_iter", """
static void continue_iter(struct anon_vma *anon_vma)
{
	struct anon_vma_chain *avc;

	list_for_each_entry(avc, &anon_vma->head, same_anon_vma) {
		if (skip(avc))
			continue;
		use(avc);
	}
	done(anon_vma);
}
""")

# `break` out of each loop kind
shape("break_while", """
static void break_while(struct foo *f)
{
	while (more(f)) {
		if (bad(f))
			break;
		use(f);
	}
	done(f);
}
""")

shape("break_for", """
static void break_for(struct foo *f)
{
	int i;

	for (i = 0; i < f->nr; i++) {
		if (bad(f))
			break;
		use(f);
	}
	done(f);
}
""")

shape("break_do", """
static void break_do(struct foo *f)
{
	do {
		if (bad(f))
			break;
		use(f);
	} while (more(f));
	done(f);
}
""")

shape("break_iter", """
static void break_iter(struct anon_vma *anon_vma)
{
	struct anon_vma_chain *avc;

	list_for_each_entry(avc, &anon_vma->head, same_anon_vma) {
		if (bad(avc))
			break;
		use(avc);
	}
	done(anon_vma);
}
""")

shape("switch_default", """
static int switch_default(int op)
{
	int ret;

	switch (op) {
	case OP_READ:
		ret = do_read();
		break;
	case OP_WRITE:
		ret = do_write();
		break;
	default:
		ret = -EINVAL;
	}
	return ret;
}
""")

shape("switch_no_default", """
static void switch_no_default(struct foo *f)
{
	switch (f->mode) {
	case MODE_A:
		mode_a(f);
		break;
	case MODE_B:
		mode_b(f);
		break;
	}
	done(f);
}
""")

shape("switch_fallthrough", """
static void switch_fallthrough(struct foo *f)
{
	switch (f->level) {
	case 2:
		deep(f);
		fallthrough;
	case 1:
		shallow(f);
		break;
	case 0:
	default:
		flat(f);
	}
	done(f);
}
""")

shape("switch_in_loop", """
static void switch_in_loop(struct foo *f)
{
	int i;

	for (i = 0; i < f->nr; i++) {
		switch (kind_of(f, i)) {
		case KIND_SKIP:
			continue;
		case KIND_STOP:
			goto out;
		default:
			handle(f, i);
			break;
		}
		count(f);
	}
	tail(f);
out:
	done(f);
}
""")

shape("nested_loops", """
static void nested_loops(struct foo *f)
{
	int i, j;

	for (i = 0; i < f->rows; i++) {
		while (j < f->cols) {
			if (cell(f, i, j))
				break;
			j++;
		}
		row_done(f, i);
	}
	done(f);
}
""")

shape("nested_iter_loops", """
static void nested_iter_loops(struct mm_struct *mm)
{
	struct vm_area_struct *vma;
	struct anon_vma_chain *avc;

	list_for_each_entry(vma, &mm->vma_list, vm_list) {
		list_for_each_entry(avc, &vma->anon_vma_chain, same_vma)
			visit(avc);
	}
}
""")

shape("goto_error_label", """
static int goto_error_label(struct foo *f)
{
	int err;

	err = alloc_a(f);
	if (err)
		goto out;
	err = alloc_b(f);
	if (err)
		goto err_free_a;
	err = alloc_c(f);
	if (err)
		goto err_free_a;
	return 0;

err_free_a:
	free_a(f);
out:
	return err;
}
""")

shape("goto_retry", """
static int goto_retry(struct foo *f)
{
	int tries = 0;

retry:
	if (!trylock_foo(f)) {
		if (++tries < 3)
			goto retry;
		return -EBUSY;
	}
	work(f);
	unlock_foo(f);
	return 0;
}
""")

shape("goto_out_of_loop", """
static int goto_out_of_loop(struct foo *f)
{
	int i;

	for (i = 0; i < f->nr; i++) {
		if (broken(f, i))
			goto fail;
		fix(f, i);
	}
	return 0;
fail:
	report(f);
	return -EIO;
}
""")

shape("label_comment", """
static int label_comment(struct foo *f)
{
	int ret = 0;

	if (!f)
		goto out;
	if (f->dead)
		goto unlock;
	ret = work(f);
unlock:	/* the lock is dropped on every path */
	unlock_foo(f);
out:
	/* and the caller's reference too */
	put_foo(f);
	return ret;
}
""")

shape("return_in_loop", """
static struct anon_vma_chain *return_in_loop(struct anon_vma *anon_vma,
					      struct vm_area_struct *vma)
{
	struct anon_vma_chain *avc;

	list_for_each_entry(avc, &anon_vma->head, same_anon_vma) {
		if (avc->vma == vma)
			return avc;
	}
	return NULL;
}
""")

shape("unreachable_after_return", """
static int unreachable_after_return(struct foo *f)
{
	if (f->dead)
		return -ENOENT;
	return 0;
	cleanup(f);
}
""")

shape("unreachable_after_break", """
static void unreachable_after_break(struct foo *f)
{
	while (more(f)) {
		break;
		stray(f);
	}
	done(f);
}
""")

shape("iter_list_reverse", """
static int iter_list_reverse(struct vm_area_struct *dst, struct vm_area_struct *src)
{
	struct anon_vma_chain *pavc;

	list_for_each_entry_reverse(pavc, &src->anon_vma_chain, same_vma) {
		struct anon_vma *anon_vma = pavc->anon_vma;

		if (clone_one(dst, anon_vma))
			return -ENOMEM;
	}
	return 0;
}
""")

shape("iter_interval_tree", """
static void iter_interval_tree(struct anon_vma *anon_vma, pgoff_t start, pgoff_t last)
{
	struct anon_vma_chain *avc;

	anon_vma_interval_tree_foreach(avc, &anon_vma->rb_root, start, last) {
		struct vm_area_struct *vma = avc->vma;

		unmap_one(vma);
	}
}
""")

shape("guard_block", """
static int guard_block(struct foo *m)
{
	int ret = 0;

	prepare(m);
	{
		guard(mutex)(&m->lock);
		if (m->dead)
			return -ENOENT;
		if (m->busy)
			goto out;
		if (m->skip)
			goto done;
		work(m);
done:
		finish(m);
	}
	after(m);
out:
	return ret;
}
""")

shape("guard_function_scope", """
static int guard_function_scope(struct foo *f)
{
	guard(spinlock_irqsave)(&f->lock);
	if (f->dead)
		return -ENOENT;
	bump(f);
	return 0;
}
""")

shape("guard_in_loop", """
static void guard_in_loop(struct foo *f)
{
	int i;

	for (i = 0; i < f->nr; i++) {
		guard(mutex)(&f->slot[i].lock);
		if (!f->slot[i].used)
			continue;
		if (f->slot[i].last)
			break;
		use(f, i);
	}
	done(f);
}
""")

shape("guard_switch_case", """
static void guard_switch_case(struct foo *f)
{
	switch (f->mode) {
	case 0:
		idle(f);
		break;
	default:
		prepare(f);
		guard(mutex)(&f->lock);
		run(f);
	}
	done(f);
}
""")

shape("scoped_guard_plain", """
static void scoped_guard_plain(struct foo *f)
{
	scoped_guard(rcu) {
		peek(f);
	}
	done(f);
}
""")

shape("scoped_guard_loop", """
static int scoped_guard_loop(struct foo *f)
{
	int i;

	for (i = 0; i < f->nr; i++) {
		scoped_guard(spinlock, &f->lock) {
			if (f->stop)
				break;
			if (f->error)
				return -EIO;
			seen(f);
		}
		after_guard(f);
	}
	return 0;
}
""")

shape("scoped_cond_guard_args", """
static int scoped_cond_guard_args(struct foo *f)
{
	scoped_cond_guard(mutex_intr, return -EINTR, &f->lock) {
		work(f);
	}
	return 0;
}
""")

shape("ifdef_else", """
static void ifdef_else(struct foo *f)
{
	prepare(f);
#ifdef CONFIG_FOO_DEBUG
	debug_check(f);
#else
	fast_check(f);
#endif
	commit(f);
}
""")

shape("ifdef_no_else", """
static void ifdef_no_else(struct foo *f)
{
	prepare(f);
#ifdef CONFIG_FOO_DEBUG
	debug_check(f);
#endif
	commit(f);
}
""")

shape("if_elif_else", """
static void if_elif_else(struct foo *f)
{
#if defined(CONFIG_A)
	via_a(f);
#elif defined(CONFIG_B)
	via_b(f);
#else
	via_c(f);
#endif
	commit(f);
}
""")


# --------------------------------------------------------------------------- helpers


@lru_cache(maxsize=None)
def function_of(name: str) -> C.Function:
    pf = parse_file(f"{name}.c", SHAPES[name], load_data().fallback)
    assert [f.name for f in pf.functions] == [name]
    return pf.functions[0]


@lru_cache(maxsize=None)
def cfg_of(name: str) -> Cfg:
    return build_cfg(function_of(name))


def edges_of_kind(cfg: Cfg, kind: EdgeKind) -> list[tuple[int, Edge]]:
    return [(src, e) for src, e in cfg.edges() if e.kind == kind]


def kinds_out(cfg: Cfg, block: int) -> list[EdgeKind]:
    return [e.kind for e in cfg.blocks[block].succs]


def target(cfg: Cfg, block: int, kind: EdgeKind) -> int:
    """The one edge of ``kind`` leaving ``block``."""
    ts = [e.target for e in cfg.blocks[block].succs if e.kind == kind]
    assert len(ts) == 1, (block, kind, cfg.blocks[block].succs)
    return ts[0]


def op_tokens(op) -> list[str]:
    calls = [c.name or C.render(c.func) for c in C.calls_in(op.expr)]
    match op.kind:
        case "eval":
            return calls or [C.render(op.expr)]
        case "decl":
            return calls
        case "return":
            return calls + ["return"]
        case "guard_acquire":
            return ["+" + op.lock_class]
        case "guard_release":
            return ["-" + op.lock_class]
        case "advance":
            return ["advance"]
    return [op.kind]


def block_tokens(cfg: Cfg, block: int) -> list[str]:
    return [t for op in cfg.blocks[block].ops for t in op_tokens(op)]


def block_calling(cfg: Cfg, fname: str) -> int:
    """The one block with a call to ``fname`` among its operations."""
    found = [b.id for b in cfg.blocks
             if any(c.name == fname for op in b.ops for c in C.calls_in(op.expr))]
    assert len(found) == 1, (fname, found)
    return found[0]


def cond_block(cfg: Cfg, text: str) -> int:
    """The one block whose condition renders as ``text``."""
    found = [b.id for b in cfg.blocks if b.cond is not None and C.render(b.cond) == text]
    assert len(found) == 1, (text, found)
    return found[0]


def paths(cfg: Cfg, *, loops: bool = False) -> list[tuple[int, ...]]:
    """Every path entry → exit as block ids. For a loop-free shape (the default) a cycle is
    an assertion failure; with ``loops=True``, the simple paths (no block twice)."""
    out: list[tuple[int, ...]] = []

    def walk(b: int, path: tuple[int, ...]) -> None:
        if b in path:
            assert loops, f"cycle through block {b} in a loop-free shape: {path}"
            return
        path = path + (b,)
        if b == cfg.exit:
            out.append(path)
            return
        for e in cfg.blocks[b].succs:
            walk(e.target, path)

    walk(cfg.entry, ())
    return out


def trace(cfg: Cfg, path: tuple[int, ...]) -> tuple[str, ...]:
    return tuple(t for b in path for t in block_tokens(cfg, b))


def traces(cfg: Cfg, *, loops: bool = False) -> Counter:
    return Counter(trace(cfg, p) for p in paths(cfg, loops=loops))


def iteration_traces(cfg: Cfg, lp: Loop) -> Counter:
    """One trip through a loop: every path from the header's TRUE successor until it is back
    at the header (ends with ``"<back>"``) or leaves the loop body (``"<out>"``)."""
    out: Counter = Counter()

    def walk(b: int, toks: tuple[str, ...], seen: frozenset[int]) -> None:
        if b == lp.header:
            out[toks + ("<back>",)] += 1
            return
        if b not in lp.body:
            out[toks + ("<out>",)] += 1
            return
        assert b not in seen, f"inner cycle through block {b}"
        toks = toks + tuple(block_tokens(cfg, b))
        for e in cfg.blocks[b].succs:
            walk(e.target, toks, seen | {b})

    walk(target(cfg, lp.header, K.TRUE), (), frozenset())
    return out


def loop_of(cfg: Cfg) -> Loop:
    assert len(cfg.loops) == 1, cfg.loops
    return cfg.loops[0]


def reaches(cfg: Cfg, src: int, dst: int) -> bool:
    seen, todo = {src}, [src]
    while todo:
        b = todo.pop()
        for e in cfg.blocks[b].succs:
            if e.target == dst:
                return True
            if e.target not in seen:
                seen.add(e.target)
                todo.append(e.target)
    return False


# --------------------------------------------------------------------------- invariants


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shape_parses_cleanly(name):
    fn = function_of(name)
    assert not fn.degraded
    assert not any(isinstance(s, C.Unparsed) for s in fn.body.body)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_structural_invariants(name):
    cfg = cfg_of(name)
    n = len(cfg.blocks)
    assert [b.id for b in cfg.blocks] == list(range(n))
    assert cfg.entry == 0 and cfg.exit == 1
    assert cfg.blocks[cfg.exit].succs == () and cfg.blocks[cfg.exit].ops == ()
    for src, e in cfg.edges():
        assert 0 <= e.target < n
        # RETURN edges, and only they, reach the exit block
        assert (e.kind == K.RETURN) == (e.target == cfg.exit), (src, e)
    for b in cfg.blocks:
        ks = sorted(k.value for k in kinds_out(cfg, b.id))
        if b.cond is None:
            assert len(b.succs) <= 1, b
        elif K.SWITCH in kinds_out(cfg, b.id):
            assert set(kinds_out(cfg, b.id)) == {K.SWITCH}
        else:  # if/loop condition, or do-while condition whose TRUE outcome is BACK
            assert ks in (["false", "true"], ["back", "false"]), b
    # every block but the exit leaves somewhere (a return, a jump or a fall)
    assert all(cfg.blocks[b].succs for b in range(n) if b != cfg.exit)
    assert cfg.exit in cfg.reachable()
    for i, lp in enumerate(cfg.loops):
        assert lp.id == i
        assert lp.header in lp.body and lp.exit not in lp.body
        assert lp.back_edges
        for src in lp.back_edges:
            assert src in lp.body
            # a loop statement goes back by BACK/CONTINUE; a backward goto by its GOTO
            kinds = (K.GOTO,) if lp.kind == "goto" else (K.BACK, K.CONTINUE)
            assert any(e.target == lp.header and e.kind in kinds
                       for e in cfg.blocks[src].succs)
    # BACK edges go to the header of a loop containing their source
    for src, e in edges_of_kind(cfg, K.BACK):
        assert any(lp.header == e.target and src in lp.body for lp in cfg.loops), (src, e)
    for b in cfg.labels.values():
        assert 0 <= b < n


def test_every_edge_kind_is_covered():
    seen = {e.kind for name in SHAPES for _, e in cfg_of(name).edges()}
    assert seen == set(EdgeKind)


# --------------------------------------------------------------------------- straight code, if


def test_straight_line():
    cfg = cfg_of("straight_line")
    assert block_tokens(cfg, cfg.entry) == ["prepare", "commit"]
    assert cfg.blocks[cfg.entry].succs == (Edge(K.RETURN, cfg.exit),)
    assert cfg.reachable() == {cfg.entry, cfg.exit}
    assert traces(cfg) == Counter({("prepare", "commit"): 1})


def test_if_then():
    cfg = cfg_of("if_then")
    head = cond_block(cfg, "f->ready")
    assert kinds_out(cfg, head) == [K.TRUE, K.FALSE]
    then = target(cfg, head, K.TRUE)
    assert block_tokens(cfg, then) == ["start"]
    join = target(cfg, head, K.FALSE)
    assert target(cfg, then, K.FALL) == join
    assert block_tokens(cfg, join) == ["finish"]
    assert traces(cfg) == Counter({("start", "finish"): 1, ("finish",): 1})


def test_if_else():
    cfg = cfg_of("if_else")
    head = cond_block(cfg, "f->ready")
    t, f = target(cfg, head, K.TRUE), target(cfg, head, K.FALSE)
    assert block_tokens(cfg, t) == ["start"] and block_tokens(cfg, f) == ["defer"]
    assert target(cfg, t, K.FALL) == target(cfg, f, K.FALL)
    assert block_tokens(cfg, target(cfg, t, K.FALL)) == ["return"]
    assert traces(cfg) == Counter({("start", "return"): 1, ("defer", "return"): 1})


def test_else_if_chain():
    cfg = cfg_of("else_if_chain")
    c1, c2, c3 = (cond_block(cfg, f"state == {i}") for i in (1, 2, 3))
    assert target(cfg, c1, K.FALSE) == c2
    assert target(cfg, c2, K.FALSE) == c3
    assert [block_tokens(cfg, target(cfg, c, K.TRUE)) for c in (c1, c2, c3)] == \
        [["one"], ["two"], ["three"]]
    assert block_tokens(cfg, target(cfg, c3, K.FALSE)) == ["other"]
    assert sum(b.cond is not None for b in cfg.blocks) == 3
    assert traces(cfg) == Counter({(x, "return"): 1 for x in ("one", "two", "three", "other")})


# --------------------------------------------------------------------------- loops


def test_while_loop():
    cfg = cfg_of("while_loop")
    lp = loop_of(cfg)
    assert lp.kind == "while" and lp.macro is None and lp.iterated is None
    assert C.render(cfg.blocks[lp.header].cond) == "pending(f)"
    assert target(cfg, block_calling(cfg, "setup"), K.FALL) == lp.header
    body = target(cfg, lp.header, K.TRUE)
    assert block_tokens(cfg, body) == ["step"]
    assert target(cfg, body, K.BACK) == lp.header
    assert target(cfg, lp.header, K.FALSE) == lp.exit == block_calling(cfg, "done")
    assert lp.body == {lp.header, body}
    assert lp.back_edges == (body,)
    assert len(edges_of_kind(cfg, K.BACK)) == 1


def test_for_full():
    cfg = cfg_of("for_full")
    lp = loop_of(cfg)
    assert lp.kind == "for"
    pre = cfg.entry
    assert block_tokens(cfg, pre) == ["i = 0"]  # the init runs once, before the header
    assert target(cfg, pre, K.FALL) == lp.header and pre not in lp.body
    assert C.render(cfg.blocks[lp.header].cond) == "i < f->nr"
    assert cfg.blocks[lp.header].ops == ()
    body = target(cfg, lp.header, K.TRUE)
    assert block_tokens(cfg, body) == ["visit"]
    step = target(cfg, body, K.FALL)
    assert block_tokens(cfg, step) == ["i++"]
    assert cfg.blocks[step].succs == (Edge(K.BACK, lp.header),)
    assert lp.body == {lp.header, body, step}
    assert lp.back_edges == (step,)
    assert block_tokens(cfg, lp.exit) == ["done"]


def test_for_decl_init():
    cfg = cfg_of("for_decl_init")
    lp = loop_of(cfg)
    (decl,) = [op for op in cfg.blocks[cfg.entry].ops if op.kind == "decl"]
    assert (decl.name, decl.type, C.render(decl.expr)) == ("i", "int", "0")
    assert target(cfg, cfg.entry, K.FALL) == lp.header
    assert C.render(cfg.blocks[lp.header].cond) == "i < f->nr"
    assert block_tokens(cfg, lp.back_edges[0]) == ["i++"]


def test_for_without_condition():
    cfg = cfg_of("for_no_cond")
    lp = loop_of(cfg)
    cond = cfg.blocks[lp.header].cond
    assert isinstance(cond, C.Literal) and cond.text == "1"  # `for (;;)`-like: always true
    ((src, brk),) = edges_of_kind(cfg, K.BREAK)
    assert src in lp.body and brk.target == lp.exit
    assert target(cfg, cond_block(cfg, "try_slot(f, i)"), K.TRUE) == src
    assert block_tokens(cfg, lp.exit) == ["return"]
    (step,) = lp.back_edges
    assert block_tokens(cfg, step) == ["i++"]


def test_for_without_step():
    cfg = cfg_of("for_no_step")
    lp = loop_of(cfg)
    assert block_tokens(cfg, cfg.entry) == ["first_page"]
    assert C.render(cfg.blocks[lp.header].cond) == "p"
    body = target(cfg, lp.header, K.TRUE)
    assert block_tokens(cfg, body) == ["next_page"]
    # no step block: the body itself jumps back
    assert cfg.blocks[body].succs == (Edge(K.BACK, lp.header),)
    assert lp.body == {lp.header, body}
    assert block_tokens(cfg, lp.exit) == ["done"]


def test_for_forever():
    cfg = cfg_of("for_forever")
    lp = loop_of(cfg)
    assert C.render(cfg.blocks[lp.header].cond) == "1"
    assert cfg.blocks[cfg.entry].ops == () and target(cfg, cfg.entry, K.FALL) == lp.header
    (relax,) = lp.back_edges
    assert block_tokens(cfg, relax) == ["cpu_relax"]
    ((src, _),) = edges_of_kind(cfg, K.BREAK)
    assert target(cfg, src, K.BREAK) == lp.exit == block_calling(cfg, "done")


def test_do_while():
    cfg = cfg_of("do_while")
    lp = loop_of(cfg)
    assert lp.kind == "do"
    assert lp.header == block_calling(cfg, "work")  # the body runs first
    assert target(cfg, cfg.entry, K.FALL) == lp.header
    cb = cond_block(cfg, "again(f)")
    assert target(cfg, lp.header, K.FALL) == cb
    # the condition block jumps back on TRUE (a BACK edge carrying the outcome) and leaves on FALSE
    back, leave = cfg.blocks[cb].succs
    assert (back.kind, back.target) == (K.BACK, lp.header) and back.case is not None
    assert (leave.kind, leave.target) == (K.FALSE, lp.exit)
    assert edges_of_kind(cfg, K.TRUE) == []
    assert lp.back_edges == (cb,)
    assert lp.body == {lp.header, cb}
    assert block_tokens(cfg, lp.exit) == ["done"]


CONTINUE_TARGET = {  # shape -> what `continue` jumps to
    "continue_while": "header",
    "continue_for": "step",
    "continue_do": "cond",
    "continue_iter": "header",
}


@pytest.mark.parametrize("name", sorted(CONTINUE_TARGET))
def test_continue_targets(name):
    cfg = cfg_of(name)
    lp = loop_of(cfg)
    ((src, e),) = edges_of_kind(cfg, K.CONTINUE)
    assert src in lp.body
    assert cfg.blocks[src].ops == ()
    assert target(cfg, cond_block(cfg, "skip(f)" if "iter" not in name else "skip(avc)"),
                  K.TRUE) == src
    use = block_calling(cfg, "use")
    where = CONTINUE_TARGET[name]
    if where == "header":
        assert e.target == lp.header
        assert set(lp.back_edges) == {src, use}  # the continue and the end of the body
    elif where == "step":
        assert e.target != lp.header and block_tokens(cfg, e.target) == ["i++"]
        assert target(cfg, use, K.FALL) == e.target
        assert lp.back_edges == (e.target,)
    else:
        assert e.target == cond_block(cfg, "more(f)") != lp.header
        assert target(cfg, use, K.FALL) == e.target
        assert lp.back_edges == (e.target,)
    assert e.target in lp.body
    if name == "continue_iter":
        assert [op.kind for op in cfg.blocks[e.target].ops] == ["advance"]


@pytest.mark.parametrize("name", ["break_while", "break_for", "break_do", "break_iter"])
def test_break_leaves_the_loop(name):
    cfg = cfg_of(name)
    lp = loop_of(cfg)
    ((src, e),) = edges_of_kind(cfg, K.BREAK)
    assert src in lp.body and e.target == lp.exit
    assert target(cfg, cond_block(cfg, "bad(avc)" if "iter" in name else "bad(f)"),
                  K.TRUE) == src
    assert block_tokens(cfg, lp.exit) == ["done"]
    assert block_calling(cfg, "use") in lp.body
    # the loop's normal exit joins the break target
    preds = {s for s, x in cfg.edges() if x.target == lp.exit}
    assert src in preds and len(preds) == 2


def test_nested_loops():
    cfg = cfg_of("nested_loops")
    outer, inner = cfg.loops
    assert (outer.id, outer.kind, inner.id, inner.kind) == (0, "for", 1, "while")
    assert inner.body < outer.body  # proper subset
    assert inner.header in outer.body and inner.exit in outer.body
    assert outer.exit not in inner.body
    ((src, brk),) = edges_of_kind(cfg, K.BREAK)
    assert src in inner.body and brk.target == inner.exit
    assert inner.exit == block_calling(cfg, "row_done")
    assert cfg.loops_containing(cond_block(cfg, "cell(f, i, j)")) == [outer, inner]
    assert cfg.loops_containing(inner.exit) == [outer]
    assert cfg.loops_containing(outer.exit) == []
    assert outer.exit == block_calling(cfg, "done")
    assert len(edges_of_kind(cfg, K.BACK)) == 2


def test_nested_iterator_loops_have_distinct_ids():
    cfg = cfg_of("nested_iter_loops")
    outer, inner = cfg.loops
    assert (outer.id, inner.id) == (0, 1)
    assert C.render(outer.iterated) == "&mm->vma_list" and C.render(outer.cursor) == "vma"
    assert C.render(inner.iterated) == "&vma->anon_vma_chain"
    assert C.render(inner.cursor) == "avc"
    for lp in (outer, inner):
        (adv,) = cfg.blocks[lp.header].ops
        assert adv.kind == "advance" and adv.loop == lp.id
        assert adv.expr == lp.cursor
    assert inner.body < outer.body


# --------------------------------------------------------------------------- switch


def test_switch_with_default():
    cfg = cfg_of("switch_default")
    head = cfg.entry
    assert C.render(cfg.blocks[head].cond) == "op"
    sw = [e for e in cfg.blocks[head].succs]
    assert [e.kind for e in sw] == [K.SWITCH] * 3
    assert [C.render(e.case) for e in sw] == ["OP_READ", "OP_WRITE", "default"]
    brks = edges_of_kind(cfg, K.BREAK)
    assert len(brks) == 2
    (after,) = {e.target for _, e in brks}
    assert block_tokens(cfg, after) == ["return"]
    assert after not in {e.target for e in sw}  # a default: no edge straight past the cases
    assert target(cfg, sw[2].target, K.FALL) == after
    assert [block_tokens(cfg, e.target) for e in sw] == \
        [["do_read"], ["do_write"], ["ret = -EINVAL"]]
    assert traces(cfg) == Counter({("do_read", "return"): 1, ("do_write", "return"): 1,
                                   ("ret = -EINVAL", "return"): 1})


def test_switch_without_default():
    cfg = cfg_of("switch_no_default")
    sw = cfg.blocks[cfg.entry].succs
    assert [e.kind for e in sw] == [K.SWITCH] * 3
    assert [C.render(e.case) if e.case is not None else None for e in sw] == \
        ["MODE_A", "MODE_B", None]
    after = block_calling(cfg, "done")
    assert sw[2].target == after  # no match: straight past the switch
    assert {e.target for _, e in edges_of_kind(cfg, K.BREAK)} == {after}
    assert traces(cfg) == Counter({("mode_a", "done"): 1, ("mode_b", "done"): 1, ("done",): 1})


def test_switch_fallthrough():
    cfg = cfg_of("switch_fallthrough")
    sw = cfg.blocks[cfg.entry].succs
    assert [C.render(e.case) for e in sw] == ["2", "1", "0", "default"]
    deep, shallow, zero, dflt = (e.target for e in sw)
    assert target(cfg, deep, K.FALL) == shallow  # case 2 falls into case 1
    assert target(cfg, zero, K.FALL) == dflt  # an empty case falls into the next label
    assert cfg.blocks[zero].ops == ()
    after = block_calling(cfg, "done")
    assert target(cfg, shallow, K.BREAK) == after
    assert target(cfg, dflt, K.FALL) == after
    assert traces(cfg) == Counter({("deep", "fallthrough", "shallow", "done"): 1,
                                   ("shallow", "done"): 1, ("flat", "done"): 2})


def test_switch_in_loop():
    cfg = cfg_of("switch_in_loop")
    lp = loop_of(cfg)
    head = cond_block(cfg, "kind_of(f, i)")
    assert head in lp.body and lp.header != head
    ((_, brk),) = edges_of_kind(cfg, K.BREAK)
    assert brk.target == block_calling(cfg, "count")  # break leaves the switch, not the loop
    ((_, cont),) = edges_of_kind(cfg, K.CONTINUE)
    assert block_tokens(cfg, cont.target) == ["i++"] and cont.target in lp.body
    ((gsrc, gto),) = edges_of_kind(cfg, K.GOTO)
    assert gsrc in lp.body and gto.target == cfg.labels["out"]
    assert cfg.labels["out"] not in lp.body
    assert block_tokens(cfg, cfg.labels["out"]) == ["done"]
    assert target(cfg, lp.exit, K.FALL) == cfg.labels["out"]
    assert block_tokens(cfg, lp.exit) == ["tail"]


# --------------------------------------------------------------------------- goto, labels


def test_goto_error_label():
    cfg = cfg_of("goto_error_label")
    gotos = edges_of_kind(cfg, K.GOTO)
    assert Counter(e.target for _, e in gotos) == Counter(
        {cfg.labels["err_free_a"]: 2, cfg.labels["out"]: 1})
    preds = cfg.preds()
    free = cfg.labels["err_free_a"]
    assert [e.kind for _, e in preds[free]] == [K.GOTO, K.GOTO]  # `return 0` before it
    assert block_tokens(cfg, free) == ["free_a"]
    out = cfg.labels["out"]
    assert sorted(e.kind.value for _, e in preds[out]) == ["fall", "goto"]
    assert target(cfg, free, K.FALL) == out
    assert traces(cfg) == Counter({
        ("alloc_a", "return"): 1,
        ("alloc_a", "alloc_b", "free_a", "return"): 1,
        ("alloc_a", "alloc_b", "alloc_c", "free_a", "return"): 1,
        ("alloc_a", "alloc_b", "alloc_c", "return"): 1,
    })


def test_goto_backward_retry():
    cfg = cfg_of("goto_retry")
    retry = cfg.labels["retry"]
    assert C.render(cfg.blocks[retry].cond) == "!trylock_foo(f)"
    ((src, g),) = edges_of_kind(cfg, K.GOTO)
    assert g.target == retry
    assert reaches(cfg, retry, src)  # a cycle made by goto ...
    (lp,) = cfg.loops  # ... is a loop, for every loop rule, though no loop statement
    assert lp.kind == "goto" and lp.header == retry and lp.back_edges == (src,)
    assert src in lp.body and retry in lp.body and cfg.exit not in lp.body
    assert lp.exit not in lp.body
    assert edges_of_kind(cfg, K.BACK) == []
    assert sorted(e.kind.value for _, e in cfg.preds()[retry]) == ["fall", "goto"]
    with pytest.raises(AssertionError, match="cycle"):
        paths(cfg)
    assert traces(cfg, loops=True) == Counter({
        ("return",): 1, ("work", "unlock_foo", "return"): 1})


def test_goto_out_of_loop_is_not_in_the_loop():
    cfg = cfg_of("goto_out_of_loop")
    lp = loop_of(cfg)
    fail = cfg.labels["fail"]
    ((src, g),) = edges_of_kind(cfg, K.GOTO)
    assert src in lp.body and g.target == fail
    assert fail not in lp.body
    assert cfg.loops_containing(fail) == []
    assert block_tokens(cfg, fail) == ["report", "return"]
    assert lp.body == {lp.header, src, cond_block(cfg, "broken(f, i)"),
                       block_calling(cfg, "fix"), lp.back_edges[0]}


def test_labels_followed_by_comments():
    fn = function_of("label_comment")
    cfg = cfg_of("label_comment")
    assert set(cfg.labels) == {"unlock", "out"}
    assert block_tokens(cfg, cfg.labels["unlock"]) == ["unlock_foo"]
    assert block_tokens(cfg, cfg.labels["out"]) == ["put_foo", "return"]
    assert target(cfg, cfg.labels["unlock"], K.FALL) == cfg.labels["out"]
    comments = [text for _, text in fn.comments]
    assert "/* the lock is dropped on every path */" in comments
    assert "/* and the caller's reference too */" in comments
    assert traces(cfg) == Counter({
        ("put_foo", "return"): 1,
        ("unlock_foo", "put_foo", "return"): 1,
        ("work", "unlock_foo", "put_foo", "return"): 1,
    })


def test_return_inside_loop():
    cfg = cfg_of("return_in_loop")
    lp = loop_of(cfg)
    rets = edges_of_kind(cfg, K.RETURN)
    assert len(rets) == 2
    inside = [s for s, _ in rets if s in lp.body]
    assert len(inside) == 1
    (op,) = cfg.blocks[inside[0]].ops
    assert op.kind == "return" and C.render(op.expr) == "avc"
    assert target(cfg, cond_block(cfg, "avc->vma == vma"), K.TRUE) == inside[0]
    (last,) = cfg.blocks[lp.exit].ops
    assert last.kind == "return" and C.render(last.expr) == "NULL"
    assert cfg.blocks[lp.exit].succs == (Edge(K.RETURN, cfg.exit),)


def test_code_after_return_is_unreachable():
    cfg = cfg_of("unreachable_after_return")
    dead = block_calling(cfg, "cleanup")
    assert dead not in cfg.reachable()
    assert len(cfg.reachable()) == len(cfg.blocks) - 1  # only that block
    assert traces(cfg) == Counter({("return",): 2})


def test_code_after_break_is_unreachable():
    cfg = cfg_of("unreachable_after_break")
    lp = loop_of(cfg)
    stray = block_calling(cfg, "stray")
    assert stray not in cfg.reachable()
    assert stray in lp.body  # lexically still in the loop
    ((src, e),) = edges_of_kind(cfg, K.BREAK)
    assert src == target(cfg, lp.header, K.TRUE) and e.target == lp.exit
    assert block_calling(cfg, "done") in cfg.reachable()


# --------------------------------------------------------------------------- iterator macros


def test_iterator_list_for_each_entry_reverse():
    fn = function_of("iter_list_reverse")
    (it,) = [s for s in fn.body.body if isinstance(s, C.IterLoop)]
    assert [C.render(a) for a in it.args] == ["pavc", "&src->anon_vma_chain", "same_vma"]
    cfg = cfg_of("iter_list_reverse")
    lp = loop_of(cfg)
    assert lp.kind == "iter" and lp.macro == "list_for_each_entry_reverse"
    assert C.render(lp.iterated) == "&src->anon_vma_chain"
    assert C.render(lp.cursor) == "pavc"
    (adv,) = cfg.blocks[lp.header].ops
    assert adv.kind == "advance" and adv.loop == lp.id
    assert adv.name == "list_for_each_entry_reverse" and C.render(adv.expr) == "pavc"
    assert kinds_out(cfg, lp.header) == [K.TRUE, K.FALSE]
    body = target(cfg, lp.header, K.TRUE)
    assert [op.name for op in cfg.blocks[body].ops] == ["anon_vma"]  # the decl
    ((ret_src, _),) = [(s, e) for s, e in edges_of_kind(cfg, K.RETURN) if s in lp.body]
    assert block_tokens(cfg, ret_src) == ["return"]
    assert lp.back_edges == (target(cfg, cond_block(cfg, "clone_one(dst, anon_vma)"), K.FALSE),)


def test_iterator_interval_tree_foreach():
    cfg = cfg_of("iter_interval_tree")
    lp = loop_of(cfg)
    assert lp.kind == "iter" and lp.macro == "anon_vma_interval_tree_foreach"
    assert C.render(lp.iterated) == "&anon_vma->rb_root"
    assert C.render(lp.cursor) == "avc"
    body = target(cfg, lp.header, K.TRUE)
    assert block_tokens(cfg, body) == ["unmap_one"]
    assert lp.back_edges == (body,)
    assert traces(cfg, loops=True) == Counter({("advance",): 1})  # the body only loops back


# --------------------------------------------------------------------------- scope guards


def guard_tokens(t: tuple[str, ...]) -> list[str]:
    return [x for x in t if x[0] in "+-"]


def test_guard_released_on_every_exit_from_its_block():
    cfg = cfg_of("guard_block")
    got = traces(cfg)
    assert got == Counter({
        ("prepare", "+mutex", "return", "-mutex"): 1,  # early return
        ("prepare", "+mutex", "-mutex", "return"): 1,  # goto out of the block
        ("prepare", "+mutex", "finish", "-mutex", "after", "return"): 1,  # goto inside it
        ("prepare", "+mutex", "work", "finish", "-mutex", "after", "return"): 1,
    })
    for t in got:
        assert guard_tokens(t) == ["+mutex", "-mutex"]  # exactly once per path
    releases = [(b.id, op) for b in cfg.blocks for op in b.ops if op.kind == "guard_release"]
    assert len(releases) == 3
    # the goto that stays in the block releases nothing
    done = cfg.labels["done"]
    (g,) = [s for s, e in edges_of_kind(cfg, K.GOTO) if e.target == done]
    assert cfg.blocks[g].ops == ()
    (out_src,) = [s for s, e in edges_of_kind(cfg, K.GOTO) if e.target == cfg.labels["out"]]
    assert block_tokens(cfg, out_src) == ["-mutex"]
    for _, op in releases:
        assert [C.render(a) for a in op.args] == ["&m->lock"]


def test_guard_at_function_scope():
    cfg = cfg_of("guard_function_scope")
    (acq,) = [op for b in cfg.blocks for op in b.ops if op.kind == "guard_acquire"]
    assert acq.lock_class == "spinlock_irqsave" and [C.render(a) for a in acq.args] == \
        ["&f->lock"]
    assert traces(cfg) == Counter({
        ("+spinlock_irqsave", "return", "-spinlock_irqsave"): 1,
        ("+spinlock_irqsave", "bump", "return", "-spinlock_irqsave"): 1,
    })


def test_guard_in_loop_body_released_on_continue_break_and_end():
    cfg = cfg_of("guard_in_loop")
    lp = loop_of(cfg)
    rel = [b.id for b in cfg.blocks if any(op.kind == "guard_release" for op in b.ops)]
    assert len(rel) == 3
    kinds = sorted(kinds_out(cfg, b)[0].value for b in rel)
    assert kinds == ["break", "continue", "fall"]
    for b in rel:
        assert b in lp.body and block_tokens(cfg, b)[-1] == "-mutex"
    assert block_tokens(cfg, lp.header) == [] and "-mutex" not in block_tokens(cfg, lp.exit)
    assert iteration_traces(cfg, lp) == Counter({
        ("+mutex", "-mutex", "i++", "<back>"): 1,  # continue
        ("+mutex", "-mutex", "<out>"): 1,  # break
        ("+mutex", "use", "-mutex", "i++", "<back>"): 1,
    })


def test_guard_in_last_switch_case_released_when_falling_out():
    cfg = cfg_of("guard_switch_case")
    assert traces(cfg) == Counter({
        ("idle", "done"): 1,
        ("prepare", "+mutex", "run", "-mutex", "done"): 1,
    })


def test_scoped_guard_plain():
    fn = function_of("scoped_guard_plain")
    (sg,) = [s for s in fn.body.body if isinstance(s, C.ScopedGuard)]
    assert sg.lock_class == "rcu" and sg.args == ()
    cfg = cfg_of("scoped_guard_plain")
    assert traces(cfg) == Counter({("+rcu", "peek", "-rcu", "done"): 1})


def test_scoped_guard_with_break_and_return():
    cfg = cfg_of("scoped_guard_loop")
    lp = loop_of(cfg)
    (acq,) = [op for b in cfg.blocks for op in b.ops if op.kind == "guard_acquire"]
    assert acq.lock_class == "spinlock" and [C.render(a) for a in acq.args] == ["&f->lock"]
    ((bsrc, brk),) = edges_of_kind(cfg, K.BREAK)
    # scoped_guard() is a one-shot for loop in cleanup.h: `break` leaves the guard only
    assert brk.target == block_calling(cfg, "after_guard")
    assert brk.target != lp.exit
    assert block_tokens(cfg, bsrc) == ["-spinlock"]
    (rsrc,) = [s for s, _ in edges_of_kind(cfg, K.RETURN) if s in lp.body]
    assert block_tokens(cfg, rsrc) == ["return", "-spinlock"]
    rel = [b.id for b in cfg.blocks for op in b.ops if op.kind == "guard_release"]
    assert len(rel) == 3  # break, return, end of the body
    assert "-spinlock" not in block_tokens(cfg, block_calling(cfg, "after_guard"))
    assert iteration_traces(cfg, lp) == Counter({
        ("+spinlock", "-spinlock", "after_guard", "i++", "<back>"): 1,  # break
        ("+spinlock", "return", "-spinlock", "<out>"): 1,  # return -EIO
        ("+spinlock", "seen", "-spinlock", "after_guard", "i++", "<back>"): 1,
    })
    assert traces(cfg, loops=True) == Counter({
        ("i = 0", "return"): 1, ("i = 0", "+spinlock", "return", "-spinlock"): 1})


def test_scoped_cond_guard_arguments_skip_the_failure_action():
    fn = function_of("scoped_cond_guard_args")
    (sg,) = [s for s in fn.body.body if isinstance(s, C.ScopedGuard)]
    assert sg.lock_class == "mutex_intr"
    assert [C.render(a) for a in sg.args] == ["&f->lock"]
    cfg = cfg_of("scoped_cond_guard_args")
    assert traces(cfg) == Counter({("+mutex_intr", "work", "-mutex_intr", "return"): 1})


# --------------------------------------------------------------------------- preprocessor


def test_ifdef_else_both_branches_are_paths():
    cfg = cfg_of("ifdef_else")
    assert traces(cfg) == Counter({("prepare", "debug_check", "commit"): 1,
                                   ("prepare", "fast_check", "commit"): 1})
    (c,) = [b for b in cfg.blocks if b.cond is not None]
    assert "CONFIG_FOO_DEBUG" in C.render(c.cond)


def test_ifdef_without_else():
    cfg = cfg_of("ifdef_no_else")
    assert traces(cfg) == Counter({("prepare", "debug_check", "commit"): 1,
                                   ("prepare", "commit"): 1})


def test_if_elif_else():
    cfg = cfg_of("if_elif_else")
    assert traces(cfg) == Counter({("via_a", "commit"): 1, ("via_b", "commit"): 1,
                                   ("via_c", "commit"): 1})
    assert sum(b.cond is not None for b in cfg.blocks) == 2
