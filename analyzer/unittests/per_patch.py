"""``review --unittests``: the kernel's userland test suites beside the findings, per patch.

The suites run once on the base, then after each patch that changes something they compile
(``suites_affected``); a patch that does not keeps the previous result, marked as reused.
Each patch's review carries, per suite, the status and whether it changed with that patch.
"""

from __future__ import annotations

from pathlib import Path

from ..workflow.results import PatchReview
from .runner import run_suites_at, suites_affected


class UnitTestsPerPatch:
    def __init__(self, repo: Path, base: str, suites: list[str], jobs: int,
                 reports_dir: Path | None):
        self.repo = repo
        self.jobs = jobs
        self.reports_dir = reports_dir
        _, results = run_suites_at(repo, base, suites, jobs, self._dir("base"))
        self.last = {r.suite: r for r in results}

    def _dir(self, name: str) -> Path | None:
        return self.reports_dir / name if self.reports_dir is not None else None

    def __call__(self, pr: PatchReview) -> None:
        # what a suite compiles: its table globs plus the files its own sources #include
        need = [s for s in self.last if suites_affected(pr.files, s, tree=self.repo)]
        fresh = {}
        if need:
            _, results = run_suites_at(self.repo, pr.commit, need, self.jobs,
                                       self._dir(f"patch-{pr.index}"))
            fresh = {r.suite: r for r in results}
        out = []
        for name, prev in self.last.items():
            cur = fresh.get(name, prev)
            doc = cur.to_json()
            doc["reused"] = name not in fresh
            doc["previous"] = prev.status
            doc["changed"] = cur.status != prev.status
            out.append(doc)
            self.last[name] = cur
        pr.extra["unittests"] = out
