"""Atomic sections with no lock object (analyzer.locks.atomic): nesting counted along every
path, a must-analysis at joins, loops, guards, and a function that leaves its caller's
section."""

from __future__ import annotations

from analyzer.flow.cfg import build_cfg
from analyzer.frontend.rewrite import load_data
from analyzer.frontend.treesitter import parse_file
from analyzer.locks.atomic import closes_callers_section, open_at_calls
from analyzer.model.lockmodel import load

MODEL = load()


def cfg_of(src: str):
    parsed = parse_file("a.c", src, load_data().fallback)
    (fn,) = parsed.functions
    return build_cfg(fn)


def opened(src: str) -> dict[str, list[str]]:
    """Called name → the sections open before it (the name's last call wins)."""
    out: dict[str, list[str]] = {}
    for (_, _, name), sections in open_at_calls(cfg_of(src), MODEL).items():
        out[name] = [o.section.what for o in sections]
    return out


RCU = "an RCU read-side critical section"


def test_nesting_is_counted():
    got = opened("""
void f(void)
{
	rcu_read_lock();
	rcu_read_lock();
	rcu_read_unlock();
	inner();
	rcu_read_unlock();
	outer();
}
""")
    assert got["inner"] == [RCU]
    assert "outer" not in got


def test_open_on_one_path_only_is_not_open():
    got = opened("""
void f(int pin)
{
	if (pin)
		rcu_read_lock();
	middle();
	if (pin)
		rcu_read_unlock();
}
""")
    assert "middle" not in got


def test_loops_converge_and_sections_combine():
    got = opened("""
void f(struct w *w)
{
	unsigned long flags;

	local_irq_save(flags);
	while (w->n) {
		preempt_disable();
		body(w);
		preempt_enable();
	}
	after(w);
	local_irq_restore(flags);
}
""")
    assert set(got["body"]) == {"preemption disabled", "interrupts disabled"}
    assert got["after"] == ["interrupts disabled"]


def test_unbalanced_loop_entry_stays_bounded():
    got = opened("""
void f(struct w *w)
{
	while (w->n)
		rcu_read_lock();
	after(w);
}
""")
    assert "after" not in got  # zero iterations is a path


def test_scoped_guard():
    got = opened("""
void f(void)
{
	scoped_guard(rcu) {
		inside();
	}
	outside();
}
""")
    assert got["inside"] == [RCU]
    assert "outside" not in got


def test_leaving_the_callers_section():
    assert closes_callers_section(cfg_of("""
void f(void)
{
	rcu_read_unlock();
	cond_resched();
	rcu_read_lock();
}
"""), MODEL)
    assert not closes_callers_section(cfg_of("""
void f(void)
{
	rcu_read_lock();
	work();
	rcu_read_unlock();
}
"""), MODEL)
    assert not closes_callers_section(cfg_of("void f(void)\n{\n\twork();\n}\n"), MODEL)
