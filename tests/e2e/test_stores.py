"""A store lost, damaged or doubled: a service never takes a missing or empty
store as new, never dies of a truncated one without a word, never runs twice
on one store; and a producer whose store was made anew stops its
subscribers instead of having its events dropped as duplicates or applied
twice.
"""

import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import msgpack
import zmq

from cluster import BIN_DIR, CARD_OK, SCRIPTS, Cluster, poll, run, uid

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


    def test_on_a_full_disk_reads_still_answer_and_writes_say_why(self):
        disk = Path(tempfile.mkdtemp(prefix="oms-e2e-disk-"))
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
                                 capture_output=True, text=True)
        if mounted.returncode != 0:
            disk.rmdir()
            self.skipTest(f"cannot mount a small file system here: {mounted.stderr.strip()}")
        try:
            self.full_disk(disk)
        finally:
            subprocess.run(["umount", "-l", str(disk)], check=False)
            disk.rmdir()

    def full_disk(self, disk):
        store = disk / "inventory"
        with Cluster(name="fulldisk", config={"services/inventory/store": store}) as cluster:
            sku = f"sku-{uid()}"
            cluster.stock_set(sku, 10, 500)
            fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
            try:
                while os.write(fd, bytes(65536)):
                    pass
            except OSError:
                pass  #  the disk is full
            finally:
                os.close(fd)

            context = zmq.Context()
            sock = context.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(cluster.endpoint("inventory"))
            try:
                #  A write and a read sent together share a turn of the loop:
                #  the read must not share the write's failed commit.
                refused = None
                for i in range(200):
                    sock.send_multipart([b"", msgpack.packb(
                        {"cmd": "stock.set", "sku": f"{sku}-{i}", "qty": 1, "price_cents": 1})])
                    sock.send_multipart([b"", msgpack.packb({"cmd": "stock.get", "sku": sku})])
                    replies = []
                    for _ in range(2):
                        self.assertTrue(sock.poll(10000), "inventory did not answer")
                        replies.append(msgpack.unpackb(sock.recv_multipart()[-1], raw=False))
                    gets = [r for r in replies if r.get("ok") and r.get("sku") == sku]
                    sets = [r for r in replies if r not in gets]
                    self.assertEqual(len(gets), 1, f"the read failed beside a write: {replies}")
                    self.assertEqual(gets[0]["available"], 10)
                    if sets and not sets[0].get("ok"):
                        refused = sets[0]
                        break
                self.assertIsNotNone(refused, "200 writes fitted on a full 4 MiB disk")
                self.assertIn(f"the disk holding the store at {store} is full", refused["error"])
                self.assertEqual(refused["code"], -19)
                r = cluster.oms("status", "inventory")
                self.assertIn("inventory", r.stdout)

                #  Many more failed writes, few log lines.
                for i in range(50):
                    sock.send_multipart([b"", msgpack.packb(
                        {"cmd": "stock.set", "sku": f"{sku}-x{i}", "qty": 1, "price_cents": 1})])
                    self.assertTrue(sock.poll(10000), "inventory did not answer")
                    self.assertFalse(msgpack.unpackb(sock.recv_multipart()[-1], raw=False)["ok"])
                log = (cluster.home / "log" / "inventory.log").read_text()
                lines = [line for line in log.splitlines() if "is full" in line]
                self.assertLessEqual(len(lines), 4, "\n".join(lines[:10]))

                #  Room again: writes go through.
                (disk / "filler").unlink()
                cluster.stock_set(f"{sku}-after", 1, 1)
            finally:
                sock.close()
                context.term()


if __name__ == "__main__":
    run()
