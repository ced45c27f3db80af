"""Constant conditions of summaries: integer expressions, object-like macros, and the
conditions on a helper's flags that its cases keep (analyzer.syntax.consteval,
analyzer.frontend.macros.object_macros, analyzer.locks.summaries)."""

from __future__ import annotations

from analyzer.frontend.macros import object_macros
from analyzer.frontend.treesitter import parse_expression
from analyzer.locks.summaries import _conditioned
from analyzer.locks.summary import Effect, SumCase
from analyzer.model.enums import Action, Mode
from analyzer.syntax import tree as C
from analyzer.syntax.consteval import literal, value
from analyzer.syntax.consteval import tests_only as on_values_only
from analyzer.syntax.exprs import substitute

MACROS = {"EXCL": "(1u << 0)", "SHARED": "(1u << 1)", "BOTH": "(EXCL | SHARED)",
          "SELF": "SELF", "ODD": "x + 1"}


def lookup(name: str, depth: int = 0) -> int | None:
    text = MACROS.get(name)
    if text is None or depth > 4:
        return None
    return value(parse_expression(text), lambda n: lookup(n, depth + 1))


def v(text: str, **bound: str) -> int | None:
    bound_e = substitute(parse_expression(text),
                         {k: parse_expression(b) for k, b in bound.items()})
    return value(bound_e, lookup, frozenset({"likely", "unlikely"}))


def test_literals_in_every_base_and_suffix():
    assert [literal(t) for t in ("0x10", "010", "1u", "7UL", "0", "'a'", "1.5")] == \
        [16, 8, 1, 7, 0, None, None]


def test_operators_macros_and_bound_parameters():
    assert v("flags & EXCL", flags="EXCL") == 1
    assert v("flags & SHARED", flags="EXCL") == 0
    assert v("flags & SHARED", flags="EXCL | SHARED") == 2
    assert v("(flags & BOTH) == BOTH", flags="SHARED") == 0
    assert v("!(flags & EXCL)", flags="(unsigned int)EXCL") == 0
    assert v("unlikely(flags > 1)", flags="2") == 1
    assert v("~0u >> 60") == 15
    assert v("-7 / 2") == -3 and v("-7 % 2") == -1
    assert v("flags ? EXCL : SHARED", flags="0") == 2


def test_what_the_text_does_not_decide_is_unknown():
    assert v("flags & EXCL") is None  # not bound: a variable
    assert v("flags & EXCL", flags="mode") is None
    assert v("SELF") is None and v("ODD") is None
    assert v("f(flags)", flags="1") is None
    assert v("x / 0", x="1") is None
    # decided by one side whatever the other is
    assert v("mode & 0") == 0 and v("0 && mode") == 0 and v("mode || 1") == 1


def test_object_like_macros_only_one_value_each():
    text = "#define A (1 << 2) /* bit */\n#define F(x) x\n#ifdef X\n#define D 1\n#else\n" \
           "#define D 2\n#endif\n#define L 1 \\\n 2\n#define R 3\n#define R 3\n"
    assert object_macros(text) == {"A": "(1 << 2)", "D": None, "L": None, "R": "3"}


def test_only_conditions_on_value_parameters_and_constants_are_kept():
    tested = frozenset({"flags"})
    assert on_values_only(parse_expression("flags & FOO_EXCL"), tested)
    assert on_values_only(parse_expression("likely(flags == 2)"), tested, frozenset({"likely"}))
    assert not on_values_only(parse_expression("flags & mask"), tested)
    assert not on_values_only(parse_expression("f(flags)"), tested)
    assert not on_values_only(parse_expression("FOO_EXCL"), tested)
    assert not on_values_only(parse_expression("p->flags & FOO"), tested)


def test_a_condition_that_did_not_decide_the_outcome_is_dropped():
    a, b = parse_expression("f & A"), parse_expression("f & B")
    take = (Effect(Action.ACQUIRE, Mode.WRITE, C.Name("l")),)
    cases = [SumCase(take, when=((a, True), (b, True))),
             SumCase(take, when=((a, True), (b, False))),
             SumCase((), when=((a, False), (b, True))),
             SumCase((), when=((a, False), (b, False)))]
    assert _conditioned(cases) == [SumCase(take, when=((a, True),)),
                                   SumCase((), when=((a, False),))]
    # nothing decided by the flags: the cases are what they always were
    assert _conditioned([SumCase(take, when=((a, True),)), SumCase(take, when=((a, False),))]) \
        == [SumCase(take)]


def test_substitution_reaches_into_an_accessors_arguments():
    """A callee's lock ``VFS_I(ip)->i_rwsem`` is, at ``unlock(ip2)``, ``VFS_I(ip2)->i_rwsem``:
    two calls with two inodes release two locks, not one twice."""
    lock = parse_expression("VFS_I(ip)->i_mapping->invalidate_lock")
    got = substitute(lock, {"ip": C.Name("ip2")})
    assert got is not None and C.render(got) == "VFS_I(ip2)->i_mapping->invalidate_lock"
    assert substitute(parse_expression("page_folio(page)->flags"), {}) == \
        parse_expression("page_folio(page)->flags")


def test_a_condition_is_bound_to_the_callers_terms():
    cond = parse_expression("unlikely((lock_flags & EXCL) != 0)")
    got = substitute(cond, {"lock_flags": C.Name("mode")})
    assert C.render(got) == C.render(parse_expression("unlikely((mode & EXCL) != 0)"))
    assert value(substitute(cond, {"lock_flags": parse_expression("SHARED | EXCL")}), lookup,
                 frozenset({"unlikely"})) == 1
