"""End-to-end: `oms console` in a real browser. A cluster is started and
orders placed through the CLI; the console serves its pages; headless
Chromium (Debian's chromium) loads each one, and the test checks what the
page shows, as the browser built it. A screenshot of each page is kept under
the build directory (meson-logs/console/) as a test artifact.

Odd data must not break a page: a path or filter holding markup, quotes,
an ampersand or bytes that are not UTF-8 comes back as text."""

import os
import re
import shutil
import subprocess
import sys
import unittest
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import (BIN_DIR, CARD_DECLINED, CARD_OK, SETTLE_S, ClusterTest,  # noqa: E402
                     free_ports, poll, run, uid)

CHROMIUM = shutil.which("chromium")
BROWSER_TIMEOUT_S = 90
READY_TIMEOUT_S = 30
ARTIFACTS = BIN_DIR / "meson-logs" / "console"


@unittest.skipUnless(CHROMIUM, "chromium is not installed (scripts/bootstrap installs it)")
class Console(ClusterTest):
    CLUSTER = {"heartbeat_ms": 200}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.address = f"127.0.0.1:{free_ports(1)[0]}"
        cls.console = subprocess.Popen(cls.cluster.cmd("console", "--listen", cls.address),
                                       env=cls.cluster.env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        #  Its own sign of readiness: the line it prints once it serves.
        line = cls.console.stdout.readline()
        if not line.startswith("console: serving http://"):
            cls.console.kill()
            raise AssertionError(f"the console did not start: {line!r} "
                                 f"{cls.console.stderr.read()}")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        cls.console.terminate()
        try:
            cls.console.wait(timeout=10)
        finally:
            super().tearDownClass()

    def url(self, path):
        return f"http://{self.address}{path}"

    def browse(self, path, name):
        """The page at `path` as Chromium built it (its DOM), after a
        screenshot of it was kept as ARTIFACTS/<name>.png."""
        common = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
                  f"--user-data-dir={self.cluster.home}/chromium-{name}"]
        shot = ARTIFACTS / f"{name}.png"
        r = subprocess.run(common + ["--window-size=1280,1000", f"--screenshot={shot}",
                                     self.url(path)],
                           capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S)
        self.assertTrue(shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n",
                        f"no screenshot of {path}: {r.stderr[-2000:]}")
        r = subprocess.run(common + ["--dump-dom", self.url(path)], capture_output=True,
                           text=True, timeout=BROWSER_TIMEOUT_S)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertIn("</html>", r.stdout)
        return r.stdout

    def status_of(self, path):
        try:
            return urllib.request.urlopen(self.url(path), timeout=30).status
        except urllib.error.HTTPError as e:
            return e.code

    def test_processes_page_shows_every_process_up(self):
        def all_up():
            dom = self.browse("/", "processes")
            return "5 of 5 processes up" in dom and dom
        dom = poll(all_up, SETTLE_S, "the console to show every process up")
        for name in ("broker", "order", "inventory", "payment", "notification"):
            self.assertRegex(dom, rf"<td[^>]*>{name}</td>")
        #  A subscription with its lag: order follows stock.reserved.
        self.assertRegex(dom, r"<td>inventory</td><td>stock\.reserved</td>")
        self.assertNotIn("<script", dom)

    def placed(self):
        """Two orders of a customer of its own, settled: one confirmed, one
        cancelled by a declined card. (customer, confirmed id, cancelled id)"""
        sku = f"SKU-{uid()}"
        customer = f"c-{uid()}"
        self.cluster.stock_set(sku, 100, 250)
        good = self.cluster.place(customer, [(sku, 2)], "card", card=CARD_OK)
        bad = self.cluster.place(customer, [(sku, 1)], "card", card=CARD_DECLINED)
        self.assertEqual(self.cluster.wait(good), "CONFIRMED")
        self.assertEqual(self.cluster.wait(bad), "CANCELLED")
        return customer, good, bad

    def test_orders_page_lists_orders_with_their_status_and_filters(self):
        customer, good, bad = self.placed()
        dom = self.browse(f"/orders?customer={customer}", "orders")
        self.assertRegex(dom, rf'<a href="/order\?id={good}">{good}</a></td><td>CONFIRMED</td>'
                              rf"<td>{customer}</td><td[^>]*>500</td>")
        self.assertRegex(dom, rf'<a href="/order\?id={bad}">{bad}</a></td><td>CANCELLED</td>')
        #  Newest first.
        self.assertLess(dom.index(f">{bad}</a>"), dom.index(f">{good}</a>"))
        dom = self.browse(f"/orders?customer={customer}&status=CANCELLED", "orders-cancelled")
        self.assertIn(f">{bad}</a>", dom)
        self.assertNotIn(f">{good}</a>", dom)
        self.assertIn(f'value="{customer}"', dom)
        #  One a page: a link to the next one.
        dom = self.browse(f"/orders?customer={customer}&limit=1", "orders-paged")
        self.assertIn(f">{bad}</a>", dom)
        self.assertNotIn(f">{good}</a>", dom)
        self.assertRegex(dom, r'<a href="/orders\?[^"]*page=[0-9a-f]+[^"]*">next page</a>')

    def test_order_page_shows_the_order_and_its_trace(self):
        customer, good, bad = self.placed()
        #  notification.sent may come a moment after the order is confirmed.
        dom = poll(lambda: (lambda d: "notification.sent" in d and d)(
            self.browse(f"/order?id={good}", "order")), SETTLE_S, "the whole trace on the page")
        self.assertIn(f"<h1>{good}</h1>", dom)
        self.assertRegex(dom, rf"<td>CONFIRMED</td><td>{customer}</td><td>500</td>")
        events = re.findall(r"<td>(order|inventory|payment|notification)</td>"
                            r'<td class="n">\d+</td><td>([a-z.]+)</td>', dom)
        types = [t for _, t in events]
        for before, after in (("order.placed", "stock.reserved"),
                              ("stock.reserved", "payment.completed"),
                              ("payment.completed", "order.confirmed")):
            self.assertLess(types.index(before), types.index(after), types)
        self.assertIn(("order", "order.placed"), events)
        self.assertIn(("payment", "payment.completed"), events)
        self.assertNotIn("waiting for", dom)
        dom = self.browse(f"/order?id={bad}", "order-cancelled")
        self.assertRegex(dom, r"<td>CANCELLED</td>.*payment failed: card declined")
        self.assertIn("<td>payment.failed</td>", dom)

    def test_order_page_says_what_a_stuck_order_waits_for(self):
        sku = f"SKU-{uid()}"
        self.cluster.stock_set(sku, 10, 100)
        self.cluster.ctl("stop", "payment")
        try:
            stuck = self.cluster.place(f"c-{uid()}", [(sku, 1)], "cod")
            dom = poll(lambda: (lambda d: "waiting for payment" in d and d)(
                self.browse(f"/order?id={stuck}", "order-stuck")), SETTLE_S,
                "the page to say the order waits for payment")
            self.assertIn("<td>RESERVED</td>", dom)
            self.assertIn("<td>stock.reserved</td>", dom)
            self.assertIn("payment: did not answer; its events are missing", dom)
        finally:
            self.cluster.ctl("start", "payment")
        self.assertEqual(self.cluster.wait(stuck), "CONFIRMED")

    def test_a_bad_order_id_is_named_on_the_page(self):
        dom = self.browse("/order?id=%3Ci%3Eo%3C/i%3E", "order-bad-id")
        self.assertNotIn("<i>o</i>", dom)
        self.assertIn("order id must be", dom)
        self.assertEqual(self.status_of("/order?id=no%20such"), 400)

    def test_a_bad_filter_is_named_on_the_page(self):
        dom = self.browse("/orders?since=%3Cscript%3Ealert(1)%3C/script%3E", "orders-bad-filter")
        self.assertNotIn("<script>alert", dom)
        self.assertRegex(dom, r'class="bad">filters: --since must be .*&lt;script&gt;')
        self.assertEqual(self.status_of("/orders?limit=0"), 400)

    def test_dead_letters_page_has_every_service(self):
        dom = self.browse("/dlq", "dead-letters")
        for name in ("order", "inventory", "payment", "notification"):
            self.assertIn(f"<h2>{name}</h2>", dom)

    def test_odd_data_comes_back_as_text(self):
        odd = "/<b>x</b>\"'&\xff"
        path = urllib.parse.quote(odd, safe="/", encoding="latin-1")
        dom = self.browse(path, "not-found")
        self.assertNotIn("<b>x</b>", dom)
        self.assertIn("&lt;b&gt;x&lt;/b&gt;\"'&amp;\ufffd", dom)
        self.assertEqual(self.status_of(path), 404)

    def test_only_get_is_served(self):
        req = urllib.request.Request(self.url("/"), data=b"x", method="POST")
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(req, timeout=30)
        self.assertEqual(caught.exception.code, 405)


if __name__ == "__main__":
    run()
