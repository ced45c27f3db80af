"""The debugging view: every line of one function with the lock state before it."""

from __future__ import annotations

from dataclasses import dataclass

from .result import FunctionResult
from .state import State


@dataclass(frozen=True, slots=True)
class Held:
    lock: str
    cls: str
    mode: str  # read | write
    certainty: str  # must | may
    vacuous: bool  # on some paths the pointer the lock lives in was NULL


@dataclass(frozen=True, slots=True)
class Line:
    line: int
    text: str
    held: tuple[Held, ...]
    reachable: bool
    has_code: bool  # an operation starts on this line


@dataclass(frozen=True)
class Explanation:
    path: str
    function: str
    lines: tuple[Line, ...]
    degraded: bool
    converged: bool
    entry_from_callers: bool

    def to_json(self) -> dict:
        return {
            "schema": "rmaplint-explain/1",
            "path": self.path,
            "function": self.function,
            "degraded": self.degraded,
            "entry_from_callers": self.entry_from_callers,
            "lines": [
                {"line": ln.line, "text": ln.text, "reachable": ln.reachable,
                 "held": [{"lock": h.lock, "class": h.cls, "mode": h.mode,
                           "certainty": h.certainty, "if_not_null": h.vacuous}
                          for h in ln.held]}
                for ln in self.lines
            ],
        }


def _held(st: State | None) -> tuple[Held, ...]:
    if st is None:
        return ()
    return tuple(Held(k.render(), k.cls or "", str(f.mode), f.certainty, f.vacuous)
                 for k, f in st.held())


def explain(fa: FunctionResult, text: str) -> Explanation:
    fn = fa.function
    src_lines = text.split("\n")  # only \n counts lines (splitlines also splits at \f)
    at: dict[int, tuple[State | None, bool]] = {}
    for o in fa.ops:
        ln = o.op.span.line
        if ln not in at or (at[ln][0] is None and o.state is not None):
            at[ln] = (o.state, o.state is not None)
    exit_state = fa.exit_state()
    lines = []
    start, end = fn.span.line, fn.span.end_line
    code_lines = sorted(at)
    for ln in range(start, end + 1):
        if ln in at:
            st, reach = at[ln]
            has_code = True
        else:
            nxt = next((c for c in code_lines if c > ln), None)
            st, reach = at[nxt] if nxt is not None else (exit_state, exit_state is not None)
            has_code = False
        text_ln = src_lines[ln - 1] if 0 < ln <= len(src_lines) else ""
        lines.append(Line(ln, text_ln.rstrip("\r\n"), _held(st), reach, has_code))
    return Explanation(fn.path, fn.name, tuple(lines), fn.degraded, fa.converged,
                       fa.entry_from_callers)
