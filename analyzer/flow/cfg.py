"""Control-flow graph of one function: basic blocks of operations with typed edges.

Built from the frontend-neutral syntax tree (``cast``). ``goto`` and labels are first-class;
``return`` edges go to a single exit block; loops record their header, body, back edges and,
for iterator macros, the macro, the iterated object and the cursor. Scope guards
(``guard()``/``scoped_guard()``) become explicit acquire/release operations on every path that
leaves their scope, so the dataflow needs no notion of scopes.

A block ends with an optional condition; its TRUE/FALSE (or SWITCH) edges say which outcome
they carry, so the dataflow can refine the state per edge (trylock success, NULL checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum

from ..syntax import tree as C


class EdgeKind(Enum):
    FALL = "fall"
    TRUE = "true"
    FALSE = "false"
    GOTO = "goto"
    BACK = "back"
    BREAK = "break"
    CONTINUE = "continue"
    RETURN = "return"
    SWITCH = "switch"


class OpKind(StrEnum):
    EVAL = "eval"  # an expression statement
    DECL = "decl"  # type name = expr
    RETURN = "return"
    ADVANCE = "advance"  # an iterator loop moves its cursor
    GUARD_ACQUIRE = "guard_acquire"  # scope guards
    GUARD_RELEASE = "guard_release"
    UNPARSED = "unparsed"  # a statement the frontend could not read
    COND = "cond"  # a block's condition (op_states only: never in a block's ops)


class LoopKind(StrEnum):
    FOR = "for"
    WHILE = "while"
    DO = "do"
    ITER = "iter"  # an iterator macro
    GOTO = "goto"  # a backward goto (retry: … goto retry;)


@dataclass(frozen=True, slots=True)
class Op:
    """One operation in a block.

    kind: ``eval`` (an expression statement), ``decl`` (``type name = expr``), ``return``,
    ``advance`` (an iterator loop moves its cursor), ``guard_acquire`` / ``guard_release``
    (scope guards), ``unparsed``."""

    kind: OpKind
    span: C.Span
    expr: C.Expr | None = None
    name: str | None = None
    type: str | None = None
    lock_class: str | None = None
    args: tuple[C.Expr, ...] = ()
    loop: int | None = None


@dataclass(frozen=True, slots=True)
class Edge:
    kind: EdgeKind
    target: int
    case: C.Expr | None = None  # SWITCH edges: the case value (None: default / no match)


@dataclass(frozen=True, slots=True)
class Block:
    id: int
    ops: tuple[Op, ...]
    cond: C.Expr | None  # evaluated after ops; TRUE/FALSE edges carry its outcome
    succs: tuple[Edge, ...]
    cond_span: C.Span | None = None


@dataclass(frozen=True, slots=True)
class Loop:
    id: int
    kind: LoopKind
    span: C.Span
    header: int
    body: frozenset[int]  # includes the header
    back_edges: tuple[int, ...]  # source blocks of edges back to the header
    exit: int
    macro: str | None = None
    iterated: C.Expr | None = None
    cursor: C.Expr | None = None
    from_object: bool = False  # the advance reads the iterated object, not the cursor
    temp: C.Expr | None = None  # a _safe variant's next entry: what the advance reads


@dataclass(frozen=True)
class Cfg:
    function: str
    blocks: tuple[Block, ...]
    entry: int
    exit: int
    loops: tuple[Loop, ...]
    labels: dict[str, int] = field(default_factory=dict, compare=False)

    def preds(self) -> dict[int, list[tuple[int, Edge]]]:
        out: dict[int, list[tuple[int, Edge]]] = {b.id: [] for b in self.blocks}
        for b in self.blocks:
            for e in b.succs:
                out[e.target].append((b.id, e))
        return out

    def edges(self):
        for b in self.blocks:
            for e in b.succs:
                yield b.id, e

    def calls(self):
        """Every call in the function: operations' expressions and block conditions."""
        for b in self.blocks:
            for op in b.ops:
                yield from C.calls_in(op.expr)
            yield from C.calls_in(b.cond)

    def loops_containing(self, block: int) -> list[Loop]:
        return [lp for lp in self.loops if block in lp.body]

    def reachable(self) -> set[int]:
        seen = {self.entry}
        todo = [self.entry]
        while todo:
            b = todo.pop()
            for e in self.blocks[b].succs:
                if e.target not in seen:
                    seen.add(e.target)
                    todo.append(e.target)
        return seen


# --------------------------------------------------------------------------- builder


@dataclass
class _MBlock:
    id: int
    ops: list[Op] = field(default_factory=list)
    cond: C.Expr | None = None
    cond_span: C.Span | None = None
    succs: list[Edge] = field(default_factory=list)


@dataclass
class _Scope:
    """A place that holds scope-guard releases: a compound or a scoped_guard body."""

    start: int  # start byte of the owning statement (identifies it)
    releases: list[Op] = field(default_factory=list)


@dataclass
class _Jump:
    brk: int | None
    cont: int | None
    scope_depth: int  # number of _Scope entries outside this loop/switch


def build_cfg(fn: C.Function) -> Cfg:
    return _Builder(fn).build()


class _Builder:
    def __init__(self, fn: C.Function):
        self.fn = fn
        self.blocks: list[_MBlock] = []
        self.cur: int | None = None
        self.labels: dict[str, int] = {}
        self.label_scopes: dict[str, tuple[int, ...]] = {}
        self.scopes: list[_Scope] = []
        self.jumps: list[_Jump] = []
        self.loops: list[Loop] = []
        self.loop_count = 0  # ids in order of the loop statements (outer before inner)
        self.active_loops: list[int] = []  # ids of the loops lexically around the statement
        self.label_loops: dict[str, tuple[int, ...]] = {}  # label -> loops it is inside
        self.label_lines: dict[str, int] = {}
        self.gotos: list[tuple[int, int, str, C.Span]] = []  # (from block, label block, …)
        self.exit = -1

    # ------------------------------------------------------------ primitives
    def new(self) -> int:
        b = _MBlock(len(self.blocks))
        self.blocks.append(b)
        return b.id

    def here(self) -> int:
        """The current block, starting an unreachable one after a jump."""
        if self.cur is None:
            self.cur = self.new()
        return self.cur

    def emit(self, op: Op) -> None:
        self.blocks[self.here()].ops.append(op)

    def edge(self, src: int, kind: EdgeKind, dst: int, case=None) -> None:
        self.blocks[src].succs.append(Edge(kind, dst, case))

    def goto_block(self, kind: EdgeKind, dst: int) -> None:
        """End the current block with a jump (a no-op after another jump)."""
        if self.cur is not None:
            self.edge(self.cur, kind, dst)
        self.cur = None

    def start(self, block: int, kind: EdgeKind = EdgeKind.FALL) -> None:
        """Fall into ``block`` and continue there."""
        if self.cur is not None:
            self.edge(self.cur, kind, block)
        self.cur = block

    def branch(self, cond: C.Expr, span: C.Span, t: int, f: int) -> None:
        b = self.blocks[self.here()]
        b.cond = cond
        b.cond_span = span
        self.edge(b.id, EdgeKind.TRUE, t)
        self.edge(b.id, EdgeKind.FALSE, f)
        self.cur = None

    def label_block(self, name: str) -> int:
        if name not in self.labels:
            self.labels[name] = self.new()
        return self.labels[name]

    # ------------------------------------------------------------ build
    def build(self) -> Cfg:
        entry = self.new()
        self.exit = self.new()
        self.cur = entry
        self._collect_label_scopes(self.fn.body, ())
        self.stmt(self.fn.body)
        if self.cur is not None:
            self.edge(self.cur, EdgeKind.RETURN, self.exit)
            self.cur = None
        self._goto_loops()
        blocks = tuple(Block(b.id, tuple(b.ops), b.cond, tuple(b.succs), b.cond_span)
                       for b in self.blocks)
        return Cfg(self.fn.name, blocks, entry, self.exit, tuple(self.loops), dict(self.labels))

    def _goto_loops(self) -> None:
        """A ``goto`` to a label written before it (``retry:`` … ``goto retry;``) closes a
        loop: its header is the label's block, its body every block from which the goto can
        be reached without passing the header."""
        preds: dict[int, list[int]] = {}
        for blk in self.blocks:
            for e in blk.succs:
                preds.setdefault(e.target, []).append(blk.id)
        by_header: dict[int, list[tuple[int, str, C.Span]]] = {}
        for src, target, label, span in self.gotos:
            line = self.label_lines.get(label)
            if line is not None and line <= span.line:
                by_header.setdefault(target, []).append((src, label, span))
        for header, gotos in sorted(by_header.items()):
            body = {header}
            todo = [src for src, _, _ in gotos]
            while todo:
                b = todo.pop()
                if b in body:
                    continue
                body.add(b)
                todo.extend(preds.get(b, ()))
            first = min(self.label_lines[label] for _, label, _ in gotos)
            last = max(span.end_line for _, _, span in gotos)
            exits = sorted({e.target for b in body for e in self.blocks[b].succs
                            if e.target not in body})
            self.loops.append(Loop(
                id=len(self.loops), kind=LoopKind.GOTO, span=C.Span(first, last),
                header=header, body=frozenset(body),
                back_edges=tuple(sorted(src for src, _, _ in gotos)),
                exit=exits[0] if exits else self.exit))

    def _collect_label_scopes(self, s: C.Stmt | None, chain: tuple[int, ...]) -> None:
        if s is None:
            return
        if isinstance(s, C.Compound):
            chain = chain + (s.span.start_byte,)
            for x in s.body:
                self._collect_label_scopes(x, chain)
        elif isinstance(s, C.Label):
            self.label_scopes[s.name] = chain
            self._collect_label_scopes(s.body, chain)
        elif isinstance(s, C.ScopedGuard):
            self._collect_label_scopes(s.body, chain + (s.span.start_byte,))
        else:
            for child in C.children(s):
                self._collect_label_scopes(child, chain)

    def release_ops(self, from_depth: int) -> list[Op]:
        """Releases of scope guards opened at scope depth >= from_depth, innermost first."""
        ops: list[Op] = []
        for sc in reversed(self.scopes[from_depth:]):
            ops.extend(reversed(sc.releases))
        return ops

    def leave(self, from_depth: int, span: C.Span) -> None:
        for op in self.release_ops(from_depth):
            self.emit(Op(OpKind.GUARD_RELEASE, span, lock_class=op.lock_class, args=op.args))

    def stmt(self, s: C.Stmt | None) -> None:
        if s is None:
            return
        match s:
            case C.Compound():
                self.scopes.append(_Scope(s.span.start_byte))
                depth = len(self.scopes) - 1
                for x in s.body:
                    self.stmt(x)
                if self.cur is not None:
                    self.leave(depth, C.Span(s.span.end_line, s.span.end_line))
                self.scopes.pop()
            case C.ExprStmt():
                if s.expr is not None:
                    self.emit(Op(OpKind.EVAL, s.span, expr=s.expr))
                else:
                    self.here()
            case C.Decl():
                self.emit(Op(OpKind.DECL, s.span, expr=s.init, name=s.name, type=s.type))
            case C.Unparsed():
                self.emit(Op(OpKind.UNPARSED, s.span, name=s.text))
            case C.Return():
                self.emit(Op(OpKind.RETURN, s.span, expr=s.value))
                self.leave(0, s.span)
                self.goto_block(EdgeKind.RETURN, self.exit)
            case C.Goto():
                target = self.label_block(s.label)
                self.gotos.append((self.here(), target, s.label, s.span))
                keep = set(self.label_scopes.get(s.label, ()))
                depth = len(self.scopes)
                for i, sc in enumerate(self.scopes):
                    if sc.start not in keep:
                        depth = i
                        break
                self.leave(depth, s.span)
                self.here()
                self.goto_block(EdgeKind.GOTO, target)
            case C.Break():
                j = self.jumps[-1] if self.jumps else None
                if j is None or j.brk is None:
                    self.here()
                    return
                self.leave(j.scope_depth, s.span)
                self.here()
                self.goto_block(EdgeKind.BREAK, j.brk)
            case C.Continue():
                j = next((j for j in reversed(self.jumps) if j.cont is not None), None)
                if j is None:
                    self.here()
                    return
                assert j.cont is not None  # the one found has a continue target
                self.leave(j.scope_depth, s.span)
                self.here()
                self.goto_block(EdgeKind.CONTINUE, j.cont)
            case C.Label():
                self.label_loops[s.name] = tuple(self.active_loops)
                self.label_lines[s.name] = s.span.line
                self.start(self.label_block(s.name))
                self.stmt(s.body)
            case C.If():
                t, after = self.new(), self.new()
                f = self.new() if s.other is not None else after
                self.branch(s.cond, s.span, t, f)
                self.cur = t
                self.stmt(s.then)
                self.goto_block(EdgeKind.FALL, after)
                if s.other is not None:
                    self.cur = f
                    self.stmt(s.other)
                    self.goto_block(EdgeKind.FALL, after)
                self.cur = after
            case C.While():
                self.loop(LoopKind.WHILE, s.span, s.cond, s.body, None, None)
            case C.For():
                for x in s.init:
                    self.stmt(x)
                self.loop(LoopKind.FOR, s.span, s.cond if s.cond is not None else C.Literal("1"),
                          s.body, s.step, None)
            case C.IterLoop():
                self.loop(LoopKind.ITER, s.span, C.Opaque(f"{s.macro}(…)"), s.body, None, s)
            case C.DoWhile():
                self.do_loop(s)
            case C.Switch():
                self.switch(s)
            case C.Case():
                # a case label outside a switch body: treat as a plain block
                for x in s.body:
                    self.stmt(x)
            case C.ScopedGuard():
                acq = Op(OpKind.GUARD_ACQUIRE, s.span, lock_class=s.lock_class, args=s.args)
                self.emit(acq)
                self.scopes.append(_Scope(s.span.start_byte, [acq]))
                depth = len(self.scopes) - 1
                # scoped_guard() is a one-shot ``for`` loop (include/linux/cleanup.h): a
                # break or continue in its body leaves the guard, not an enclosing loop
                after = self.new()
                self.jumps.append(_Jump(after, after, depth))
                self.stmt(s.body)
                self.jumps.pop()
                if self.cur is not None:
                    self.leave(depth, C.Span(s.span.end_line, s.span.end_line))
                self.scopes.pop()
                self.goto_block(EdgeKind.FALL, after)
                self.cur = after
            case C.Guard():
                acq = Op(OpKind.GUARD_ACQUIRE, s.span, lock_class=s.lock_class, args=s.args)
                self.emit(acq)
                if self.scopes:
                    self.scopes[-1].releases.append(acq)
            case _:
                raise TypeError(f"unknown statement {type(s).__name__}")

    def loop(self, kind, span, cond, body, step, it: C.IterLoop | None) -> None:
        first_block = len(self.blocks)
        header = self.new()
        self.start(header)
        lid = self._open_loop()
        if it is not None:
            self.emit(Op(OpKind.ADVANCE, span, expr=it.cursor, args=it.args, loop=lid,
                         name=it.macro))
        body_b, after = self.new(), self.new()
        self.branch(cond, span, body_b, after)
        cont = header
        step_b = None
        if step is not None:
            step_b = self.new()
            cont = step_b
        self.jumps.append(_Jump(after, cont, len(self.scopes)))
        self.cur = body_b
        self.stmt(body)
        self.jumps.pop()
        self.active_loops.pop()
        if step_b is not None:
            self.goto_block(EdgeKind.FALL, step_b)
            self.cur = step_b
            self.emit(Op(OpKind.EVAL, span, expr=step))
        self.goto_block(EdgeKind.BACK, header)
        self._record_loop(lid, kind, span, header, first_block, after, it)
        self.cur = after

    def do_loop(self, s: C.DoWhile) -> None:
        first_block = len(self.blocks)
        body_b = self.new()
        self.start(body_b)
        lid = self._open_loop()
        cond_b, after = self.new(), self.new()
        self.jumps.append(_Jump(after, cond_b, len(self.scopes)))
        self.stmt(s.body)
        self.jumps.pop()
        self.active_loops.pop()
        self.start(cond_b)
        b = self.blocks[cond_b]
        b.cond = s.cond
        b.cond_span = s.span
        self.edge(cond_b, EdgeKind.BACK, body_b)
        # the BACK edge carries the TRUE outcome; record it for the dataflow
        b.succs[-1] = Edge(EdgeKind.BACK, body_b, C.Name("1"))
        self.edge(cond_b, EdgeKind.FALSE, after)
        self.cur = None
        self._record_loop(lid, LoopKind.DO, s.span, body_b, first_block, after, None)
        self.cur = after

    def _open_loop(self) -> int:
        lid = self.loop_count
        self.loop_count += 1
        self.active_loops.append(lid)
        return lid

    def _record_loop(self, lid, kind, span, header, first_block, after, it) -> None:
        # the blocks created while building the loop, except label blocks of labels outside
        # it (first named by a goto in the body) and plus those of labels inside it
        inside = {b for name, b in self.labels.items() if lid in self.label_loops.get(name, ())}
        outside = set(self.labels.values()) - inside
        body = frozenset(i for i in range(first_block, len(self.blocks))
                         if i != after and i not in outside) | inside | {header}
        back = tuple(sorted(src for src in body for e in self.blocks[src].succs
                            if e.target == header
                            and e.kind in (EdgeKind.BACK, EdgeKind.CONTINUE)))
        self.loops.append(Loop(
            id=lid, kind=kind, span=span, header=header, body=body, back_edges=back,
            exit=after, macro=it.macro if it else None,
            iterated=it.iterated if it else None, cursor=it.cursor if it else None,
            from_object=bool(it and it.from_object), temp=it.temp if it else None))
        # loops are appended after their inner loops; keep ids equal to positions
        self.loops.sort(key=lambda lp: lp.id)

    def switch(self, s: C.Switch) -> None:
        head = self.here()
        b = self.blocks[head]
        b.cond = s.cond
        b.cond_span = s.span
        self.cur = None
        after = self.new()
        self.jumps.append(_Jump(after, None, len(self.scopes)))
        has_default = False
        cases = s.body.body if isinstance(s.body, C.Compound) else (s.body,)
        self.scopes.append(_Scope(s.body.span.start_byte))
        depth = len(self.scopes) - 1
        for c in cases:
            if isinstance(c, C.Case):
                blk = self.new()
                self.edge(head, EdgeKind.SWITCH, blk, c.value if c.value is not None
                          else C.Name("default"))
                has_default |= c.value is None
                self.start(blk)  # fall through from the previous case
                for x in c.body:
                    self.stmt(x)
            else:
                self.stmt(c)
        if self.cur is not None:
            self.leave(depth, C.Span(s.span.end_line, s.span.end_line))
        self.scopes.pop()
        self.jumps.pop()
        self.goto_block(EdgeKind.FALL, after)
        if not has_default:
            self.edge(head, EdgeKind.SWITCH, after, None)
        self.cur = after
