"""A store lost, damaged or doubled: a service never takes a missing or empty
store as new, never dies of a truncated one without a word, never runs twice
on one store; and a producer whose store was made anew stops its
subscribers instead of having its events dropped as duplicates or applied
twice.
"""

import shutil
import subprocess
import unittest

from cluster import BIN_DIR, CARD_OK, SCRIPTS, Cluster, run, uid

START_S = 60


class StoreTest(unittest.TestCase):
    def ctl(self, cluster, action, name):
        """scripts/oms-ctl ACTION NAME, which may fail: the finished process."""
        return subprocess.run([str(SCRIPTS / "oms-ctl"), action, name], env=cluster.env,
                              capture_output=True, text=True, timeout=START_S,
                              stdin=subprocess.DEVNULL)

    def program(self, cluster, name, *args):
        """Runs oms-NAME on the cluster's configuration in the foreground."""
        try:
            return subprocess.run(
                [str(BIN_DIR / "services" / name / f"oms-{name}"), "--config",
                 str(cluster.config), *args],
                env=cluster.env, capture_output=True, text=True, timeout=START_S,
                stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"oms-{name} ran on for {START_S}s instead of refusing") from None

    def settled_order(self, cluster):
        sku, customer = f"sku-{uid()}", f"c-{uid()}"
        cluster.ensure_sku(sku, 10, 500)
        order = cluster.place(customer, [(sku, 1)], "card", card=CARD_OK)
        self.assertEqual(cluster.wait(order), "CONFIRMED")
        return order

    def test_a_lost_or_empty_store_is_refused_until_it_is_restored(self):
        with Cluster(name="lost") as cluster:
            order = self.settled_order(cluster)
            cluster.ctl("stop", "payment")
            store = cluster.home / "payment"
            aside = cluster.home / "payment.backup"
            shutil.copytree(store, aside)

            shutil.rmtree(store)
            refused = self.ctl(cluster, "start", "payment")
            self.assertNotEqual(refused.returncode, 0, "started on a lost store")
            self.assertIn(f"no store at {store}", refused.stderr)
            self.assertFalse((store / "data.mdb").exists(), "a store was made all the same")

            store.mkdir()
            (store / "data.mdb").write_bytes(b"")
            refused = self.ctl(cluster, "start", "payment")
            self.assertNotEqual(refused.returncode, 0, "started on an empty data file")
            self.assertIn(f"{store}/data.mdb is missing or empty", refused.stderr)

            shutil.rmtree(store)
            shutil.copytree(aside, store)
            cluster.ctl("start", "payment")
            self.assertEqual(cluster.get(order)["status"], "CONFIRMED")
            self.settled_order(cluster)

    def test_a_truncated_store_is_refused_with_a_message_not_a_signal(self):
        with Cluster(name="truncated") as cluster:
            self.settled_order(cluster)
            cluster.ctl("stop", "inventory")
            data = cluster.home / "inventory" / "data.mdb"
            size = data.stat().st_size
            self.assertGreater(size, 3 * 4096)
            with open(data, "r+b") as f:
                f.truncate(2 * 4096)
            r = self.program(cluster, "inventory")
            self.assertEqual(r.returncode, 1, f"exit {r.returncode} (negative: killed by a "
                             f"signal): {r.stderr}")
            self.assertIn(f"{data} is truncated", r.stderr)
            self.assertIn("Restore the store from a backup", r.stderr)

    def test_a_second_copy_of_a_service_exits_at_once(self):
        with Cluster(name="twice") as cluster:
            pid = cluster.pids()["payment"]
            r = self.program(cluster, "payment")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"already running (pid {pid})", r.stderr)
            #  The first copy still owns its api and store.
            self.settled_order(cluster)
            self.assertEqual(cluster.pids()["payment"], pid)

    def test_a_producer_with_a_new_store_stops_its_subscribers(self):
        #  The new payment store, made on purpose, starts its seqs again at 1
        #  (and, having no positions, works through what inventory retains):
        #  order must neither drop its events as duplicates nor apply them.
        with Cluster(name="epoch") as cluster:
            self.settled_order(cluster)
            cluster.ctl("stop", "payment")
            shutil.rmtree(cluster.home / "payment")
            made = self.ctl(cluster, "init", "payment")
            self.assertEqual(made.returncode, 0, made.stderr)
            cluster.ctl("start", "payment")

            def stopped():
                order = cluster.status("order")
                for entry in order.get("positions", []):
                    if entry.get("producer") == "payment" and entry.get("stopped") is True:
                        return entry
                raise AssertionError(f"no payment subscription stopped: {order}")

            cluster.poll(stopped, 30, "order stops its subscription to payment's events")
            log = (cluster.home / "log" / "order.log").read_text()
            self.assertIn("STOPPED: producer payment now has store epoch", log)
            metrics = cluster.oms("metrics", "order").stdout
            self.assertRegex(metrics, r'oms_subscriptions_stopped_total\{[^}]*\} [1-9]')


if __name__ == "__main__":
    run()
