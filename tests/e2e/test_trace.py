"""End-to-end: `oms trace`, an order's events from every service's store in
causal order. A confirmed order, one cancelled by a declined card (with its
compensation), one stuck while payment is stopped (the trace says it waits
for payment); the traces are the same after every service restarted, and
after a store made before the per-order index is indexed at start; bad
input is refused."""

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import (CARD_DECLINED, CARD_OK, SERVICES, SETTLE_S, ClusterTest,  # noqa: E402
                     free_ports, poll, run, uid)

LINE = re.compile(r"^([+-]\d+\.\d{3})s +(\S+) +seq=(\d+) +(\S+) +"
                  r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)$")


class TraceCase(ClusterTest):
    #  Long enough that the stuck order stays RESERVED for the whole test.
    CLUSTER = {"saga_timeout_ms": 600000}

    def sku(self, qty=100, price=250):
        sku = f"SKU-{uid()}"
        self.cluster.stock_set(sku, qty, price)
        return sku

    def trace(self, order_id):
        """`oms trace ORDER_ID --json`, which must exit 0; (object, stderr)."""
        r = self.cluster.oms("trace", order_id, "--json")
        return json.loads(r.stdout), r.stderr

    def trace_with(self, order_id, count):
        """Polls until the trace has `count` events (the last ones, such as
        notification.sent, may come after `oms wait` returned)."""
        def complete():
            trace, _ = self.trace(order_id)
            got = [e["topic"] for e in trace["events"]]
            if len(got) != count:
                raise AssertionError(f"{order_id}: {got}")
            return trace
        return poll(complete, SETTLE_S, f"{count} events in the trace of {order_id}")

    def assert_causal(self, trace):
        """Every event comes after the event that caused it, the ids are
        producer/topic/seq, and since_prev_ns is the step from the line before."""
        events = trace["events"]
        index = {e["id"]: i for i, e in enumerate(events)}
        self.assertEqual(len(index), len(events), "no event twice")
        for i, e in enumerate(events):
            self.assertEqual(e["id"], f"{e['producer']}/{e['topic']}/{e['seq']}")
            cause = e["causation_id"]
            if cause in index:
                self.assertLess(index[cause], i, f"{e['id']} comes after its cause {cause}")
            prev = events[i - 1]["ts_ns"] if i else e["ts_ns"]
            self.assertEqual(e["since_prev_ns"], e["ts_ns"] - prev)

    def cause_of(self, trace, topic, which=0):
        events = trace["events"]
        found = [e for e in events if e["topic"] == topic][which]
        causes = [e for e in events if e["id"] == found["causation_id"]]
        return causes[0]["topic"] if causes else None

    def text_lines(self, order_id):
        r = self.cluster.oms("trace", order_id)
        lines = r.stdout.splitlines()
        return lines, r.stderr


class Trace(TraceCase):
    def test_confirmed_cancelled_and_stuck_orders_survive_restarts(self):
        sku = self.sku()
        customer = f"cust-{uid()}"

        # -- confirmed
        confirmed = self.cluster.place(customer, [(sku, 2)], "card", CARD_OK)
        self.assertEqual(self.cluster.wait(confirmed), "CONFIRMED")
        #  placed, reserved (+ the stock.updated it caused), completed,
        #  confirmed (+ the stock.updated of the commit), notification.
        trace = confirmed_trace = self.trace_with(confirmed, 7)
        self.assertEqual(trace["order_id"], confirmed)
        self.assertEqual(trace["status"], "CONFIRMED")
        self.assertIsNone(trace["waiting"])
        self.assertEqual(trace["unanswered"], [])
        self.assert_causal(trace)
        saga = [(e["producer"], e["topic"]) for e in trace["events"]
                if e["topic"] != "stock.updated"]
        self.assertEqual(saga, [("order", "order.placed"), ("inventory", "stock.reserved"),
                                ("payment", "payment.completed"), ("order", "order.confirmed"),
                                ("notification", "notification.sent")])
        self.assertTrue(trace["events"][0]["causation_id"].startswith("cmd/"))
        self.assertEqual(self.cause_of(trace, "stock.reserved"), "order.placed")
        self.assertEqual(self.cause_of(trace, "payment.completed"), "stock.reserved")
        self.assertEqual(self.cause_of(trace, "order.confirmed"), "payment.completed")
        self.assertEqual(self.cause_of(trace, "notification.sent"), "order.confirmed")
        self.assertEqual(sorted(self.cause_of(trace, "stock.updated", i) for i in (0, 1)),
                         ["order.confirmed", "order.placed"])
        #  The human form: a header, then one line per event in the same order.
        lines, _ = self.text_lines(confirmed)
        self.assertEqual(lines[0], f"{confirmed} CONFIRMED, 7 events")
        parsed = [LINE.match(line) for line in lines[1:]]
        self.assertTrue(all(parsed), lines)
        self.assertEqual([(m[2], int(m[3]), m[4]) for m in parsed],
                         [(e["producer"], e["seq"], e["topic"]) for e in trace["events"]])
        self.assertEqual(parsed[0][1], "+0.000")

        # -- cancelled by a declined card: the saga compensates
        declined = self.cluster.place(customer, [(sku, 1)], "card", CARD_DECLINED)
        self.assertEqual(self.cluster.wait(declined), "CANCELLED")
        #  placed, reserved, stock.updated (held), payment.failed, its
        #  notification, order.cancelled, its notification, stock.updated
        #  (released).
        cancelled = self.trace_with(declined, 8)
        self.assertEqual(cancelled["status"], "CANCELLED")
        self.assertIsNone(cancelled["waiting"])
        self.assert_causal(cancelled)
        self.assertEqual(Counter(e["topic"] for e in cancelled["events"]),
                         Counter({"order.placed": 1, "stock.reserved": 1, "stock.updated": 2,
                                  "payment.failed": 1, "order.cancelled": 1,
                                  "notification.sent": 2}))
        self.assertEqual(self.cause_of(cancelled, "order.cancelled"), "payment.failed")
        self.assertEqual(sorted(self.cause_of(cancelled, "stock.updated", i) for i in (0, 1)),
                         ["order.cancelled", "order.placed"],
                         "the release of the stock is in the trace, after the cancellation")
        self.assertEqual(sorted(self.cause_of(cancelled, "notification.sent", i) for i in (0, 1)),
                         ["order.cancelled", "payment.failed"])

        # -- stuck: payment is stopped, so the order stays RESERVED
        self.cluster.ctl("stop", "payment")
        try:
            stuck = self.cluster.place(customer, [(sku, 1)], "card", CARD_OK)
            poll(lambda: self.cluster.get(stuck)["status"] == "RESERVED", SETTLE_S,
                 f"{stuck} to be RESERVED")
            waiting, stderr = self.trace(stuck)
            self.assertEqual(waiting["status"], "RESERVED")
            self.assertEqual(waiting["unanswered"], ["payment"])
            self.assertRegex(stderr, r"(?m)^oms: warning: payment service .* did not answer.*"
                                     r"the trace goes on without payment's events$")
            self.assert_causal(waiting)
            reserved = [e for e in waiting["events"] if e["topic"] == "stock.reserved"]
            self.assertEqual(len(reserved), 1)
            self.assertEqual(waiting["waiting"], {"service": "payment",
                                                  "since_ns": reserved[0]["ts_ns"],
                                                  "after": "stock.reserved"})
            lines, _ = self.text_lines(stuck)
            self.assertRegex(lines[-1], r"^waiting for payment since \d+s \(stock\.reserved\)$")

            #  Every service that is up restarts: the traces read the stores.
            before = {o: self.trace(o)[0] for o in (confirmed, declined, stuck)}
            for service in SERVICES:
                if service != "payment":
                    self.cluster.ctl("restart", service)
            for order_id, trace in before.items():
                self.assertEqual(self.trace(order_id)[0], trace, f"{order_id} after restarts")
        finally:
            self.cluster.ctl("start", "payment")
        #  payment comes back and the stuck order goes on; the earlier
        #  traces gain payment's events, the same as before it stopped.
        self.assertEqual(self.cluster.wait(stuck), "CONFIRMED")
        done = self.trace_with(stuck, 7)
        self.assertIsNone(done["waiting"])
        self.assert_causal(done)
        self.assertEqual(self.trace(confirmed)[0], confirmed_trace)
        self.assertEqual(self.trace(declined)[0], cancelled)

    def test_a_pending_order_waits_for_inventory(self):
        sku = self.sku()
        customer = f"cust-{uid()}"
        #  Once an order of the SKU went through, the order service knows it.
        self.assertEqual(self.cluster.wait(self.cluster.place(customer, [(sku, 1)], "cod")),
                         "CONFIRMED")
        self.cluster.ctl("stop", "inventory")
        try:
            pending = self.cluster.place(customer, [(sku, 1)], "cod")
            trace, stderr = self.trace(pending)
            self.assertEqual(trace["status"], "PENDING")
            self.assertEqual([e["topic"] for e in trace["events"]], ["order.placed"])
            self.assertEqual(trace["waiting"]["service"], "inventory")
            self.assertEqual(trace["waiting"]["after"], "order.placed")
            self.assertEqual(trace["unanswered"], ["inventory"])
            self.assertIn("inventory", stderr)
        finally:
            self.cluster.ctl("start", "inventory")
        self.assertEqual(self.cluster.wait(pending), "CONFIRMED")

    def test_bad_input_is_refused(self):
        unknown = self.cluster.oms("trace", "o-999999999", check=False)
        self.assertEqual(unknown.returncode, 1)
        self.assertEqual(unknown.stdout, "")
        self.assertIn("unknown order o-999999999", unknown.stderr)
        for bad in ("o 1", "o-1;", "", "x" * 65):
            r = self.cluster.oms("trace", bad, check=False)
            self.assertEqual(r.returncode, 1, bad)
            self.assertIn("order id", r.stderr, bad)
            self.assertEqual(r.stdout, "", bad)
        r = self.cluster.oms("trace", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing argument", r.stderr)
        r = self.cluster.oms("trace", "o-1", "o-2", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("too many arguments", r.stderr)
        r = self.cluster.oms("trace", "o-1", "--follow", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--follow", r.stderr)

    def test_nothing_to_read_fails_after_one_timeout(self):
        sets = ["--set", "cli/timeout_ms=1000"]
        for service, port in zip(SERVICES, free_ports(len(SERVICES))):
            sets += ["--set", f"services/{service}/api=tcp://127.0.0.1:{port}"]
        started = time.monotonic()
        r = self.cluster.oms("trace", "o-1", *sets, check=False)
        took = time.monotonic() - started
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("no service answered: nothing to trace", r.stderr)
        for service in SERVICES:
            self.assertIn(f"the trace goes on without {service}'s events", r.stderr)
        self.assertLess(took, 3.5, "the services are asked at once, not one timeout each")


class OldStore(TraceCase):
    """A store made before the per-order index: the index is built once,
    when the service starts, and the trace is whole."""

    def strip_index(self, service):
        """Rewrites the stopped service's store as it was before the index:
        no by_order sub-database and no mark of it in meta."""
        store = self.cluster.home / service
        dump = subprocess.run(["mdb_dump", "-a", str(store)], capture_output=True, text=True,
                              check=True).stdout
        sections = dump.split("VERSION=3\n")[1:]
        kept = []
        mark = " " + b"by_order".hex()
        for section in sections:
            if "\ndatabase=by_order\n" in section:
                continue
            if "\ndatabase=meta\n" in section:
                lines = section.split("\n")
                at = lines.index(mark)
                del lines[at:at + 2]
                section = "\n".join(lines)
            kept.append("VERSION=3\n" + section)
        rebuilt = self.cluster.home / f"{service}.old"
        rebuilt.mkdir()
        subprocess.run(["mdb_load", str(rebuilt)], input="".join(kept), text=True,
                       capture_output=True, check=True)
        check = subprocess.run(["mdb_dump", "-a", str(rebuilt)], capture_output=True, text=True,
                               check=True).stdout
        self.assertNotIn("database=by_order", check)
        os.replace(rebuilt / "data.mdb", store / "data.mdb")
        (rebuilt / "lock.mdb").unlink()
        rebuilt.rmdir()

    def test_a_store_made_before_the_index_is_indexed_at_start(self):
        sku = self.sku()
        order_id = self.cluster.place(f"cust-{uid()}", [(sku, 1)], "card", CARD_OK)
        self.assertEqual(self.cluster.wait(order_id), "CONFIRMED")
        before = self.trace_with(order_id, 7)
        self.cluster.ctl("stop", "notification")
        self.strip_index("notification")
        self.cluster.ctl("start", "notification")
        log = (self.cluster.home / "log" / "notification.log").read_text()
        self.assertRegex(log, r"outbox: indexed 1 of 1 events by order")
        self.assertEqual(self.trace(order_id)[0], before)
        #  Once only: a second start has nothing to index.
        self.cluster.ctl("restart", "notification")
        log = (self.cluster.home / "log" / "notification.log").read_text()
        self.assertEqual(len(re.findall(r"outbox: indexed", log)), 1)
        self.assertEqual(self.trace(order_id)[0], before)


if __name__ == "__main__":
    run()
