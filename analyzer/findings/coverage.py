"""What an analysis could not see: the functions a parse error degraded, with where and why.

A function with a parse error inside is analysed as far as the parser could read it, and most
rules stay silent in it (its paths are incomplete), so its findings may vanish without the
code being fixed. A ``Degraded`` names it, the first parse error's location and the reason;
``analysed`` is False for a function a parse error hid entirely (swallowed by another one
whose body never closes). ``function`` is "" for text outside any function that could not be
read. The reports of ``check`` list them; ``review`` and ``history`` use them to tell a
finding that went away from one that could not be looked for.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Degraded:
    function: str  # "" : outside any function
    line: int  # the first parse error (a hidden function: where it starts), 1-based
    column: int
    reason: str  # one line
    analysed: bool = True  # False: never analysed (the parse error hid it entirely)

    @property
    def where(self) -> str:
        return f"{self.function}()" if self.function else "(file scope)"

    def describe(self) -> str:
        """``parse errors in foo() at 12:5: expected ')'``."""
        at = f"{self.line}:{self.column}"
        if not self.function:
            return f"parse errors outside any function at {at}: {self.reason}"
        if not self.analysed:
            return f"{self.where} at {at} not analysed: {self.reason}"
        return f"parse errors in {self.where} at {at}: {self.reason}"

    def to_json(self) -> dict:
        return {"function": self.function, "line": self.line, "column": self.column,
                "reason": self.reason, "analysed": self.analysed}

    @classmethod
    def from_json(cls, d: dict) -> Degraded:
        return cls(str(d.get("function", "")), int(d.get("line", 1)), int(d.get("column", 1)),
                   str(d.get("reason", "")), bool(d.get("analysed", True)))
