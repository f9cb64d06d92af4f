"""End-to-end: every scenario in tests/scenarios/, each run by `oms scenario`
on a fresh cluster of its own.

A scenario's `config KEY=VALUE` lines (docs/SCENARIOS.md) become the
cluster's configuration; `oms scenario` checks them again against the file
it is given. A scenario fails the test with its whole output. Scenarios run
OMS_SCENARIO_JOBS (default 3) at a time, each cluster on its own ports.

Also tests the command itself: a malformed file runs nothing and names its
lines, and a failing step fails the run.
"""

import os
import re
import subprocess
import sys
import tempfile
import unittest
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import CLI, SOURCE_DIR, Cluster, run, run_on_terminal  # noqa: E402

SCENARIOS = SOURCE_DIR / "tests" / "scenarios"
JOBS = max(1, int(os.environ.get("OMS_SCENARIO_JOBS", "3")))
RUN_TIMEOUT_S = 300
START_ATTEMPTS = 3
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")
CONFIG_LINE = re.compile(r"^\s*config\s+([a-z0-9_/]+)=(\S+)\s*(#.*)?$")
#  Keys the runner owns: every cluster has its own home and ports.
RESERVED_KEY = re.compile(r"^(home|broker/.*|services/.*)$")


def config_of(path):
    """The {key: value} of a scenario's config lines."""
    keys = {}
    for line in path.read_text().splitlines():
        m = CONFIG_LINE.match(line)
        if m:
            if RESERVED_KEY.match(m.group(1)):
                raise AssertionError(f"{path.name}: config {m.group(1)} is set by the runner")
            keys[m.group(1)] = m.group(2)
    return keys


def run_scenario(cluster, path):
    """Runs `oms scenario PATH` on the cluster; returns the CompletedProcess."""
    return subprocess.run(cluster.cmd("scenario", path), env=cluster.env, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)


def summary(output):
    """(passed, failed) from the last line of a run's output."""
    lines = output.strip().splitlines()
    m = SUMMARY.match(lines[-1]) if lines else None
    if not m:
        raise AssertionError(f"no summary line at the end of:\n{output}")
    return int(m.group(1)), int(m.group(2))


def start_cluster(name, config):
    """A started cluster, or why none could be started.

    Ports are picked free but may be taken by another process before the
    cluster binds them ("Address already in use"), all the more with other
    clusters starting at the same time: a cluster that does not start is
    tried again on fresh ports."""
    problems = []
    for _ in range(START_ATTEMPTS):
        cluster = Cluster(name=name, config=config)
        try:
            cluster.start()
            return cluster
        except AssertionError as e:
            problems.append(str(e))
            print(f"{name}: the cluster did not start, trying again: {e}", file=sys.stderr,
                  flush=True)
    return f"{name}: the cluster did not start:\n" + "\n".join(problems)


def run_file(path):
    """Runs one scenario file on its own cluster. Returns None when it passed,
    else the message to fail with."""
    cluster = start_cluster(path.stem, config_of(path))
    if isinstance(cluster, str):
        return cluster
    try:
        r = run_scenario(cluster, path)
        output = f"{r.stdout}{r.stderr}"
        problem = None
        if r.returncode != 0:
            problem = f"exited {r.returncode}"
        else:
            passed, failed = summary(r.stdout)
            steps = sum(1 for line in r.stdout.splitlines() if line.startswith("line "))
            if failed or passed != steps or " fail: " in r.stdout:
                problem = f"reported {passed} passed, {failed} failed for {steps} steps"
        if problem:
            cluster.failed = True
            return f"scenario {path.name} {problem}:\n{output}"
        print(f"{path.name}: {r.stdout.strip().splitlines()[-1]}", flush=True)
        return None
    except subprocess.TimeoutExpired as e:
        cluster.failed = True
        return f"scenario {path.name} did not finish within {RUN_TIMEOUT_S}s:\n{e.stdout or ''}"
    finally:
        cluster.stop(check=True)


class Scenarios(unittest.TestCase):
    def test_every_scenario_passes(self):
        files = sorted(SCENARIOS.glob("*.scn"))
        self.assertTrue(files, f"no scenarios in {SCENARIOS}")
        with ThreadPoolExecutor(max_workers=JOBS) as pool:
            outcomes = list(pool.map(run_file, files))
        failures = [o for o in outcomes if o]
        self.assertEqual(failures, [], "\n\n".join(failures))


class Command(unittest.TestCase):
    """`oms scenario` itself: what it reports for bad files and failing steps."""

    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="oms-e2e-scenario-"))

    def tearDown(self):
        for f in self.dir.iterdir():
            f.unlink()
        self.dir.rmdir()

    def write(self, text, name="s.scn"):
        path = self.dir / name
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    def oms(self, *args):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
        #  Nothing may be sent: no service listens on these ports.
        env["OMS_CLI_TIMEOUT_MS"] = "200"
        return subprocess.run([str(CLI), *map(str, args)], env=env, capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)

    def test_malformed_lines_are_named_and_nothing_runs(self):
        path = self.write("stock SKU-1 10\n"
                          "# a comment\n"
                          "\n"
                          "place a customer alice items SKU-1:0 pay cod\n"
                          "frobnicate\n"
                          "wait nobody\n"
                          'expect order x status "CONFIRMED\n'
                          "kill payment\n")
        r = self.oms("scenario", path)
        self.assertEqual(r.returncode, 1, r.stderr)
        lines = r.stdout.strip().splitlines()
        self.assertEqual(lines[-1], "0 passed, 4 failed")
        self.assertIn("line 4: fail: quantity must be a positive integer", lines[0])
        self.assertIn("line 5: fail: unknown step frobnicate", lines[1])
        self.assertIn("line 6: fail: no order named nobody", lines[2])
        self.assertIn("line 7: fail: unterminated quote", lines[3])
        self.assertEqual(len(lines), 5, r.stdout)

    def test_binary_and_oversized_input_is_refused_without_a_crash(self):
        r = self.oms("scenario", self.write(b"stock SKU-1 1\x00\nsleep 0\n" + b"x" * 5000 + b"\n"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("line 1: fail: control byte 0x00", r.stdout)
        self.assertIn("line 3: fail: line longer than 1024 bytes", r.stdout)
        self.assertTrue(r.stdout.endswith("0 passed, 2 failed\n"), r.stdout)
        big = self.write(b"# " + b"x" * (1024 * 1024), "big.scn")
        r = self.oms("scenario", big)
        self.assertEqual(r.returncode, 1)
        self.assertIn("larger than", r.stderr)
        r = self.oms("scenario", self.dir / "missing.scn")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read", r.stderr)
        r = self.oms("scenario", self.write("# nothing to do\n", "empty.scn"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("has no steps", r.stderr)

    def test_failing_steps_fail_the_run_and_the_rest_still_run(self):
        path = self.write("config order/saga_timeout_ms=1234\n"
                          "stock SKU-1 2 price 100\n"
                          "expect stock SKU-1 available 3 within 0.3\n"
                          "place a customer c1 items SKU-1:1 pay cod\n"
                          "expect-reject place customer c1 items SKU-1:1 pay cod\n"
                          "expect stock SKU-1 available 0 reserved 0 sold 2\n"
                          "sleep 0\n")
        cluster = start_cluster("scenario-command", {})
        if isinstance(cluster, str):
            self.fail(cluster)
        try:
            r = run_scenario(cluster, path)
        finally:
            cluster.stop(check=True)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("line 1: fail: config order/saga_timeout_ms=1234: this scenario needs "
                      "order/saga_timeout_ms=1234 but the configuration has 30000", r.stdout)
        self.assertIn("line 2: pass: stock SKU-1 2 price 100", r.stdout)
        self.assertRegex(r.stdout, r"line 3: fail: expect stock SKU-1 available 3 within 0.3: "
                                   r"SKU-1 available=2 .*\(after 0\.\d s\)")
        self.assertRegex(r.stdout, r"line 4: pass: place a .* \(o-\d+\)")
        self.assertRegex(r.stdout, r"line 5: fail: .*: placed o-\d+; a refusal was expected")
        self.assertIn("line 6: pass: ", r.stdout)
        self.assertIn("line 7: pass: sleep 0", r.stdout)
        self.assertEqual(summary(r.stdout), (4, 3))
        self.assertNotIn("\x1b", r.stdout, "no live line when the output is not a terminal")

    def test_a_terminal_sees_a_live_line_while_a_step_waits(self):
        path = self.write("stock SKU-1 2 price 100\n"
                          "expect stock SKU-1 available 3 within 1\n")
        cluster = start_cluster("scenario-progress", {})
        if isinstance(cluster, str):
            self.fail(cluster)
        try:
            code, _, text = run_on_terminal(cluster.cmd("scenario", path), cluster.env,
                                            timeout=RUN_TIMEOUT_S)
        finally:
            cluster.stop(check=True)
        self.assertEqual(code, 1, text)
        self.assertRegex(text, r"\r\x1b\[Kline 2: expect stock SKU-1 available 3 within 1 "
                               r"\(waiting \d\.\d of 1 s: SKU-1 available=2")
        #  Each report line starts on an erased line, so the live line never
        #  stays in front of it.
        self.assertIn("\r\x1b[Kline 2: fail: expect stock SKU-1 available 3 within 1", text)
        self.assertIn("1 passed, 1 failed", text)

if __name__ == "__main__":
    run()
