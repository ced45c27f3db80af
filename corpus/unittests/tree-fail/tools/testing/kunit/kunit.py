#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""rmaplint corpus: a stand-in for tools/testing/kunit/kunit.py — "build" does nothing,
"exec" prints the KTAP that the .kunitconfig's "# ktap:" comment names (pass or fail)."""
import sys
from pathlib import Path

PASS = """KTAP version 1
1..1
    KTAP version 1
    # Subtest: counter
    1..2
    ok 1 counter_add_test
    ok 2 counter_reset_test
    # counter: pass:2 fail:0 skip:0 total:2
    # Totals: pass:2 fail:0 skip:0 total:2
ok 1 counter
"""

FAIL = """KTAP version 1
1..1
    KTAP version 1
    # Subtest: counter
    1..3
    ok 1 counter_add_test
    # counter_limit_test: EXPECTATION FAILED at lib/fakekunit/counter_test.c:21
    Expected c.value == 3, but
        c.value == 2 (0x2)
    not ok 2 counter_limit_test
    ok 3 counter_reset_test # SKIP not ready
    # counter: pass:1 fail:1 skip:1 total:3
    # Totals: pass:1 fail:1 skip:1 total:3
not ok 1 counter
"""


def main(argv):
    action = argv[1] if len(argv) > 1 else ""
    conf = next((a.split("=", 1)[1] for a in argv if a.startswith("--kunitconfig=")), "")
    path = Path(conf)
    if path.is_dir():
        path = path / ".kunitconfig"
    text = path.read_text()
    if action == "build":
        print("[00:00:00] Building KUnit Kernel ...")
        return 0
    if action == "exec":
        print(FAIL if "# ktap: fail" in text else PASS, end="")
        return 1 if "# ktap: fail" in text else 0
    return 2


sys.exit(main(sys.argv))
