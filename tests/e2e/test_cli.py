"""End-to-end: the oms CLI's contract, rejections, event tail, process
control with scripts/oms-ctl, and clusters side by side."""

import json
import os
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import (BIN_DIR, CARD_OK, SCRIPTS, SETTLE_S, Cluster, ClusterTest, alive,  # noqa: E402
                     poll, run, run_on_terminal, uid)
from omsapi import Api  # noqa: E402


class CliCase(ClusterTest):
    def sku(self, qty=100, price=100):
        sku = f"SKU-{uid()}"
        self.cluster.stock_set(sku, qty, price)
        return sku

    def assertRejected(self, args, pattern, exit_code=1):
        """`oms ARGS` exits exit_code, prints nothing on stdout and a message
        matching pattern (case-insensitive) on stderr."""
        r = self.cluster.oms(*args, check=False)
        shown = f"`oms {' '.join(map(str, args))}`"
        self.assertEqual(r.returncode, exit_code,
                         f"{shown} exited {r.returncode}: {r.stdout!r} {r.stderr!r}")
        self.assertEqual(r.stdout.strip(), "", f"{shown} printed on stdout")
        self.assertRegex(r.stderr.lower(), pattern, f"{shown}: unclear error")
        return r


class Rejections(CliCase):
    def setUp(self):
        super().setUp()
        #  A SKU the order service knows, so that only the rejected part of
        #  each command is wrong.
        self.known = self.sku()
        self.cluster.place(f"cust-{uid()}", [(self.known, 1)], "cod")

    def place_args(self, items=None, customer="cust-x", pay="cod", card=None):
        items = [(self.known, 1)] if items is None else items
        return self.cluster.place_args(customer, items, pay, card)

    def test_unknown_sku_is_rejected(self):
        self.assertRejected(self.place_args([(f"NOPE-{uid()}", 1)]), r"unknown sku")

    def test_malformed_items_are_rejected(self):
        cases = {
            f"{self.known}:0": r"qty|quantity",
            f"{self.known}:-1": r"qty|quantity",
            f"{self.known}5": r"item|sku:qty|colon",
            ":3": r"item|sku",
            f"{self.known}:x": r"item|qty|quantity|number",
            f"{self.known}:": r"item|qty|quantity|number",
        }
        for item, pattern in cases.items():
            with self.subTest(item=item):
                args = ["place", "--customer", "cust-x", "--item", item, "--pay", "cod"]
                self.assertRejected(args, pattern)

    def test_more_than_64_items_are_rejected(self):
        items = [(f"MANY-{i}", 1) for i in range(65)]
        r = self.assertRejected(self.place_args(items), r"too many|at most|64|limit|max")
        self.assertNotIn("unknown sku", r.stderr.lower())

    def test_64_items_are_accepted(self):
        skus = [self.sku(5, 1) for _ in range(64)]
        order_id = self.cluster.place(f"cust-{uid()}", [(s, 1) for s in skus], "cod")
        self.assertEqual(self.cluster.wait(order_id), "CONFIRMED")
        self.assertEqual(self.cluster.get(order_id)["total_cents"], 64)

    def test_missing_customer_is_rejected(self):
        self.assertRejected(self.place_args(customer=None), r"customer")

    def test_malformed_payment_method_is_rejected(self):
        self.assertRejected(self.place_args(pay="Bit Coin"), r"pay|method")

    def placed_head(self):
        """The order service's newest order.placed seq: one more per order."""
        api = Api({"order": self.cluster.endpoint("order")})
        try:
            heads = api.call("order", "status")["heads"]
        finally:
            api.close()
        return next(h["seq"] for h in heads if h["topic"] == "order.placed")

    def test_unknown_payment_method_is_refused_at_placement(self):
        #  The protocol lists the methods payment has, so an order that
        #  names another is refused before it exists, not cancelled later.
        before = self.placed_head()
        r = self.assertRejected(self.place_args(pay="bitcoin"), r"payment method.*bitcoin")
        for known in ("card", "wallet", "upi", "cod"):
            self.assertIn(known, r.stderr, "the message names the methods there are")
        self.assertEqual(self.placed_head(), before, "no order was placed")

    def test_card_payment_needs_a_card(self):
        self.assertRejected(self.place_args(pay="card"), r"card")

    def test_bad_card_numbers_are_rejected(self):
        for card in ["4242-4242", "42x2", "1" * 20, ""]:
            with self.subTest(card=card):
                self.assertRejected(self.place_args(pay="card", card=card), r"card")

    def test_get_of_an_unknown_order_fails(self):
        r = self.cluster.oms("get", f"no-such-order-{uid()}", check=False)
        self.assertEqual(r.returncode, 1, r)
        self.assertTrue(r.stderr.strip(), "an error message on stderr")
        self.assertEqual(r.stdout.strip(), "")

    def test_wait_for_an_unknown_order_fails(self):
        r = self.cluster.oms("wait", f"no-such-order-{uid()}", "--timeout", 1, check=False)
        self.assertEqual(r.returncode, 1, r)

    def test_new_sku_needs_a_price(self):
        r = self.cluster.oms("stock", "set", f"SKU-{uid()}", 5, check=False)
        self.assertNotEqual(r.returncode, 0, r)
        self.assertTrue(r.stderr.strip(), "an error message on stderr")


class JsonOutput(CliCase):
    def test_json_outputs_have_the_contract_keys(self):
        sku = self.sku(10, 125)
        customer = f"cust-{uid()}"
        args = self.cluster.place_args(customer, [(sku, 2)], "wallet")
        self.cluster.credit(customer, 1000)
        self.cluster.place(customer, [(sku, 1)], "cod")     #  the catalog knows sku now
        placed = self.cluster.json(*args)
        self.assertEqual(set(placed), {"order_id"})
        order_id = placed["order_id"]
        self.cluster.orders.append(order_id)
        self.assertEqual(self.cluster.wait(order_id), "CONFIRMED")

        order = self.cluster.get(order_id)
        self.assertLessEqual({"order_id", "status", "customer", "items", "total_cents",
                              "method"}, set(order))
        self.assertEqual((order["status"], order["customer"], order["total_cents"],
                          order["method"]), ("CONFIRMED", customer, 250, "wallet"))
        self.assertEqual(order["items"], [{"sku": sku, "qty": 2}])

        stock = self.cluster.stock(sku)
        self.assertLessEqual({"sku", "available", "reserved", "sold", "price_cents"}, set(stock))
        self.assertEqual((stock["sku"], stock["price_cents"]), (sku, 125))

        wallet = self.cluster.json("wallet", "get", customer)
        self.assertEqual(wallet, {"customer": customer, "balance_cents": 750})

        notes = poll(lambda: self.cluster.notifications(order=order_id), SETTLE_S,
                     f"a notification for {order_id}")
        self.assertIsInstance(notes, list)
        self.assertEqual(set(notes[0]), {"order_id", "kind", "channel", "text"})
        self.assertEqual((notes[0]["order_id"], notes[0]["kind"]), (order_id, "confirmed"))

        for service in ("order", "inventory", "payment", "notification"):
            with self.subTest(service=service):
                self.assertIsInstance(self.cluster.status(service), dict)

    def test_cancelled_order_has_a_reason(self):
        sku = self.sku(1, 100)
        order_id = self.cluster.place(f"cust-{uid()}", [(sku, 2)], "cod")
        self.assertEqual(self.cluster.wait(order_id), "CANCELLED")
        order = self.cluster.get(order_id)
        self.assertEqual(order["status"], "CANCELLED")
        self.assertTrue(order.get("reason"))

    def test_tail_shows_the_events_of_an_order(self):
        sku = self.sku(10, 100)
        request_id = f"req-{uid()}"
        saga = [("order.placed", "order"), ("stock.reserved", "inventory"),
                ("payment.completed", "payment"), ("order.confirmed", "order")]
        with self.cluster.tail() as tail:
            order_id = self.cluster.place(f"cust-{uid()}", [(sku, 1)], "card", CARD_OK,
                                          request_id=request_id)
            self.assertEqual(self.cluster.wait(order_id), "CONFIRMED")
            events = {}
            for type_, _ in saga:
                hits = tail.wait_for(lambda e, t=type_: e.get("type") == t
                                     and e.get("correlation_id") == order_id,
                                     SETTLE_S, f"{type_} of {order_id} on `oms tail`")
                self.assertEqual(len(hits), 1, hits)
                events[type_] = hits[0]
        keys = {"topic", "id", "type", "producer", "seq", "ts_ns", "correlation_id",
                "causation_id", "data"}
        for type_, producer in saga:
            e = events[type_]
            self.assertLessEqual(keys, set(e), e)
            self.assertEqual((e["topic"], e["producer"]), (type_, producer), e)
            self.assertEqual(e["id"], f"{producer}/{type_}/{e['seq']}")
            self.assertEqual(e["data"]["order_id"], order_id)
        #  Each step was caused by the one before it.
        self.assertEqual(events["order.placed"]["causation_id"], f"cmd/{request_id}")
        for (cause, _), (effect, _) in zip(saga, saga[1:]):
            self.assertEqual(events[effect]["causation_id"], events[cause]["id"], effect)

    def test_tail_stops_after_count_events(self):
        r = self.cluster.oms("tail", "heartbeat.", "--json", "--count", 3, "--timeout", 10)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 3, r.stdout)
        for line in lines:
            self.assertTrue(json.loads(line)["topic"].startswith("heartbeat."), line)


class ProcessControl(CliCase):
    def confirm_one(self, sku):
        order_id = self.cluster.place(f"cust-{uid()}", [(sku, 1)], "card", CARD_OK)
        self.assertEqual(self.cluster.wait(order_id), "CONFIRMED")
        poll(lambda: self.cluster.notifications(order=order_id), SETTLE_S,
             f"the notification of {order_id}")
        return order_id

    def test_killed_and_started_services_keep_the_cluster_working(self):
        sku = self.sku(100, 100)
        self.confirm_one(sku)
        for name in ("broker", "order", "inventory", "payment", "notification"):
            with self.subTest(killed=name):
                self.cluster.ctl("kill", name)
                self.cluster.ctl("start", name)
                self.confirm_one(sku)
        stock = self.cluster.stock(sku)
        self.assertEqual((stock["available"], stock["sold"]), (94, 6))

    def test_order_placed_while_inventory_is_down_completes_after_start(self):
        sku = self.sku(10, 100)
        self.confirm_one(sku)
        self.cluster.ctl("kill", "inventory")
        try:
            order_id = self.cluster.place(f"cust-{uid()}", [(sku, 2)], "cod")
            self.assertEqual(self.cluster.get(order_id)["status"], "PENDING")
        finally:
            self.cluster.ctl("start", "inventory")
        self.assertEqual(self.cluster.wait(order_id), "CONFIRMED")

    def test_restart_keeps_the_data(self):
        sku = self.sku(10, 100)
        customer = f"cust-{uid()}"
        self.cluster.credit(customer, 321)
        order_id = self.confirm_one(sku)
        for name in ("order", "inventory", "payment", "notification"):
            self.cluster.ctl("restart", name)
        self.assertEqual(self.cluster.get(order_id)["status"], "CONFIRMED")
        self.assertEqual(self.cluster.stock(sku)["sold"], 1)
        self.assertEqual(self.cluster.balance(customer), 321)
        self.assertEqual(len(self.cluster.notifications(order=order_id)), 1)


class SideBySide(CliCase):
    def test_two_clusters_run_side_by_side(self):
        here = self.cluster
        with Cluster(name="second", heartbeat_ms=250) as there:
            self.assertNotEqual(here.home, there.home)
            sku = f"SKU-{uid()}"
            here.stock_set(sku, 10, 100)
            there.stock_set(sku, 20, 300)
            mine, theirs = f"cust-{uid()}", f"cust-{uid()}"
            a = here.place(mine, [(sku, 1)], "cod")
            b = there.place(theirs, [(sku, 2)], "cod")
            self.assertEqual(here.wait(a), "CONFIRMED")
            self.assertEqual(there.wait(b), "CONFIRMED")
            self.assertEqual(here.get(a)["total_cents"], 100)
            self.assertEqual(there.get(b)["total_cents"], 600)
            there.assert_conserved()
            here.assert_conserved()
            self.assertEqual(here.stock(sku)["sold"], 1)
            self.assertEqual(there.stock(sku)["sold"], 2)
            self.assertEqual(there.notifications(customer=mine), [])
            self.assertEqual(here.notifications(customer=theirs), [])
            r = there.oms("get", a, check=False)
            if r.returncode == 0:   #  order ids are per cluster: it may be one of its own
                self.assertNotEqual(json.loads(there.oms("get", a, "--json").stdout)["customer"],
                                    mine)


class Scripts(CliCase):
    """scripts/oms-up, oms-down and oms-ctl, beyond what every test uses."""

    def run_script(self, env, *args):
        return subprocess.run([str(SCRIPTS / args[0]), *args[1:]], env=env, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)

    def test_oms_up_leaves_running_processes_alone(self):
        before = self.cluster.pids()
        r = self.run_script(self.cluster.env, "oms-up")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "", "nothing was started")
        self.assertEqual(r.stderr.count("already running"), 5, r.stderr)
        self.assertEqual(self.cluster.pids(), before)
        self.cluster.oms("status")

    def test_oms_up_without_programs_fails_clearly(self):
        with tempfile.TemporaryDirectory() as empty:
            env = dict(self.cluster.env, OMS_BIN_DIR=empty, OMS_HOME=os.path.join(empty, "home"))
            r = self.run_script(env, "oms-up")
            self.assertEqual(r.returncode, 1, r)
            self.assertIn(os.path.join(empty, "broker", "oms-broker"), r.stderr)
            self.assertIn("missing program", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(empty, "home", "run")),
                             "nothing was started")

    def test_oms_up_reports_a_process_that_fails_to_start(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        broken = Cluster(name="broken", config={
            "services/payment/api": f"tcp://127.0.0.1:{busy.getsockname()[1]}"})
        try:
            broken.prepare()
            r = self.run_script(broken.env, "oms-up")
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("payment exited during start-up", r.stderr)
            self.assertIn("Address already in use", r.stderr, "the tail of payment's log")
            started = broken.pids()
            self.assertIn("broker", started)
        finally:
            busy.close()
            broken.stop()
        for name, pid in started.items():
            self.assertFalse(alive(pid), f"oms-down left {name} running")

    def test_start_check_does_not_race_the_exec(self):
        """A started process whose command line does not (yet) name its
        program is alive, not "exited during start-up"."""
        with tempfile.TemporaryDirectory() as fake:
            for prog, body in (("broker/oms-broker", "exec -a starting sleep 60"),
                               ("cli/oms", "exit 1")):
                path = os.path.join(fake, prog)
                os.makedirs(os.path.dirname(path))
                with open(path, "w") as f:
                    f.write(f"#!/bin/bash\n{body}\n")
                os.chmod(path, 0o755)
            env = dict(self.cluster.env, OMS_BIN_DIR=fake, OMS_HOME=os.path.join(fake, "home"),
                       OMS_START_TIMEOUT="1")
            r = self.run_script(env, "oms-ctl", "start", "broker")
            pidfile = os.path.join(fake, "home", "run", "broker.pid")
            with open(pidfile) as f:
                pid = int(f.read())
            try:
                self.assertEqual(r.returncode, 1, r)
                self.assertIn("broker did not answer within 1s", r.stderr)
                self.assertNotIn("exited during start-up", r.stderr)
                self.assertTrue(alive(pid), "the pid file names the running process")
            finally:
                os.kill(pid, 9)

    def test_a_pid_file_that_cannot_be_written_fails_the_start(self):
        """On a full disk (here /dev/full) oms-ctl start fails loudly, leaves
        no pid file and no unmanaged process."""
        other = Cluster(name="fullpid")
        try:
            other.prepare()
            run_dir = other.home / "run"
            run_dir.mkdir(parents=True, exist_ok=True)
            os.symlink("/dev/full", run_dir / "broker.pid.tmp")
            r = self.run_script(other.env, "oms-ctl", "start", "broker")
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("cannot write pid file", r.stderr)
            self.assertFalse((run_dir / "broker.pid").exists(), "no pid file")
            self.assertFalse((run_dir / "broker.pid.tmp").exists(), "no partial pid file")
            left = subprocess.run(["pgrep", "-f", str(other.home)], capture_output=True, text=True)
            self.assertEqual(left.stdout, "", "no broker left running")
        finally:
            other.stop()

    def test_bench_without_its_peer_fails(self):
        """scripts/bench never prints a table without the peer, unless told
        to with --no-peer."""
        env = dict(self.cluster.env, OMS_BENCH_PEER="/nonexistent/nats-saga")
        r = subprocess.run([str(SCRIPTS / "bench"), "--quick", "--no-limits",
                            "--build", str(BIN_DIR)], env=env, capture_output=True,
                           text=True, timeout=300, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("no peer at /nonexistent/nats-saga", r.stderr)
        self.assertNotIn("ratios", r.stdout)

    def test_oms_down_stops_every_process(self):
        with Cluster(name="down") as other:
            pids = other.pids()
            self.assertEqual(set(pids), {"broker", "order", "inventory", "payment",
                                         "notification"})
            self.assertTrue(all(alive(pid) for pid in pids.values()))
            r = self.run_script(other.env, "oms-down")
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))
            self.assertEqual(other.pids(), {})
            for name, pid in pids.items():
                self.assertFalse(alive(pid), f"{name} still running")
            r = self.run_script(other.env, "oms-down")
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""), "a second time")

    def test_oms_ctl_stop_and_start(self):
        pid = self.cluster.pids()["notification"]
        self.cluster.ctl("stop", "notification")
        self.assertFalse(alive(pid))
        self.assertNotIn("notification", self.cluster.pids())
        self.assertNotEqual(self.cluster.oms("status", "notification", check=False).returncode, 0)
        r = self.cluster.ctl("start", "notification")
        self.assertIn("notification started", r.stdout)
        self.cluster.oms("status", "notification")
        r = self.run_script(self.cluster.env, "oms-ctl", "start", "notification")
        self.assertEqual(r.returncode, 1, "refuses to start a running process")
        self.assertIn("already running", r.stderr)

    def test_oms_ctl_rejects_bad_arguments(self):
        for args in (["stop", "nosuch"], ["frob", "order"], ["stop"], []):
            with self.subTest(args=args):
                r = self.run_script(self.cluster.env, "oms-ctl", *args)
                self.assertEqual(r.returncode, 1, r)
                self.assertIn("usage:", r.stderr)


class LoadGenerator(CliCase):
    def test_load_places_and_settles_every_order(self):
        r = self.cluster.oms("load", "--orders", 300, "--rate", 0, "--skus", 5,
                             "--pay", "card:50,wallet:25,cod:25", "--json", timeout=120)
        report = json.loads(r.stdout)
        self.assertEqual(report["placed"], 300)
        self.assertEqual(report["confirmed"] + report["cancelled"], 300)
        self.assertEqual(report["unfinished"], 0)
        self.assertGreater(report["orders_per_s"], 0)
        self.assertLessEqual(report["p50_ms"], report["p99_ms"])
        self.assertLessEqual(report["p99_ms"], report["max_ms"])

    def test_paced_load_keeps_its_rate(self):
        r = self.cluster.oms("load", "--orders", 200, "--rate", 100, "--skus", 3, "--json",
                             timeout=120)
        report = json.loads(r.stdout)
        self.assertEqual(report["confirmed"] + report["cancelled"], 200)
        #  200 orders at 100/s cannot finish in much under two seconds.
        self.assertGreaterEqual(report["elapsed_s"], 1.9)

    def load_on_a_terminal(self, *args):
        """Runs `oms load` with stderr on a terminal; (exit code, stdout, terminal text)."""
        return run_on_terminal(self.cluster.cmd("load", *args), self.cluster.env, "stderr")

    def test_a_terminal_sees_progress_but_json_and_pipes_do_not(self):
        code, out, terminal = self.load_on_a_terminal("--orders", 150, "--rate", 100,
                                                      "--skus", 2)
        self.assertEqual(code, 0, out + terminal)
        self.assertRegex(terminal, r"\r\x1b\[Koms load: sent \d+/150, terminal \d+")
        self.assertNotIn("\x1b", out)
        code, out, terminal = self.load_on_a_terminal("--orders", 150, "--rate", 100,
                                                      "--skus", 2, "--json")
        self.assertEqual(code, 0, out + terminal)
        self.assertNotIn("oms load: sent", terminal)
        self.assertEqual(json.loads(out)["placed"], 150)


if __name__ == "__main__":
    run()
