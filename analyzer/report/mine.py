"""The guards table of ``rmaplint mine``: text, JSON (``rmaplint-mine/1``) and TOML in the
schema of ``rules/protected.toml`` ``[[guard]]`` (for a maintainer to review and commit).

Reads a finished mine run (its ``guards`` — mined, best first —, ``declared``, ``mentions``,
``files``); computes nothing.
"""

from __future__ import annotations

import json

SCHEMA = "rmaplint-mine/1"


def _guard_json(g, examples=(), deviations=(), unknown=None, local=None, scope=None) -> dict:
    out = {"struct": g.struct, "field": g.field, "lock": g.lock, "access": str(g.access),
           "source": g.source, "held": g.held, "total": g.total, "score": round(g.score, 2),
           "examples": list(examples), "deviations": list(deviations)}
    if g.source == "declared":
        out["where"] = g.where
    if unknown is not None:
        out["unknown"] = unknown
    if local is not None:
        out["local"] = local
    if scope is not None:
        out["scope"] = scope
    return out


def mine_json(run) -> str:
    guards = [_guard_json(g, [g.where]) for g in run.declared]
    guards += [_guard_json(m.guard, m.examples, m.deviations, m.unknown, m.local, m.scope)
               for m in run.guards]
    doc = {"schema": SCHEMA, "files": len(run.files), "accesses": run.accesses,
           "errors": [{"path": f.path, "error": f.error} for f in run.files if f.error],
           "guards": guards, "unresolved": [m.to_json() for m in run.mentions]}
    return json.dumps(doc, indent=2) + "\n"


def _q(s: str) -> str:
    return json.dumps(s)  # a TOML basic string is a JSON string for these texts


def mine_toml(run) -> str:
    lines = ["# Mined by `rmaplint mine`: review each pair before committing it to",
             "# rules/protected.toml (a kept pair is a declared guard from then on).", ""]
    for m in run.guards:
        g = m.guard
        lines += ["[[guard]]", f"struct = {_q(g.struct)}", f"field = {_q(g.field)}",
                  f"lock = {_q(g.lock)}", f"access = {_q(str(g.access))}",
                  'source = "mined"', f"held = {g.held}", f"total = {g.total}",
                  f"score = {round(g.score, 2)}"]
        if m.examples:
            lines.append(f"# e.g. {', '.join(m.examples)}")
        if m.deviations:
            lines.append(f"# deviations: {', '.join(m.deviations)}")
        lines.append("")
    if run.mentions:
        lines.append("# Comments that speak of protection in words not resolved to a lock:")
        for x in run.mentions:
            lines.append(f"# {x.where}: {x.struct}.{x.field}: {x.why}")
    return "\n".join(lines).rstrip() + "\n"


def _name(g) -> str:
    return f"{g.struct}.{g.field}" if g.struct else f"(file scope) {g.field}"


def mine_text(run) -> str:
    out = [f"{run.accesses} member accesses in {len(run.files)} files"]
    if run.declared:
        out += ["", "declared:"]
        seen = set()
        for g in run.declared:
            if (g.struct, g.field, g.lock) in seen:
                continue
            seen.add((g.struct, g.field, g.lock))
            out.append(f"  {_name(g)} <- {g.lock}  ({g.where})")
    out += ["", "mined (score  held/known  unknown):"]
    if not run.guards:
        out.append("  none above the thresholds of protected.toml [guards]")
    for m in run.guards:
        g = m.guard
        dev = f"  deviates: {', '.join(m.deviations[:3])}" if m.deviations else ""
        wide = " (struct-wide)" if m.scope == "struct" else ""
        out.append(f"  {g.score:5.1f}  {g.held}/{g.total}  {m.unknown:3d}  {_name(g)} "
                   f"{g.access} <- {g.lock}{wide}{dev}")
    if run.mentions:
        out += ["", "unresolved mentions:"]
        out += [f"  {x.where}: {x.struct}.{x.field}: {x.why}" for x in run.mentions]
    errors = [f for f in run.files if f.error]
    if errors:
        out += ["", "not analysed:"] + [f"  {f.path}: {f.error}" for f in errors]
    return "\n".join(out) + "\n"
