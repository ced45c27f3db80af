"""What a project asks of rmaplint: ``.rmaplint.toml`` at the top of the tree, a ``[rmaplint]``
section of git's config (as b4 keeps its settings), and the command line, in rising order of
precedence.

``.rmaplint.toml``::

    fail-on = "error"                     # error | warning | note
    select = ["lock-dropped-in-loop"]     # only these rule ids (default: all)
    ignore = ["walk-unlocked"]            # never these
    rules = "tools/rmaplint/rules"        # a rules folder, relative to the tree's top
    baseline = ".rmaplint-baseline.json"  # known findings, written by check --write-baseline

git config (per repository or user; ``select``/``ignore`` may repeat or hold commas)::

    git config rmaplint.failOn error
    git config --add rmaplint.ignore walk-unlocked
    git config rmaplint.baseline .rmaplint-baseline.json

check, review, history, the hooks and b4-check all read it, so a tree whose known findings
are in a baseline is quiet until a change adds one.
"""

from __future__ import annotations

import difflib
import subprocess
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, UsageError
from ..findings.finding import Finding, read_baseline, severity_rank
from ..source.reader import git_env

CONFIG_FILE = ".rmaplint.toml"
KEYS = ("fail-on", "select", "ignore", "rules", "baseline")
FAIL_ON = ("error", "warning", "note")


@dataclass
class Policy:
    fail_on: str = "warning"
    select: frozenset[str] | None = None
    ignore: frozenset[str] = frozenset()
    rules: str | None = None  # an absolute folder
    baseline: frozenset[str] = frozenset()  # fingerprints
    baseline_file: str | None = None
    sources: list[str] = field(default_factory=list)  # where settings came from

    def keep(self, f: Finding) -> bool:
        if self.select is not None and f.rule not in self.select:
            return False
        return f.rule not in self.ignore and f.fingerprint not in self.baseline

    def filter(self, findings: Iterable[Finding]) -> list[Finding]:
        return [f for f in findings if self.keep(f)]

    def fails(self, findings: Iterable[Finding]) -> bool:
        t = severity_rank(self.fail_on)
        return any(severity_rank(f.severity) >= t and not f.justification for f in findings)


def _rule_ids() -> list[str]:
    from ..checks import rule_ids

    return rule_ids()


def check_rule_ids(ids: Iterable[str], where: str) -> frozenset[str]:
    known = _rule_ids()
    out = set()
    for r in ids:
        r = r.strip()
        if not r:
            continue
        if r not in known:
            near = difflib.get_close_matches(r, known, n=1)
            raise UsageError(f"{where}: unknown rule id '{r}'"
                             + (f" (did you mean '{near[0]}'?)" if near else
                                " (rmaplint rule --all lists them)"))
        out.add(r)
    return frozenset(out)


def _split(values) -> list[str]:
    if isinstance(values, str):
        values = [values]
    return [x.strip() for v in values for x in str(v).split(",") if x.strip()]


def read_file(top: Path) -> dict:
    path = top / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InputError(f"{path}: not a valid TOML file ({e})") from None
    doc = doc.get("rmaplint", doc) if isinstance(doc.get("rmaplint"), dict) else doc
    for k, v in doc.items():
        if k not in KEYS:
            near = difflib.get_close_matches(k, KEYS, n=1)
            raise InputError(f"{path}: unknown key '{k}'"
                             + (f" (did you mean '{near[0]}'?)" if near else
                                f" (known: {', '.join(KEYS)})"))
        if k in ("select", "ignore"):
            if not (isinstance(v, str) or (isinstance(v, list)
                                           and all(isinstance(x, str) for x in v))):
                raise InputError(f"{path}: '{k}' must be a list of rule ids")
        elif not isinstance(v, str):
            raise InputError(f"{path}: '{k}' must be a string")
    return {"_where": str(path), **doc}


def read_git_config(top: Path) -> dict:
    """The ``rmaplint.*`` keys of git's config for the repository at ``top`` (none outside
    a repository)."""
    try:
        out = subprocess.run(["git", "config", "--get-regexp", r"^rmaplint\."], cwd=top,
                             capture_output=True, text=True, env=git_env(), timeout=30)
    except (OSError, subprocess.SubprocessError):
        return {}
    if out.returncode not in (0, 1):
        return {}
    doc: dict = {}
    names = {"failon": "fail-on", "fail-on": "fail-on", "select": "select",
             "ignore": "ignore", "rules": "rules", "baseline": "baseline"}
    for line in out.stdout.splitlines():
        key, _, value = line.partition(" ")
        name = key.split(".", 1)[1].lower()
        if name not in names:
            raise InputError(f"git config {key}: unknown rmaplint setting (known: "
                             "rmaplint.failOn, select, ignore, rules, baseline)")
        k = names[name]
        if k in ("select", "ignore"):
            doc.setdefault(k, []).extend(_split(value))
        else:
            doc[k] = value.strip()
    if doc:
        doc["_where"] = "git config rmaplint.*"
    return doc


def load_policy(top: Path | None, *, fail_on: str | None = None,
                select: list[str] | None = None, ignore: list[str] | None = None,
                rules: str | None = None, baseline: str | None = None) -> Policy:
    """The policy for a run: command line over git config over ``.rmaplint.toml``."""
    layers: list[dict] = []
    if top is not None:
        layers.append(read_file(top))
        layers.append(read_git_config(top))
    cli = {k: v for k, v in (("fail-on", fail_on), ("select", select), ("ignore", ignore),
                             ("rules", rules), ("baseline", baseline)) if v is not None}
    if cli:
        layers.append({"_where": "the command line", "_cli": True, **cli})
    p = Policy()
    for layer in layers:
        if not layer:
            continue
        where = layer["_where"]
        p.sources.append(where)
        base = Path.cwd() if layer.get("_cli") or top is None else top
        if "fail-on" in layer:
            v = layer["fail-on"]
            if v not in FAIL_ON:
                raise UsageError(f"{where}: fail-on must be one of {', '.join(FAIL_ON)}, "
                                 f"not '{v}'")
            p.fail_on = v
        if "select" in layer:
            p.select = check_rule_ids(_split(layer["select"]), where)
        if "ignore" in layer:
            p.ignore = check_rule_ids(_split(layer["ignore"]), where)
        if "rules" in layer:
            d = (base / layer["rules"]).resolve()
            if not d.is_dir():
                raise InputError(f"{where}: rules folder not found: {layer['rules']}")
            p.rules = str(d)
        if "baseline" in layer:
            b = (base / layer["baseline"]).resolve()
            p.baseline = read_baseline(b)
            p.baseline_file = str(b)
    return p
