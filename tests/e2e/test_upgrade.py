"""A rolling upgrade, as docs/OPERATIONS.md describes it.

Every process is restarted in turn, one at a time and each only once the one
before is back, while `oms load` keeps placing orders: no order fails, each
ends CONFIRMED or CANCELLED, and stock is conserved.

Instances one minor apart (PROTOCOL.md section 9): an event of a newer minor
with a key this build does not know, published on the bus as a newer
inventory would, is applied by the order service, which then takes orders
for the SKU it names; the same event at minor 0 is refused and changes
nothing.

Sizes come from the environment: OMS_UPGRADE_ORDERS (3000) at
OMS_UPGRADE_RATE (300/s) through `oms load`.
"""

import json
import os
import time
import unittest

import msgpack
import zmq

from cluster import SERVICES, SETTLE_S, Cluster, poll, run, uid
from omsapi import Api, ApiError

ORDERS = int(os.environ.get("OMS_UPGRADE_ORDERS", "3000"))
RATE = int(os.environ.get("OMS_UPGRADE_RATE", "300"))
LOAD_SKUS = 5
#  The order docs/OPERATIONS.md gives: the broker first, then each service.
ROLL = ["broker", "inventory", "payment", "notification", "order"]
BACK_S = 60


def head(status, topic):
    return next((h["seq"] for h in status["heads"] if h["topic"] == topic), 0)


class UpgradeTest(unittest.TestCase):
    def test_a_restart_of_every_instance_in_turn_under_load_fails_no_order(self):
        with Cluster(name="upgrade", heartbeat_ms=200,
                     config={"order/saga_timeout_ms": 600000}) as cluster:
            self.roll(cluster)

    def back_up(self, cluster, name):
        """Polls until NAME answers and, for a service, has caught up."""
        def up():
            if name == "broker":
                r = cluster.oms("status", name, "--json", check=False)
                rows = json.loads(r.stdout) if r.stdout.strip() else []
                rows = rows if isinstance(rows, list) else [rows]
                return r.returncode == 0 and any(row.get("up") for row in rows)
            status = cluster.status(name)
            return not status.get("catching_up", True)
        poll(up, BACK_S, f"{name} back up")

    def roll(self, cluster):
        placed_before = head(cluster.status("order"), "order.placed")
        load = cluster.load_in_background(ORDERS, RATE, LOAD_SKUS)
        restarted = []
        try:
            #  Orders are flowing (the load's set-up is done) before the first
            #  restart, so that every restart meets orders in flight.
            poll(lambda: head(cluster.status("order"), "order.placed") > placed_before + RATE // 2,
                 SETTLE_S, "the load's first orders")
            for name in ROLL:
                self.assertIsNone(load.poll(), f"load ended before {name} restarted")
                started = time.monotonic()
                cluster.ctl("restart", name)
                self.back_up(cluster, name)
                restarted.append(name)
                print(f"{name} restarted and back in {time.monotonic() - started:.2f}s",
                      flush=True)
            out, err = load.communicate(timeout=120 + ORDERS / RATE)
        finally:
            if load.poll() is None:
                load.kill()
                load.communicate()
        self.assertEqual(restarted, ROLL)
        self.assertEqual(load.returncode, 0, err)
        report = json.loads(out)
        print(f"load through the roll: {ORDERS} orders at {RATE}/s: max_ms={report['max_ms']} "
              f"p99_ms={report['p99_ms']} p50_ms={report['p50_ms']} polled={report['polled']} "
              f"reconnects={report.get('reconnects')}", flush=True)
        self.assertEqual(report["unfinished"], 0)
        self.assertEqual(report["refused"], 0)
        self.assertEqual(report["confirmed"] + report["cancelled"], ORDERS)
        cluster.count_load_stock(report, LOAD_SKUS)
        cluster.assert_conserved()

    def test_an_event_of_a_newer_minor_is_applied_and_its_new_keys_skipped(self):
        with Cluster(name="minor", heartbeat_ms=200) as cluster:
            self.newer_minor(cluster)

    def newer_minor(self, cluster):
        tag = uid()
        known, sku = f"M{tag}-known", f"M{tag}-new"
        cluster.stock_set(known, 10, price=100)
        cluster.place_when_known(cluster.place_args(f"c-{tag}", [(known, 1)], "cod"), [known])
        api = Api({s: cluster.endpoint(s) for s in SERVICES})
        context = zmq.Context()
        pub = context.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        pub.connect(cluster.endpoint("broker/frontend"))
        try:
            #  The next catalog.updated of inventory's store, as it would
            #  write it: its epoch, the seq after its head.
            last = api.outbox("inventory", "catalog.updated")[-1]
            seq = last["seq"] + 1

            def event(minor):
                body = {"version": 1, "id": f"inventory/catalog.updated/{seq}",
                        "type": "catalog.updated", "producer": "inventory",
                        "epoch": last["epoch"], "seq": seq, "ts_ns": time.time_ns()}
                if minor is not None:
                    body["minor"] = minor
                body["shelf"] = "A-7"
                body["data"] = {"sku": sku, "price_cents": 250, "currency": "EUR"}
                return [b"catalog.updated", msgpack.packb(body)]

            def rejected():
                return api.call("order", "status")["counters"]["events_rejected"]

            def places():
                try:
                    api.call("order", "place", customer=f"c-{tag}", method="cod",
                             items=[{"sku": sku, "qty": 1}], request_id=f"minor-{tag}")
                    return True
                except ApiError as e:
                    if "unknown sku" not in str(e):
                        raise
                    return False

            #  Minor 0 (or none): the unknown keys are refused, nothing applied.
            for minor in (None, 0):
                before = rejected()

                def refused():
                    if rejected() > before:
                        return True
                    pub.send_multipart(event(minor))   # until the broker passes it on
                    return False
                poll(refused, SETTLE_S, f"order to refuse a minor {minor} event with new keys",
                     interval=0.1)
                self.assertFalse(places(), f"minor {minor}: the SKU must stay unknown")

            #  Minor 1: the same event is applied and its new keys skipped.
            rejected_before = rejected()

            def applied():
                if places():
                    return True
                pub.send_multipart(event(1))
                return False
            poll(applied, SETTLE_S, "order to apply a minor 1 event and take orders for its SKU",
                 interval=0.1)
            self.assertEqual(rejected(), rejected_before, "the minor 1 event was not refused")
        finally:
            pub.close()
            context.term()
            api.close()


if __name__ == "__main__":
    run()
