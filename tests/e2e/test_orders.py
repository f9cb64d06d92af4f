"""End-to-end: `oms orders`, the order service's listing from its indexes.
Orders placed through the CLI (confirmed, cancelled, and stuck while
inventory is stopped) are listed newest first with each filter, as text
and JSON, page by page, in the stuck-order report; bad input is refused
with a clear error and exit 1; and an order store made before the indexes
is indexed when the order service starts on it."""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import (CARD_DECLINED, SETTLE_S, ClusterTest, poll, run, uid)  # noqa: E402
from omsapi import Api  # noqa: E402

LINE = re.compile(r"^(o-\d+) (PENDING|RESERVED|CONFIRMED|CANCELLED) customer=(\S+) "
                  r"total_cents=(\d+) age=(\d+)[smhd]( reason=\".*\")?$")
MORE = re.compile(r"^more orders: repeat with --page (\S+)$")
INDEXES = ("by_time", "by_status", "by_customer")


class OrdersCase(ClusterTest):
    def sku(self, qty=1000, price=250):
        sku = f"SKU-{uid()}"
        self.cluster.stock_set(sku, qty, price)
        return sku

    def place(self, customer, sku, pay="cod", card=None):
        return self.cluster.place(customer, [(sku, 1)], pay, card=card)

    def lines(self, *args):
        """`oms orders ARGS` as (rows, token): rows of (id, status, customer)."""
        out = self.cluster.oms("orders", *args).stdout.splitlines()
        token = None
        if out and MORE.match(out[-1]):
            token = MORE.match(out.pop()).group(1)
        rows = []
        for line in out:
            m = LINE.match(line)
            self.assertIsNotNone(m, f"not an order line: {line!r}")
            rows.append((m.group(1), m.group(2), m.group(3)))
        return rows, token

    def ids(self, *args):
        rows, token = self.lines(*args)
        self.assertIsNone(token, f"`oms orders {' '.join(args)}` has more pages")
        return [row[0] for row in rows]

    def refused(self, *args, says):
        r = self.cluster.oms("orders", *args, check=False)
        self.assertEqual(r.returncode, 1, f"`oms orders {' '.join(args)}`: {r.stdout}{r.stderr}")
        self.assertEqual(r.stdout, "")
        self.assertIn(says, r.stderr)
        self.assertTrue(r.stderr.startswith("oms: "), r.stderr)


class Listing(OrdersCase):
    def test_lists_newest_first_with_each_filter(self):
        customer, sku = f"c-{uid()}", self.sku()
        placed = []
        for i in range(5):
            declined = i in (1, 3)
            order_id = self.place(customer, sku, "card" if declined else "cod",
                                  card=CARD_DECLINED if declined else None)
            self.assertEqual(self.cluster.wait(order_id), "CANCELLED" if declined else "CONFIRMED")
            placed.append(order_id)
        newest_first = placed[::-1]
        confirmed = [o for i, o in enumerate(placed) if i not in (1, 3)][::-1]
        cancelled = [placed[3], placed[1]]

        rows, _ = self.lines("--customer", customer)
        self.assertEqual([r[0] for r in rows], newest_first)
        self.assertEqual({r[2] for r in rows}, {customer})
        self.assertEqual(self.ids("--customer", customer, "--status", "CONFIRMED"), confirmed)
        self.assertEqual(self.ids("--customer", customer, "--status", "cancelled"), cancelled)
        self.assertEqual(self.ids("--customer", customer, "--status", "CANCELLED,CONFIRMED"),
                         newest_first)
        self.assertEqual(self.ids("--customer", customer, "--status", "PENDING"), [])
        self.assertEqual(self.ids("--customer", customer, "--since", "1h"), newest_first)
        self.assertEqual(self.ids("--customer", customer, "--older-than", "1h"), [])
        self.assertEqual(self.ids("--customer", customer, "--since", "1d",
                                  "--older-than", "1h"), [])

        #  Without a customer: the status index and the time index.
        rows, _ = self.lines("--status", "CANCELLED", "--limit", "1000")
        listed = [r[0] for r in rows]
        self.assertEqual({r[1] for r in rows}, {"CANCELLED"})
        self.assertLess(listed.index(cancelled[0]), listed.index(cancelled[1]))
        rows, _ = self.lines("--limit", "5")
        self.assertEqual([r[0] for r in rows], newest_first, "these are the newest orders")

        #  A line carries the reason of a cancelled order.
        line = next(l for l in self.cluster.oms("orders", "--customer", customer).stdout
                    .splitlines() if l.startswith(cancelled[0] + " "))
        self.assertIn('reason="payment failed: ', line)
        self.assertIn(" total_cents=250 ", line)

        answer = self.cluster.json("orders", "--customer", customer)
        self.assertEqual(set(answer), {"orders", "next", "now_ns"})
        self.assertIsNone(answer["next"])
        self.assertEqual([o["order_id"] for o in answer["orders"]], newest_first)
        first = answer["orders"][0]
        self.assertEqual(first["status"], "CONFIRMED")
        self.assertEqual(first["customer"], customer)
        self.assertEqual(first["total_cents"], 250)
        self.assertLessEqual(first["created_ns"], answer["now_ns"])
        self.assertEqual(first, {k: v for k, v in self.cluster.get(placed[-1]).items()
                                 if k in first})

    def test_since_and_older_than_split_at_the_age_of_an_order(self):
        customer, sku = f"c-{uid()}", self.sku()
        early = self.place(customer, sku)
        self.cluster.wait(early)
        #  Not a sleep to synchronise: the test needs an order 3 s old.
        poll(lambda: self.ids("--customer", customer, "--older-than", "3s") == [early],
             SETTLE_S, f"{early} to be 3 s old")
        late = self.place(customer, sku)
        self.assertEqual(self.ids("--customer", customer, "--older-than", "3s"), [early])
        self.assertEqual(self.ids("--customer", customer, "--since", "3s"), [late])
        self.assertEqual(self.ids("--customer", customer, "--since", "2.5"), [late],
                         "plain seconds, with a fraction")
        self.cluster.wait(late)

    def test_pages_through_every_order_with_a_token(self):
        customer, sku = f"c-{uid()}", self.sku()
        placed = [self.place(customer, sku) for _ in range(7)]
        for order_id in placed:
            self.cluster.wait(order_id)
        seen, token, pages = [], None, 0
        while True:
            args = ["--customer", customer, "--limit", "3"] + (["--page", token] if token else [])
            rows, token = self.lines(*args)
            seen += [r[0] for r in rows]
            pages += 1
            self.assertEqual(len(rows), 3 if token else 1)
            if not token:
                break
        self.assertEqual(pages, 3)
        self.assertEqual(seen, placed[::-1], "every order once, newest first")

        answer = self.cluster.json("orders", "--customer", customer, "--limit", "4")
        self.assertEqual(len(answer["orders"]), 4)
        self.assertIsInstance(answer["next"], str)
        rest = self.cluster.json("orders", "--customer", customer, "--limit", "4",
                                 "--page", answer["next"])
        self.assertEqual([o["order_id"] for o in answer["orders"] + rest["orders"]],
                         placed[::-1])
        self.assertIsNone(rest["next"])


class Stuck(OrdersCase):
    CLUSTER = {"saga_timeout_ms": 120000}

    def test_the_stuck_report_lists_orders_left_in_flight(self):
        customer, sku = f"c-{uid()}", self.sku()
        done = self.place(customer, sku)
        self.cluster.wait(done)
        self.cluster.ctl("stop", "inventory")
        try:
            stuck = [self.place(customer, sku) for _ in range(2)]
            report = ("--older-than", "1s", "--status", "PENDING,RESERVED")
            poll(lambda: self.ids("--customer", customer, *report) == stuck[::-1], SETTLE_S,
                 "both orders in the stuck report")
            rows, _ = self.lines(*report, "--limit", "1000")
            self.assertTrue({"PENDING", "RESERVED"} >= {r[1] for r in rows}, rows)
            self.assertTrue(set(stuck) <= {r[0] for r in rows})
            self.assertNotIn(done, [r[0] for r in rows])
            self.assertEqual(self.ids("--customer", customer, "--status", "PENDING"),
                             stuck[::-1])
            answer = self.cluster.json("orders", "--customer", customer, *report)
            self.assertEqual([o["status"] for o in answer["orders"]], ["PENDING", "PENDING"])
        finally:
            self.cluster.ctl("start", "inventory")
        for order_id in stuck:
            self.assertEqual(self.cluster.wait(order_id), "CONFIRMED")
        self.assertEqual(self.ids("--customer", customer, *report), [])


class BadInput(OrdersCase):
    def test_each_bad_value_is_refused_with_a_clear_error(self):
        cases = [
            (["--status", "SHIPPED"], 'unknown status "SHIPPED"'),
            (["--status", "PENDING,"], 'unknown status ""'),
            (["--since", "5x"], "--since must be a duration like 30s"),
            (["--since", "0s"], "--since must be a duration like 30s"),
            (["--older-than", "1h30m"], "--older-than must be a duration like 30s"),
            (["--older-than", ""], "--older-than must be a duration like 30s"),
            (["--limit", "0"], "--limit must be an integer from 1 to 1000"),
            (["--limit", "1001"], "--limit must be an integer from 1 to 1000"),
            (["--limit", "ten"], "--limit must be an integer from 1 to 1000"),
            (["--customer", "bad id!"], "customer must be"),
            (["--page", "not a token"], "page token must be"),
            (["--page", "zz"], "page: not a page token this service gave"),
            (["--page", "00000000000003f6"], "page: not a page token this service gave"),
            (["--colour", "red"], "unknown option"),
            (["extra"], "too many arguments"),
        ]
        for args, says in cases:
            with self.subTest(args=args):
                self.refused(*args, says=says)


    def test_the_service_checks_every_field_itself(self):
        """A client other than the CLI gets the same refusals, by code."""
        api = Api({"order": self.cluster.endpoint("order")})
        try:
            cases = [
                ({"status": "SHIPPED"}, -20, 'unknown status "SHIPPED"'),
                ({"status": "PENDING,"}, -20, "unknown status"),
                ({"page": "zz"}, -20, "page: not a page token this service gave"),
                ({"page": "x" * 97}, -8, "page"),
                ({"limit": 0}, -10, "limit"),
                ({"limit": 1001}, -10, "limit"),
                ({"since_ns": 0}, -10, "since_ns"),
                ({"older_than_ns": -5}, -4, "older_than_ns"),
                ({"customer": "bad id!"}, -11, "customer"),
                ({"colour": "red"}, -6, "colour"),
            ]
            for fields, code, says in cases:
                with self.subTest(fields=fields):
                    reply = api._call_once("order", "orders.list", fields)
                    self.assertFalse(reply["ok"], reply)
                    self.assertEqual(reply["code"], code, reply)
                    self.assertIn(says, reply["error"])
            reply = api.call("order", "orders.list", limit=1)
            self.assertEqual(set(reply) - {"next"}, {"ok", "orders", "now_ns", "visited"})
        finally:
            api.close()


class OldStore(OrdersCase):
    def test_a_store_made_before_the_indexes_is_indexed_at_start(self):
        customer, sku = f"c-{uid()}", self.sku()
        placed = [self.place(customer, sku) for _ in range(3)]
        for order_id in placed:
            self.cluster.wait(order_id)
        store = self.cluster.home / "order"
        self.assertTrue((store / "data.mdb").exists(), sorted(os.listdir(self.cluster.home)))
        self.cluster.ctl("stop", "order")
        try:
            #  The store as an earlier version left it: every sub-database
            #  but the indexes, copied into a new environment.
            dump = subprocess.run(["mdb_dump", "-a", str(store)], capture_output=True,
                                  check=True).stdout
            kept, names = [], []
            for section in dump.split(b"VERSION=")[1:]:
                name = re.search(rb"^database=(\S+)$", section, re.M)
                self.assertIsNotNone(name, section[:200])
                names.append(name.group(1).decode())
                if name.group(1).decode() not in INDEXES:
                    kept.append(b"VERSION=" + section)
            self.assertTrue(set(INDEXES) <= set(names), names)
            old = self.cluster.home / "order-old"
            old.mkdir()
            #  (mdb_load warns of the dump's db_pagesize lines, which it ignores)
            subprocess.run(["mdb_load", str(old)], input=b"".join(kept), capture_output=True,
                           check=True)
            for name in ("data.mdb", "lock.mdb"):
                shutil.copy(old / name, store / name)
            listed = subprocess.run(["mdb_stat", "-a", str(store)], capture_output=True,
                                    text=True, check=True).stdout
            self.assertNotIn("by_time", listed)
        finally:
            self.cluster.ctl("start", "order")
        log = self.cluster.home / "log" / "order.log"
        built = poll(lambda: re.search(r"order index built: (\d+) orders", log.read_text()),
                     SETTLE_S, "the order service to build its index")
        self.assertGreaterEqual(int(built.group(1)), 3)
        self.assertEqual(self.ids("--customer", customer), placed[::-1])
        self.assertEqual(self.ids("--customer", customer, "--status", "CONFIRMED"), placed[::-1])
        #  Built once: a restart finds the indexes in step and leaves them.
        self.cluster.ctl("restart", "order")
        poll(lambda: self.cluster.oms("orders", "--limit", "1", check=False).returncode == 0,
             SETTLE_S, "the order service back")
        self.assertEqual(len(re.findall(r"order index built", log.read_text())), 1)
        later = self.place(customer, sku)
        self.cluster.wait(later)
        self.assertEqual(self.ids("--customer", customer), [later] + placed[::-1])


if __name__ == "__main__":
    run()
