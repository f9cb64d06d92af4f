"""Two brokers, both in use: one is SIGKILLed for good in the middle of a
steady stream of orders and nothing notices but its own status row. Every
order settles, none twice (the books balance, stock is conserved), and the
services drop the second copies silently: duplicates are counted, never
taken for a gap. The killed broker then starts again and carries the
traffic alone once the other is killed too, with no other process
restarted.

Sizes come from the environment: OMS_BROKERS_ORDERS (3000) at
OMS_BROKERS_RATE (500/s) through `oms load`.
"""

import json
import os
import subprocess
import threading
import time
import unittest

from books import check_books
from cluster import BIN_DIR, CARD_OK, SCRIPTS, SERVICES, SETTLE_S, Cluster, poll, run, uid
from omsapi import Api, ApiError

ORDERS = int(os.environ.get("OMS_BROKERS_ORDERS", "3000"))
RATE = int(os.environ.get("OMS_BROKERS_RATE", "500"))
LOAD_SKUS = 5


def counters(cluster):
    """The sum of every service's status counters."""
    total = {}
    for service in SERVICES:
        for key, value in cluster.status(service).get("counters", {}).items():
            total[key] = total.get(key, 0) + value
    return total


def broker_row(cluster, name):
    """`oms status NAME --json`'s row (it exits 1 when NAME is down)."""
    r = cluster.oms("status", name, "--json", check=False)
    rows = json.loads(r.stdout)
    rows = rows if isinstance(rows, list) else [rows]
    row = next(r for r in rows if r["process"] == name)
    if r.returncode != (0 if row["up"] else 1):
        raise AssertionError(f"`oms status {name}` exited {r.returncode} with {row}")
    return row


class BrokersTest(unittest.TestCase):
    def test_a_broker_lost_mid_flow_loses_and_doubles_nothing_and_rejoins(self):
        with Cluster(name="brokers", brokers=2, heartbeat_ms=200,
                     config={"order/saga_timeout_ms": 600000}) as cluster:
            self.run_kill(cluster)

    def run_kill(self, cluster):
        for name in ("broker.0", "broker.1"):
            poll(lambda: broker_row(cluster, name)["up"], SETTLE_S, f"{name} up")
        tag = uid()
        sku, rich = f"B{tag}", f"rich-{tag}"
        cluster.stock_set(sku, 10 ** 6, price=500)
        cluster.credit(rich, 10 ** 9)
        cluster.place_when_known(cluster.place_args(rich, [(sku, 1)], "cod"), [sku])

        #  Beside the load, orders of our own, so the books can be read per order.
        api = Api({s: cluster.endpoint(s) for s in SERVICES})
        placed, errors, stop = [], [], threading.Event()

        def placer():
            i = 0
            while not stop.is_set():
                pay = ("wallet", "card", "cod")[i % 3]
                fields = {"customer": rich, "items": [{"sku": sku, "qty": 1}], "method": pay,
                          "request_id": f"brk-{tag}-{i}"}
                if pay == "card":
                    fields["card"] = CARD_OK
                try:
                    placed.append(api.call("order", "place", **fields)["order_id"])
                except ApiError as e:  # a broker's loss must not reach a client
                    errors.append(str(e))
                i += 1
                time.sleep(0.02)

        load = cluster.load_in_background(ORDERS, RATE, LOAD_SKUS)
        thread = threading.Thread(target=placer, daemon=True)
        thread.start()
        try:
            #  The middle of the run: half its orders sent.
            time.sleep(ORDERS / RATE / 2)
            killed_at = time.monotonic()
            cluster.ctl("kill", "broker.1")
            print(f"killed broker.1 at {killed_at:.3f}", flush=True)
            out, err = load.communicate(timeout=120 + ORDERS / RATE)
        finally:
            stop.set()
            thread.join(30)
            if load.poll() is None:
                load.kill()
                load.communicate()
        self.assertEqual(load.returncode, 0, err)
        self.assertEqual(errors, [])
        report = json.loads(out)
        print(f"load through the kill: {ORDERS} orders at {RATE}/s: max_ms={report['max_ms']} "
              f"p99_ms={report['p99_ms']} p50_ms={report['p50_ms']} polled={report['polled']} "
              f"duplicates={report['duplicates']}", flush=True)
        self.assertEqual(report["unfinished"], 0)
        self.assertEqual(report["refused"], 0)
        self.assertEqual(report["confirmed"] + report["cancelled"], ORDERS)
        #  The CLI dropped the second copies of the terminal events itself.
        self.assertEqual(report["duplicates"], 0)
        cluster.count_load_stock(report, LOAD_SKUS)

        try:
            books = check_books(cluster, api, placed, {rich: 10 ** 9}, SETTLE_S)
        finally:
            api.close()
        self.assertGreater(len(placed), 0)
        cluster.assert_conserved()
        seen = counters(cluster)
        print(f"services: {len(placed)} own orders; events_duplicate={seen['events_duplicate']} "
              f"events_gap={seen['events_gap']} replays_requested={seen['replays_requested']}",
              flush=True)
        #  Both brokers delivered until the kill: copies were dropped, and
        #  no copy (nor the lost broker) was taken for a gap.
        self.assertGreater(seen["events_duplicate"], 0)
        self.assertEqual(seen["events_gap"], 0)
        self.assertEqual(books.get("events_dead", 0), 0)

        row = broker_row(cluster, "broker.1")
        self.assertFalse(row["up"], row)
        self.assertTrue(broker_row(cluster, "broker.0")["up"])

        #  Back again, nothing else restarted; then the other one goes, so
        #  the orders after it can only have travelled through broker.1.
        pids = {n: p for n, p in cluster.pids().items() if n in SERVICES}
        cluster.ctl("start", "broker.1")
        poll(lambda: broker_row(cluster, "broker.1")["up"], SETTLE_S, "broker.1 up again")
        cluster.ctl("kill", "broker.0")
        after = cluster.place(rich, [(sku, 1)], "wallet")
        self.assertEqual(cluster.wait(after), "CONFIRMED")
        self.assertEqual({n: p for n, p in cluster.pids().items() if n in SERVICES}, pids)
        self.assertFalse(broker_row(cluster, "broker.0")["up"])
        cluster.ctl("start", "broker.0")
        poll(lambda: broker_row(cluster, "broker.0")["up"], SETTLE_S, "broker.0 up again")
        cluster.assert_conserved()

    def test_bad_broker_counts_and_indexes_are_refused(self):
        cluster = Cluster(name="brokerargs", brokers=2)
        cluster.prepare()
        try:
            broker = str(BIN_DIR / "broker" / "oms-broker")
            for args, needle in ((["--index", "2"], "the cluster has 2 brokers"),
                                 (["--index", "x"], "--index: 'x' is not from 0 to 7"),
                                 (["--set", "broker/count=9"], "broker/count")):
                with self.subTest(args=args):
                    r = subprocess.run([broker, "--config", str(cluster.config), *args],
                                       env=cluster.env, capture_output=True, text=True,
                                       timeout=30, stdin=subprocess.DEVNULL)
                    self.assertEqual(r.returncode, 2, r)
                    self.assertIn(needle, r.stderr)
            r = cluster.oms("status", "broker.7", check=False)
            self.assertEqual(r.returncode, 1)
            self.assertIn("unknown process: broker.7", r.stderr)
            for count in ("0", "9", "two"):
                r = subprocess.run([str(SCRIPTS / "oms-up"), "--brokers", count],
                                   env=cluster.env, capture_output=True, text=True, timeout=30,
                                   stdin=subprocess.DEVNULL)
                self.assertEqual(r.returncode, 1, r)
                self.assertIn("--brokers must be from 1 to 8", r.stderr)
            r = subprocess.run([str(SCRIPTS / "oms-ctl"), "start", "broker.2"], env=cluster.env,
                               capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("usage:", r.stderr)
        finally:
            cluster.stop()


if __name__ == "__main__":
    run()
