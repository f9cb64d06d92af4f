"""End-to-end: the operator's view. `oms status` follows processes that die
and come back and the lag of a stopped subscriber; a poisoned event lands in
the dead-letter store and is retried exactly once; metrics over HTTP and
through the CLI; a service's event log through `oms events`."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import (CARD_OK, SETTLE_S, ClusterTest, Tail, free_ports, poll,  # noqa: E402
                     run, uid)

HEARTBEAT_MS = 200
#  A process is silent after 3 heartbeats unheard; leave room for a loaded machine.
SILENT_S = 3 * HEARTBEAT_MS / 1000 + 5
WALLET_LIMIT = 10 ** 15
METRICS_PORT = free_ports(1)[0]


class OpsCase(ClusterTest):
    CLUSTER = {"heartbeat_ms": HEARTBEAT_MS,
               "config": {"services/inventory/metrics": f"127.0.0.1:{METRICS_PORT}"}}

    def sku(self, qty=1000, price=100):
        sku = f"SKU-{uid()}"
        self.cluster.stock_set(sku, qty, price)
        return sku

    def status(self):
        """`oms status --json` as {process: row}, whatever its exit code."""
        r = self.cluster.oms("status", "--json", check=False)
        rows = json.loads(r.stdout)
        return {row["process"]: row for row in rows}

    def subscription(self, row, topic):
        found = [s for s in row["subscriptions"] if s["topic"] == topic]
        self.assertEqual(len(found), 1, f"{row['process']} subscriptions: {row['subscriptions']}")
        return found[0]

    def heard(self, name):
        """Waits until some process has heard `name`'s heartbeat: what
        `status` shows of it once it is gone comes from there."""
        poll(lambda: self.status()[name]["last_seen_ns"], SETTLE_S, f"a heartbeat of {name}")

    def ensure_up(self, name):
        if self.cluster.oms("status", name, check=False).returncode != 0:
            self.cluster.ctl("start", name)


class Health(OpsCase):
    def test_status_lists_every_process_up(self):
        def all_up():
            rows = self.status()
            self.assertEqual({name: row["state"] for name, row in rows.items()
                              if not row["up"]}, {})
            return rows
        rows = poll(all_up, SETTLE_S, "every process up")
        self.assertEqual(list(rows), ["broker", "order", "inventory", "payment", "notification"])
        for name, row in rows.items():
            self.assertEqual(row["state"], "up")
            self.assertTrue(row["instance"], name)
        self.assertEqual(rows["order"]["service"], "order", "the key scripts read")
        self.assertIn("counters", rows["order"])
        table = self.cluster.oms("status").stdout
        self.assertRegex(table, r"(?m)^PROCESS +HOST +STATE +IN/S +OUT/S")
        self.assertRegex(table, r"(?m)^broker +\S+ +up\b")
        self.assertRegex(table, r"(?m)^notification +\S+ +up +\d+ +\d+ +order +order\.confirmed")

    def test_killed_service_turns_silent_and_comes_back(self):
        self.heard("payment")
        try:
            self.cluster.ctl("kill", "payment")

            def silent():
                row = self.status()["payment"]
                self.assertFalse(row["up"])
                self.assertRegex(row["state"], r"^silent \d+s$")
                return row
            row = poll(silent, SILENT_S, "payment to be reported silent")
            self.assertIsNotNone(row["last_seen_ns"])
            r = self.cluster.oms("status", check=False)
            self.assertEqual(r.returncode, 1, "a process is not up")
            self.assertRegex(r.stdout, r"(?m)^payment +\S+ +silent \d+s")
            self.assertNotEqual(self.cluster.oms("status", "payment", check=False).returncode, 0)
            self.cluster.ctl("start", "payment")
            poll(lambda: self.status()["payment"]["state"] == "up", SETTLE_S,
                 "payment to be up again")
            self.cluster.oms("status", "payment")
        finally:
            self.ensure_up("payment")

    def test_lag_of_a_stopped_consumer_rises_then_falls_to_zero(self):
        sku = self.sku()
        self.heard("notification")
        try:
            self.cluster.ctl("stop", "notification")
            for _ in range(3):
                order_id = self.cluster.place(f"c-{uid()}", [(sku, 1)], "card", CARD_OK)
                self.assertEqual(self.cluster.wait(order_id), "CONFIRMED")

            def lagging():
                row = self.status()["notification"]
                self.assertRegex(row["state"], r"^silent \d+s$")
                sub = self.subscription(row, "order.confirmed")
                self.assertIsNotNone(sub["lag"], sub)
                self.assertGreaterEqual(sub["lag"], 3, sub)
                return sub
            sub = poll(lagging, SETTLE_S, "notification's lag on order.confirmed")
            self.assertEqual(sub["producer"], "order")
            self.assertEqual(sub["head"] - sub["position"], sub["lag"])
            table = self.cluster.oms("status", check=False).stdout
            self.assertRegex(table, r"(?m)^notification +\S+ +silent \d+s +- +- +order +"
                                    r"order\.confirmed +\d+ +\d+ +[1-9]\d*$")
            self.cluster.ctl("start", "notification")

            def caught_up():
                row = self.status()["notification"]
                self.assertTrue(row["up"], row["state"])
                lags = {s["topic"]: s["lag"] for s in row["subscriptions"]}
                self.assertEqual(set(lags.values()), {0}, lags)
                return True
            poll(caught_up, SETTLE_S, "notification to catch up")
        finally:
            self.ensure_up("notification")

    def test_watch_redraws_until_interrupted(self):
        proc = subprocess.Popen(self.cluster.cmd("status", "--watch", "0.2", "--json"),
                                env=self.cluster.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        lines = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout],
                                  daemon=True)
        reader.start()
        try:
            #  One JSON array a line, one line a round.
            for _ in range(2):
                rows = json.loads(lines.get(timeout=SETTLE_S))
                self.assertEqual(rows[0]["process"], "broker")
            proc.send_signal(signal.SIGINT)
            self.assertEqual(proc.wait(SETTLE_S), 0, proc.stderr.read())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(SETTLE_S)
            proc.stdout.close()
            proc.stderr.close()
        r = self.cluster.oms("status", "--watch", "0.01", check=False)
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertIn("--watch", r.stderr)


class DeadLetters(OpsCase):
    def test_poisoned_refund_is_dead_lettered_then_retried_once(self):
        #  The refund would take the wallet over its limit: payment fails it.
        sku = self.sku(price=500)
        customer, first, dead = self.cluster.dead_letter_a_refund(sku, WALLET_LIMIT)
        self.assertEqual(dead["topic"], "order.cancelled")
        self.assertRegex(dead["error"], r"refund")
        self.assertGreater(dead["size"], 0)
        table = self.cluster.oms("dlq", "list", "payment").stdout
        self.assertRegex(table, rf"(?m)^{dead['id']} +order\.cancelled +\d+[smhd] +.*refund")
        shown = self.cluster.json("dlq", "show", "payment", dead["id"])
        self.assertEqual(shown["event"]["data"]["order_id"], first)
        self.assertEqual(shown["event"]["type"], "order.cancelled")
        human = self.cluster.oms("dlq", "show", "payment", dead["id"]).stdout
        self.assertIn(f'"order_id": "{first}"', human)
        self.assertEqual(self.cluster.balance(customer), WALLET_LIMIT, "nothing refunded yet")

        #  Make room, then retry: the refund applies exactly once.
        second = self.cluster.place(customer, [(sku, 2)], "wallet")
        self.assertEqual(self.cluster.wait(second), "CONFIRMED")
        self.assertEqual(self.cluster.balance(customer), WALLET_LIMIT - 1000)
        r = self.cluster.oms("dlq", "retry", "payment", dead["id"])
        self.assertEqual(r.stdout.strip(), f"{dead['id']} order.cancelled applied")
        self.assertEqual(self.cluster.balance(customer), WALLET_LIMIT - 500)
        again = self.cluster.oms("dlq", "retry", "payment", dead["id"], check=False)
        self.assertEqual(again.returncode, 1)
        self.assertEqual(again.stdout, "")
        self.assertRegex(again.stderr, rf"^oms: .*dead letter {dead['id']}")
        self.assertEqual(self.cluster.balance(customer), WALLET_LIMIT - 500, "applied once")
        self.assertNotIn(dead["id"], {d["id"] for d in self.cluster.json("dlq", "list", "payment")})

        refunds = [e for e in self.events("payment", "--topic", "payment.refunded")
                   if e["data"]["order_id"] == first]
        self.assertEqual(len(refunds), 1, refunds)
        self.assertEqual(refunds[0]["data"]["amount_cents"], 500)
        self.assertEqual(refunds[0]["correlation_id"], first)

    def test_drop_and_bad_ids(self):
        r = self.cluster.oms("dlq", "drop", "payment", 999999, check=False)
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertIn("no dead letter 999999", r.stderr)
        for args in (["dlq", "show", "payment", "0"], ["dlq", "show", "payment", "x"],
                     ["dlq", "list", "nosuch"], ["dlq", "frob", "payment"],
                     ["dlq", "retry", "payment"]):
            with self.subTest(args=args):
                r = self.cluster.oms(*args, check=False)
                self.assertEqual((r.returncode, r.stdout), (1, ""))
                self.assertRegex(r.stderr, r"^oms: ")

    def events(self, service, *args):
        r = self.cluster.oms("events", service, "--json", *args)
        return [json.loads(line) for line in r.stdout.splitlines()]


class Metrics(OpsCase):
    @staticmethod
    def samples(text):
        """{series: value} of a Prometheus text exposition."""
        found = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                series, value = line.rsplit(" ", 1)
                found[series] = float(value)
        return found

    def test_http_endpoint_and_cli_agree(self):
        sku = self.sku()
        order_id = self.cluster.place(f"c-{uid()}", [(sku, 1)], "cod")
        self.assertEqual(self.cluster.wait(order_id), "CONFIRMED")
        url = f"http://127.0.0.1:{METRICS_PORT}/metrics"

        def agree():
            with urllib.request.urlopen(url, timeout=5) as response:
                self.assertEqual(response.status, 200)
                self.assertTrue(response.headers["Content-Type"].startswith("text/plain"))
                http = response.read().decode()
            cli = self.cluster.oms("metrics", "inventory").stdout
            scraped, told = self.samples(http), self.samples(cli)
            handled = 'oms_events_handled_total{process="inventory",topic="order.placed"}'
            self.assertGreaterEqual(scraped.get(handled, 0), 1, "inventory applied order.placed")
            self.assertEqual(set(scraped), set(told))
            totals = {k: v for k, v in scraped.items() if "_total{" in k}
            self.assertEqual(totals, {k: told[k] for k in totals})
            return http
        http = poll(agree, SETTLE_S, "the scraped metrics to match `oms metrics`")
        self.assertIn("# TYPE oms_events_handled_total counter", http)
        self.assertIn('oms_commands_total{process="inventory"}', http)
        self.assertRegex(http, r'(?m)^oms_outbox_head\{process="inventory",topic="stock\.updated"\} '
                               r'[1-9]')
        as_json = self.cluster.json("metrics", "inventory")
        self.assertIn("oms_events_handled_total", as_json["text"])


class Events(OpsCase):
    def placed(self, *args):
        r = self.cluster.oms("events", "order", "--topic", "order.placed", "--json", *args)
        return [json.loads(line) for line in r.stdout.splitlines()]

    def test_outbox_lists_placed_orders_in_order(self):
        sku = self.sku()
        customer = f"c-{uid()}"
        orders = [self.cluster.place(customer, [(sku, 1)], "cod") for _ in range(3)]
        for order_id in orders:
            self.cluster.wait(order_id)
        events = self.placed()
        self.assertEqual({e["topic"] for e in events}, {"order.placed"})
        seqs = [e["seq"] for e in events]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "dense, in order")
        mine = [e for e in events if e["data"]["customer"] == customer]
        self.assertEqual([e["data"]["order_id"] for e in mine], orders)
        self.assertEqual(mine[0]["id"], f"order/order.placed/{mine[0]['seq']}")

        later = self.placed("--from", mine[1]["seq"])
        self.assertEqual(later[0]["seq"], mine[1]["seq"])
        self.assertEqual([e["data"]["order_id"] for e in later
                          if e["data"]["customer"] == customer], orders[1:])

        human = self.cluster.oms("events", "order", "--topic", "order.placed", "--from",
                                 mine[2]["seq"]).stdout.splitlines()
        self.assertRegex(human[0], rf"^order\.placed seq={mine[2]['seq']} producer=order "
                                   rf"corr={orders[2]} data=\{{")

    def test_all_types_merge_by_time(self):
        sku = self.sku()
        self.cluster.wait(self.cluster.place(f"c-{uid()}", [(sku, 1)], "cod"))
        r = self.cluster.oms("events", "order", "--json")
        events = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertGreaterEqual({e["topic"] for e in events}, {"order.placed", "order.confirmed"})
        stamps = [e["ts_ns"] for e in events]
        self.assertEqual(stamps, sorted(stamps))

    def test_follow_prints_new_events(self):
        sku = self.sku()
        with Tail(self.cluster, ["events", "order", "--topic", "order.", "--follow",
                                 "--json", "--from", "1"]) as tail:
            order_id = self.cluster.place(f"c-{uid()}", [(sku, 1)], "cod")
            tail.wait_for(lambda e: e["topic"] == "order.confirmed"
                          and e["data"]["order_id"] == order_id, SETTLE_S,
                          "the new order's confirmation")
            self.cluster.wait(order_id)

    def test_rejections(self):
        for args, pattern in ((["events"], r"missing argument"),
                              (["events", "order", "--from", "0"], r"--from"),
                              (["events", "order", "--topic", "stock."], r"no topic"),
                              (["events", "nosuch"], r"unknown service")):
            with self.subTest(args=args):
                r = self.cluster.oms(*args, check=False)
                self.assertEqual((r.returncode, r.stdout), (1, ""))
                self.assertRegex(r.stderr, pattern)


class Resync(OpsCase):
    def test_nothing_to_skip_when_everything_is_retained(self):
        sku = self.sku()
        self.cluster.wait(self.cluster.place(f"c-{uid()}", [(sku, 1)], "cod"))
        answer = self.cluster.json("resync", "notification", "order.confirmed")
        self.assertEqual(answer["skipped"], 0, answer)
        self.assertEqual(answer["producer"], "order")
        self.assertEqual(answer["to"], answer["from"])
        self.assertEqual(answer["first"], 1, "order retains everything")
        r = self.cluster.oms("resync", "notification", "order.confirmed")
        self.assertRegex(r.stdout, r"^notification order\.confirmed: nothing to skip")
        r = self.cluster.oms("resync", "notification", "order.confirmed", "--to", "0",
                             check=False)
        if answer["from"] > 0:
            self.assertEqual(r.returncode, 1)
            self.assertRegex(r.stderr, r"apply events again")
        r = self.cluster.oms("resync", "notification", "stock.updated", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"does not subscribe")
        r = self.cluster.oms("resync", "notification", "order.confirmed", "--to",
                             10 ** 12, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"up to \d+ only")


if __name__ == "__main__":
    run()
