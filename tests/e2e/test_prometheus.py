"""End-to-end: a real Prometheus (Debian's `prometheus`) scrapes every
process's GET /metrics each second and evaluates the shipped alert rules.
Orders placed through the CLI show as a rate and a latency quantile through
Prometheus' HTTP API; every target is up; every endpoint's names pass
`promtool check metrics`; the rules load and evaluate; a stopped service, a
stuck order and a dead letter raise their alerts.

Prometheus runs with its own configuration, storage and port, in the
cluster's home, and is killed at the end (and by the kernel if this test
dies).
"""

import ctypes
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import (CLI_TIMEOUT_S, SERVICES, SETTLE_S, SOURCE_DIR, Cluster,  # noqa: E402
                     ClusterTest, free_ports, poll, run, uid)

RULES = SOURCE_DIR / "scripts" / "prometheus" / "oms-alerts.yml"
PROCESSES = ("broker",) + SERVICES
#  What Prometheus needs on a loaded 2-core machine: to start, to scrape a
#  few times, to evaluate the rules a few times.
READY_S = 90
SCRAPED_S = 90
WALLET_LIMIT = 10 ** 15


def metrics_key(process):
    return "broker/metrics" if process == "broker" else f"services/{process}/metrics"


_PR_SET_PDEATHSIG = 1
#  Looked up here: a child forked while other threads run should do no more
#  than call it.
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def _die_with_parent():
    """In the child before exec: the kernel sends SIGKILL to the child when
    the thread that started it goes, however the test process ends."""
    _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


class Prometheus:
    """A Prometheus server of its own: config, storage and log in `directory`
    (made here), the web API on a free loopback port."""

    def __init__(self, directory, targets, scrape_s=1):
        self.dir = str(directory)
        os.makedirs(self.dir)
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        interval = f"{scrape_s}s"
        #  YAML is a superset of JSON: the configuration is written as JSON.
        config = {
            "global": {"scrape_interval": interval, "scrape_timeout": interval,
                       "evaluation_interval": interval},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": "oms",
                                "static_configs": [{"targets": sorted(targets)}]}],
        }
        self.config = os.path.join(self.dir, "prometheus.yml")
        with open(self.config, "w") as f:
            json.dump(config, f, indent=2)
        self.log_path = os.path.join(self.dir, "prometheus.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [shutil.which("prometheus"), f"--config.file={self.config}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent)

    def get(self, path, **params):
        url = f"{self.url}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()

    def wait_ready(self):
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited {self.proc.returncode}: {self.tail()}")
            try:
                status, _ = self.get("/-/ready")
            except (OSError, urllib.error.URLError) as e:
                raise AssertionError(f"GET /-/ready: {e}") from None
            return status == 200
        try:
            poll(ready, READY_S, "prometheus to be ready (GET /-/ready)", interval=0.2)
        except RuntimeError as e:
            raise AssertionError(str(e)) from None

    def api(self, path, **params):
        """GET /api/v1/PATH: its `data`, once Prometheus says success."""
        try:
            _, body = self.get(f"/api/v1/{path}", **params)
        except (OSError, urllib.error.URLError) as e:
            raise AssertionError(f"GET /api/v1/{path}: {e}") from None
        answer = json.loads(body)
        if answer.get("status") != "success":
            raise AssertionError(f"/api/v1/{path} {params}: {answer}")
        return answer["data"]

    def query(self, expr):
        """An instant vector query: [(labels, value as float)]."""
        data = self.api("query", query=expr)
        if data["resultType"] != "vector":
            raise AssertionError(f"{expr}: a {data['resultType']}, not a vector")
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def alerts(self, name):
        """The active (pending or firing) alerts named `name`."""
        return [a for a in self.api("alerts")["alerts"] if a["labels"]["alertname"] == name]

    def tail(self, lines=30):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def stop(self, failed=False):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if failed:
            print(f"----- prometheus: last lines of {self.log_path}\n{self.tail()}",
                  file=sys.stderr)


class Traffic:
    """Orders all along: `oms load` runs one after the other in a thread
    until stopped, so a rate over the last 15 s always has orders in it."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.stopping = threading.Event()
        self.runs = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set():
            cmd = self.cluster.cmd("load", "--orders", 40, "--rate", 20, "--skus", 3, "--json")
            try:
                r = subprocess.run(cmd, env=self.cluster.env, capture_output=True, text=True,
                                   timeout=CLI_TIMEOUT_S + 60, stdin=subprocess.DEVNULL,
                                   preexec_fn=_die_with_parent)
            except subprocess.TimeoutExpired as e:
                r = subprocess.CompletedProcess(cmd, -1, "", f"timed out: {e}")
            self.runs.append(r)

    def stop(self):
        self.stopping.set()
        self.thread.join(CLI_TIMEOUT_S + 90)
        return self.runs


@unittest.skipIf(shutil.which("prometheus") is None or shutil.which("promtool") is None,
                 "prometheus and promtool are not installed (scripts/bootstrap installs them)")
class PrometheusCase(ClusterTest):
    TARGETS = {}    #  process -> host:port of its /metrics
    prometheus = None

    @classmethod
    def setUpClass(cls):
        #  The metrics ports stay bound while the cluster picks its own, so
        #  that it cannot pick one of them.
        held = []
        try:
            for _ in PROCESSES:
                held.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                held[-1].bind(("127.0.0.1", 0))
            cls.TARGETS = {p: "127.0.0.1:%d" % s.getsockname()[1] for p, s in zip(PROCESSES, held)}
            cls.cluster = Cluster(name="prometheus", heartbeat_ms=200,
                                  config={metrics_key(p): t for p, t in cls.TARGETS.items()})
            cls.cluster.prepare()
        finally:
            for s in held:
                s.close()
        try:
            cls.cluster.script("oms-up", timeout=120)
            #  In the cluster's home, which goes (or is kept) with it.
            cls.prometheus = Prometheus(cls.cluster.home / "prometheus", cls.TARGETS.values())
            cls.prometheus.wait_ready()
        except BaseException:
            cls.cluster.failed = True
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.prometheus is not None:
            cls.prometheus.stop(failed=cls.cluster.failed)
            cls.prometheus = None
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.prom = self.prometheus

    def sku(self, qty=1000, price=100):
        sku = f"SKU-{uid()}"
        self.cluster.stock_set(sku, qty, price)
        return sku

    def up(self):
        """{instance: value of up} of the oms job."""
        return {labels["instance"]: value for labels, value in self.prom.query('up{job="oms"}')}

    def scrape(self, process):
        with urllib.request.urlopen(f"http://{self.TARGETS[process]}/metrics",
                                    timeout=10) as response:
            self.assertEqual(response.status, 200)
            return response.read().decode()

    # -- the tests -------------------------------------------------------------

    def test_every_target_is_up(self):
        expected = {t: 1.0 for t in self.TARGETS.values()}

        def all_up():
            self.assertEqual(self.up(), expected)
            return True
        poll(all_up, SCRAPED_S, "up == 1 for every oms target", interval=0.5)

    def test_metric_names_follow_prometheus_conventions(self):
        #  Each process has published its first heartbeat's metrics.
        texts = {p: poll(lambda p=p: "oms_uptime_seconds" in (t := self.scrape(p)) and t,
                         SETTLE_S, f"{p}'s metrics") for p in PROCESSES}
        for process, text in texts.items():
            with self.subTest(process=process):
                lint = subprocess.run(["promtool", "check", "metrics"], input=text,
                                      capture_output=True, text=True, timeout=60)
                self.assertEqual((lint.returncode, lint.stdout + lint.stderr), (0, ""),
                                 "promtool check metrics")
                types = dict(re.findall(r"(?m)^# TYPE (\S+) (\S+)$", text))
                self.assertTrue(types)
                for name, kind in types.items():
                    self.assertTrue(name.startswith("oms_"), name)
                    self.assertEqual(kind == "counter", name.endswith("_total"),
                                     f"{name} is a {kind}: counters, and only they, end in _total")
                    self.assertNotRegex(name, r"_(ms|msec|millis|milliseconds|us|micros|ns|"
                                              r"nanoseconds|minutes|hours)(_|$)",
                                        f"{name}: durations are in seconds")
                    if re.search(r"(time|latency|duration|age|uptime)", name):
                        self.assertTrue(name.endswith("_seconds"), f"{name}: a time in seconds")
                    self.assertNotIn(kind, ("summary", "untyped"), name)
        order = dict(re.findall(r"(?m)^# TYPE (\S+) (\S+)$", texts["order"]))
        for name, kind in {"oms_orders_in_flight": "gauge",
                           "oms_orders_oldest_in_flight_seconds": "gauge",
                           "oms_dead_letters": "gauge", "oms_subscription_stopped": "gauge",
                           "oms_lag_events": "gauge", "oms_commit_seconds": "histogram"}.items():
            self.assertEqual(order.get(name), kind, name)

    def test_orders_show_as_a_rate_and_a_latency_quantile(self):
        sku = self.sku(price=250)
        customer = f"c-{uid()}"
        order_id = self.cluster.place(customer, [(sku, 2)], "cod")
        self.assertEqual(self.cluster.wait(order_id), "CONFIRMED")
        traffic = Traffic(self.cluster)
        try:
            def emitting():
                (_, value), = self.prom.query("sum(rate(oms_events_emitted_total[15s]))") or [
                    ({}, 0.0)]
                self.assertGreater(value, 0, "events emitted per second")
                return value
            per_s = poll(emitting, SCRAPED_S, "a rate of events emitted above 0", interval=0.5)

            def placing():
                (_, value), = self.prom.query(
                    'sum(rate(oms_events_emitted_total{process="order",topic="order.placed"}'
                    '[15s]))') or [({}, 0.0)]
                self.assertGreater(value, 0, "orders placed per second")
                return value
            placed_per_s = poll(placing, SCRAPED_S, "a rate of orders placed above 0",
                                interval=0.5)

            def quantile(metric):
                def finite():
                    result = self.prom.query(
                        f"histogram_quantile(0.99, sum by (le) (rate({metric}_bucket[15s])))")
                    self.assertEqual(len(result), 1, result)
                    value = result[0][1]
                    self.assertTrue(math.isfinite(value) and value > 0, f"p99 = {value}")
                    return value
                return poll(finite, SCRAPED_S, f"a finite positive p99 of {metric}",
                            interval=0.5)
            commit_p99 = quantile("oms_commit_seconds")
            handler_p99 = quantile("oms_handler_seconds")
            #  The histograms' buckets end at 1 s, then +Inf.
            self.assertLessEqual(commit_p99, 1.0)
            self.assertLessEqual(handler_p99, 1.0)
        finally:
            runs = traffic.stop()
        self.assertTrue(runs, "no oms load finished")
        for r in runs:
            self.assertEqual(r.returncode, 0, f"oms load: {r.stderr.strip()}")
        print(f"\n  events/s {per_s:.1f}, orders placed/s {placed_per_s:.1f}, "
              f"commit p99 {commit_p99 * 1e3:.2f} ms, handler p99 {handler_p99 * 1e3:.2f} ms",
              file=sys.stderr)

    def test_shipped_rules_load_and_evaluate(self):
        names = set(re.findall(r"(?m)^\s*- alert: (\w+)$", RULES.read_text()))
        self.assertGreaterEqual(len(names), 4)

        def evaluated():
            rules = [r for g in self.prom.api("rules")["groups"] for r in g["rules"]]
            self.assertEqual({r["name"] for r in rules}, names)
            for r in rules:
                self.assertEqual(r["health"], "ok", f"{r['name']}: {r.get('lastError')}")
                self.assertFalse(r["lastEvaluation"].startswith("0001-"),
                                 f"{r['name']} not evaluated yet")
            return True
        poll(evaluated, SCRAPED_S, "every shipped rule to be evaluated healthy", interval=0.5)

    def test_stopped_service_and_stuck_order_raise_alerts(self):
        sku = self.sku(price=300)
        customer = f"c-{uid()}"
        self.cluster.credit(customer, 10_000)
        payment = self.TARGETS["payment"]
        self.cluster.ctl("stop", "payment")
        try:
            #  Reserved, then waiting for a payment no one answers.
            order_id = self.cluster.place(customer, [(sku, 1)], "wallet")

            def down():
                self.assertEqual(self.up().get(payment), 0.0, "up of payment")
                alerts = [a for a in self.prom.alerts("OmsProcessDown")
                          if a["labels"]["instance"] == payment]
                self.assertEqual(len(alerts), 1, "OmsProcessDown for payment")
                self.assertIn(alerts[0]["state"], ("pending", "firing"))
                return True
            poll(down, SCRAPED_S, "OmsProcessDown for the stopped payment service", interval=0.5)

            def stuck():
                (_, age), = self.prom.query("oms_orders_oldest_in_flight_seconds") or [({}, 0)]
                (_, count), = self.prom.query("oms_orders_in_flight") or [({}, 0)]
                self.assertGreaterEqual(count, 1, "orders in flight")
                self.assertGreater(age, 2, "the oldest in-flight order's age")
                return age
            poll(stuck, SCRAPED_S, "the waiting order to show as in flight for 2 s", interval=0.5)
        finally:
            self.cluster.ctl("start", "payment")
        self.assertIn(self.cluster.wait(order_id, timeout=60), ("CONFIRMED", "CANCELLED"))

        def recovered():
            self.assertEqual(self.up().get(payment), 1.0, "up of payment")
            self.assertEqual([a for a in self.prom.alerts("OmsProcessDown")
                              if a["labels"]["instance"] == payment], [])
            (_, age), = self.prom.query(
                'oms_orders_oldest_in_flight_seconds{process="order"}') or [({}, -1)]
            self.assertLess(age, 2, "no order waits any more")
            return True
        poll(recovered, SCRAPED_S, "payment up and no order waiting", interval=0.5)

    def test_dead_letter_raises_an_alert_until_dropped(self):
        #  A refund that would take a wallet over its limit is dead-lettered
        #  by payment (as in test_ops).
        _, _, dead = self.cluster.dead_letter_a_refund(self.sku(price=500), WALLET_LIMIT)

        def firing():
            alerts = [a for a in self.prom.alerts("OmsDeadLetters")
                      if a["labels"].get("process") == "payment"]
            self.assertEqual([a["state"] for a in alerts], ["firing"], "OmsDeadLetters")
            self.assertGreaterEqual(float(alerts[0]["value"]), 1)
            return True
        poll(firing, SCRAPED_S, "OmsDeadLetters firing for payment", interval=0.5)

        for d in self.cluster.json("dlq", "list", "payment"):
            self.cluster.oms("dlq", "drop", "payment", d["id"])
        self.assertNotIn(dead["id"], {d["id"] for d in self.cluster.json("dlq", "list", "payment")})

        def resolved():
            self.assertEqual([a for a in self.prom.alerts("OmsDeadLetters")
                              if a["labels"].get("process") == "payment"], [])
            return True
        poll(resolved, SCRAPED_S, "OmsDeadLetters to resolve once the letter is dropped",
             interval=0.5)


if __name__ == "__main__":
    run()
