"""Clock changes: a saga's deadline and a process's liveness follow the
monotonic clock, not the wall clock, and a clock that is off is reported as
clock skew. One process's wall clock is moved with libfaketime (Debian's
faketime), its monotonic clock left alone, as when an operator or NTP steps
a machine's clock.
"""

import json
import subprocess
import tempfile
import unittest
from pathlib import Path

from cluster import SCRIPTS, Cluster, run, uid

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


class ClockTest(unittest.TestCase):
    def setUp(self):
        if not LIBFAKETIME.exists():
            raise AssertionError(f"{LIBFAKETIME} is missing: scripts/bootstrap installs faketime")
        self.offset = Path(tempfile.mkstemp(prefix="oms-e2e-clock-")[1])
        self.offset.write_text("+0\n")

    def tearDown(self):
        self.offset.unlink()

    def restart_with_a_movable_clock(self, cluster, name):
        """Restarts NAME with its wall clock at the offset in self.offset."""
        env = dict(cluster.env, LD_PRELOAD=str(LIBFAKETIME),
                   FAKETIME_TIMESTAMP_FILE=str(self.offset), FAKETIME_CACHE_DURATION="1",
                   FAKETIME_DONT_FAKE_MONOTONIC="1")
        #  A sanitizer build wants its runtime first among the libraries;
        #  libfaketime only wraps the clock calls, which it does not.
        asan = [o for o in env.get("ASAN_OPTIONS", "").split(":") if o]
        env["ASAN_OPTIONS"] = ":".join(asan + ["verify_asan_link_order=0"])
        r = subprocess.run([str(SCRIPTS / "oms-ctl"), "restart", name], env=env,
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def move_clock(self, offset):
        self.offset.write_text(offset + "\n")

    def test_a_saga_deadline_does_not_move_with_the_wall_clock(self):
        with Cluster(name="deadline", saga_timeout_ms=3000) as cluster:
            sku = f"sku-{uid()}"
            cluster.ensure_sku(sku, 10, 500)
            self.restart_with_a_movable_clock(cluster, "order")
            #  Nothing answers the order: it waits for its deadline.
            cluster.ctl("stop", "inventory")
            order = cluster.place(f"c-{uid()}", [(sku, 1)], "cod")
            self.move_clock("-3600")
            self.assertEqual(cluster.wait(order, timeout=20), "CANCELLED")
            self.assertIn("timeout", cluster.get(order).get("reason", ""))
            cluster.ctl("start", "inventory")

    def test_status_tells_liveness_by_age_and_reports_clock_skew(self):
        with Cluster(name="skew", heartbeat_ms=200) as cluster:
            self.restart_with_a_movable_clock(cluster, "order")
            self.move_clock("+3600")

            def skewed():
                entry = cluster.status("order")
                skew = entry.get("clock_skew_ns", 0)
                self.assertGreater(skew, 3500 * 10**9, entry)
                return entry

            cluster.poll(skewed, 10, "oms status reports order's clock an hour ahead")
            table = cluster.oms("status").stdout
            self.assertRegex(table, r"clock skew: order's clock is \d+[mh] ahead of this one's")

            #  order heard notification an hour "in the future": that must
            #  not keep a stopped notification looking alive.
            cluster.ctl("stop", "notification")

            def silent():
                r = cluster.oms("status", "--json", check=False)
                self.assertEqual(r.returncode, 1, "a stopped process fails `oms status`")
                [entry] = [e for e in json.loads(r.stdout) if e["process"] == "notification"]
                self.assertTrue(entry["state"].startswith("silent"), entry)
                return entry

            cluster.poll(silent, 10, "a stopped notification is reported silent")
            cluster.ctl("start", "notification")


if __name__ == "__main__":
    run()
