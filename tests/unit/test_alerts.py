"""The shipped Prometheus alert rules are valid (promtool check rules) and
fire as alerts_test.yml expects (promtool test rules).

promtool comes with Debian's prometheus package, which scripts/bootstrap
installs; without it the test is skipped (exit 77), saying so.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("OMS_SOURCE_DIR") or Path(__file__).resolve().parents[2])
RULES = SOURCE_DIR / "scripts" / "prometheus" / "oms-alerts.yml"
RULE_TESTS = SOURCE_DIR / "tests" / "unit" / "alerts_test.yml"
SKIP = 77


def promtool(*args):
    r = subprocess.run(["promtool", *map(str, args)], capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    print(f"$ promtool {' '.join(map(str, args))}\n{r.stdout}{r.stderr}", end="")
    return r.returncode


def main():
    if shutil.which("promtool") is None:
        print("SKIP: promtool is not installed (Debian package prometheus; scripts/bootstrap "
              "installs it)")
        return SKIP
    failed = 0
    failed += promtool("check", "rules", RULES) != 0
    failed += promtool("test", "rules", RULE_TESTS) != 0
    print(f"{2 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
