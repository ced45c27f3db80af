"""A kernel configuration for the tree-sitter frontend: decide ``#if`` chains on ``CONFIG_*``.

tree-sitter reads every branch of every ``#if``, which is what reviewing all configurations at
once needs. To compare with clang (which reads one configuration), the same text can be read
in the tree's configuration: a chain of ``#if/#elif/#else`` whose conditions are all decided by
``include/generated/autoconf.h`` keeps its taken branch; the other branches and the directive
lines are blanked (spaces, newlines kept), so every offset and line number stays where it was.
A chain with a condition the configuration cannot decide (an architecture macro, a
``__GNUC__`` test) is left as it is: both branches, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_DEFINE = re.compile(r"^#define\s+(CONFIG_\w+)\s+(.*)$", re.M)
_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*(ifdef|ifndef|if|elifdef|elifndef|elif|else|endif)\b(.*)$")
_TOKEN = re.compile(r"\s*(defined|IS_ENABLED|IS_BUILTIN|IS_MODULE|IS_REACHABLE|\w+|&&|\|\||"
                    r"==|!=|<=|>=|[()!<>]|\S)")


class Unknown(Exception):
    pass


@dataclass(frozen=True)
class KernelConfig:
    values: dict[str, str]  # CONFIG_X → "1" / "\"str\"" / number text
    digest: str

    @classmethod
    def from_autoconf(cls, path: str | Path) -> KernelConfig:
        import hashlib

        data = Path(path).read_bytes()
        text = data.decode("utf-8", "replace")
        return cls({m.group(1): m.group(2).strip() for m in _DEFINE.finditer(text)},
                   hashlib.sha1(data).hexdigest()[:16])

    # ------------------------------------------------------------------ conditions
    def evaluate(self, cond: str) -> bool:
        """Decide a ``#if`` condition, or raise Unknown."""
        cond = re.sub(r"/\*.*?\*/|//.*", " ", cond)
        toks = _TOKEN.findall(cond)
        out: list[str] = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t in ("defined", "IS_ENABLED", "IS_BUILTIN", "IS_MODULE", "IS_REACHABLE"):
                j = i + 1
                paren = j < len(toks) and toks[j] == "("
                name = toks[j + 1] if paren else (toks[j] if j < len(toks) else "")
                if not name.startswith("CONFIG_"):
                    raise Unknown(name)
                builtin = name in self.values
                module = f"{name}_MODULE" in self.values
                val = {"defined": builtin, "IS_BUILTIN": builtin, "IS_MODULE": module,
                       "IS_ENABLED": builtin or module, "IS_REACHABLE": builtin or module}[t]
                out.append("True" if val else "False")
                i = j + (3 if paren else 1)
                continue
            if t == "&&":
                out.append(" and ")
            elif t == "||":
                out.append(" or ")
            elif t == "!":
                out.append(" not ")
            elif t in ("(", ")", "==", "!=", "<", ">", "<=", ">="):
                out.append(t)
            elif re.fullmatch(r"\d+[uUlL]*", t):
                out.append(t.rstrip("uUlL"))
            elif t.startswith("CONFIG_"):
                v = self.values.get(t, "0")
                if not re.fullmatch(r"-?\d+|0x[0-9a-fA-F]+", v):
                    raise Unknown(t)
                out.append(str(int(v, 0)))
            else:
                raise Unknown(t)
            i += 1
        try:
            return bool(eval(" ".join(out), {"__builtins__": {}}, {}))  # noqa: S307 - a
        except Exception:  # noqa: BLE001     whitelisted token sequence, nothing else
            raise Unknown(cond) from None

    def _cond(self, kind: str, rest: str) -> bool:
        if kind in ("ifdef", "elifdef", "ifndef", "elifndef"):
            name = rest.split()[0] if rest.split() else ""
            if not name.startswith("CONFIG_"):
                raise Unknown(name)
            has = name in self.values
            return has if kind in ("ifdef", "elifdef") else not has
        return self.evaluate(rest)

    # ------------------------------------------------------------------ text
    def apply(self, text: str) -> str:
        """The text as this configuration compiles it (same length, same lines)."""
        lines = text.split("\n")
        # logical lines: a directive continued with backslashes spans several
        directives: list[tuple[int, int, str, str]] = []  # first, last line, kind, rest
        i = 0
        while i < len(lines):
            m = _DIRECTIVE.match(lines[i])
            if m:
                j = i
                rest = m.group(2)
                while lines[j].endswith("\\") and j + 1 < len(lines):
                    j += 1
                    rest = rest[:-1] + " " + lines[j] if rest.endswith("\\") else rest + lines[j]
                directives.append((i, j, m.group(1), rest))
                i = j + 1
                continue
            i += 1
        if not directives:
            return text
        # chains: an #if… with its #elif/#else and the #endif
        blank = [False] * len(lines)
        stack: list[dict] = []
        for first, last, kind, rest in directives:
            if kind in ("if", "ifdef", "ifndef"):
                stack.append({"parts": [(first, last, kind, rest)], "end": None})
            elif kind in ("elif", "elifdef", "elifndef", "else"):
                if stack:
                    stack[-1]["parts"].append((first, last, kind, rest))
            elif kind == "endif" and stack:
                chain = stack.pop()
                chain["end"] = (first, last)
                self._decide(chain, blank)
        out = [(" " * len(ln) if blank[k] else ln) for k, ln in enumerate(lines)]
        return "\n".join(out)

    def _decide(self, chain: dict, blank: list[bool]) -> None:
        parts = chain["parts"]
        taken = None
        try:
            for idx, (_, _, kind, rest) in enumerate(parts):
                if kind == "else" or self._cond(kind, rest):
                    taken = idx
                    break
        except Unknown:
            return  # not decided by the configuration: every branch stays
        end_first, end_last = chain["end"]
        bounds = [p[0] for p in parts] + [end_first]
        for idx, (first, last, _, _) in enumerate(parts):
            for k in range(first, last + 1):
                blank[k] = True  # the directive itself
            if idx != taken:
                for k in range(last + 1, bounds[idx + 1]):
                    blank[k] = True
        for k in range(end_first, end_last + 1):
            blank[k] = True
