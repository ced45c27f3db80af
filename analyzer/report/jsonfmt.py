"""Machine formats. Schemas are versioned; keep fields stable (other tools read them)."""

from __future__ import annotations

import json


def check_json(run) -> str:
    doc = {
        "schema": "rmaplint/1",
        "findings": [f.to_json() for f in sorted(run.findings,
                                                  key=lambda f: (f.path, f.line, f.rule))],
        "files": [r.to_json() for r in run.reports],
        "summary": run.summary(),
    }
    return json.dumps(doc, indent=2) + "\n"


def explain_json(ex) -> str:
    return json.dumps(ex.to_json(), indent=2) + "\n"
