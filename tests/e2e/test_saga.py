"""End-to-end: the order saga across the four services, through the oms CLI."""

import os
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import (CARD_DECLINED, CARD_NO_FUNDS, CARD_OK, SETTLE_S,  # noqa: E402
                     ClusterTest, poll, run, uid)


class SagaCase(ClusterTest):
    """Helpers shared by the saga tests."""

    def sku(self, qty, price):
        sku = f"SKU-{uid()}"
        self.cluster.stock_set(sku, qty, price)
        return sku

    def customer(self):
        return f"cust-{uid()}"

    def levels(self, sku):
        s = self.cluster.stock(sku)
        return s["available"], s["reserved"], s["sold"]

    def await_levels(self, sku, expected):
        """Polls until (available, reserved, sold) of sku is `expected`."""
        def reached():
            got = self.levels(sku)
            if got != expected:
                raise AssertionError(f"{sku} is (available, reserved, sold) = {got}")
            return True
        poll(reached, SETTLE_S, f"{sku} to be (available, reserved, sold) = {expected}")

    def await_kinds(self, order_id, kinds):
        """Polls until the order's notifications have exactly `kinds`, one each."""
        def arrived():
            got = Counter(n["kind"] for n in self.cluster.notifications(order=order_id))
            if got != Counter(kinds):
                raise AssertionError(f"notifications of {order_id}: {dict(got)}")
            return True
        poll(arrived, SETTLE_S, f"notifications {sorted(kinds)} for {order_id}")
        return self.cluster.notifications(order=order_id)

    def place_and_wait(self, customer, items, pay, card=None, expect="CONFIRMED"):
        order_id = self.cluster.place(customer, items, pay, card)
        self.assertEqual(self.cluster.wait(order_id), expect, f"order {order_id}")
        return order_id, self.cluster.get(order_id)


class HappyPath(SagaCase):
    def check_confirmed(self, pay, card=None, credit=None):
        sku = self.sku(10, 250)
        customer = self.customer()
        if credit is not None:
            self.assertEqual(self.cluster.credit(customer, credit), credit)
        order_id, order = self.place_and_wait(customer, [(sku, 3)], pay, card)
        self.assertEqual(order["order_id"], order_id)
        self.assertEqual(order["status"], "CONFIRMED")
        self.assertEqual(order["customer"], customer)
        self.assertEqual(order["items"], [{"sku": sku, "qty": 3}])
        self.assertEqual(order["total_cents"], 750)
        self.assertEqual(order["method"], pay)
        self.await_levels(sku, (7, 0, 3))
        notes = self.await_kinds(order_id, ["confirmed"])
        self.assertEqual(notes[0]["channel"], "email")
        self.assertEqual(notes[0]["order_id"], order_id)
        self.assertTrue(notes[0]["text"])
        return customer

    def test_card_order_is_confirmed(self):
        self.check_confirmed("card", CARD_OK)

    def test_wallet_order_is_confirmed_and_debits_the_balance(self):
        customer = self.check_confirmed("wallet", credit=1000)
        #  The charge is committed before payment.completed is published.
        self.assertEqual(self.cluster.balance(customer), 1000 - 750)

    def test_upi_order_is_confirmed(self):
        self.check_confirmed("upi")

    def test_cod_order_is_confirmed(self):
        self.check_confirmed("cod")

    def test_total_is_the_sum_of_qty_times_price(self):
        a, b, c = self.sku(10, 199), self.sku(10, 1250), self.sku(10, 1)
        _, order = self.place_and_wait(self.customer(), [(a, 2), (b, 3), (c, 7)], "cod")
        self.assertEqual(order["total_cents"], 2 * 199 + 3 * 1250 + 7 * 1)
        self.assertEqual(order["items"], [{"sku": a, "qty": 2}, {"sku": b, "qty": 3},
                                          {"sku": c, "qty": 7}])
        self.await_levels(b, (7, 0, 3))

    def test_sms_channel_is_used_once_chosen(self):
        sku = self.sku(5, 100)
        customer = self.customer()
        self.cluster.oms("channel", customer, "sms")
        order_id, _ = self.place_and_wait(customer, [(sku, 1)], "cod")
        notes = self.await_kinds(order_id, ["confirmed"])
        self.assertEqual(notes[0]["channel"], "sms")


class Failures(SagaCase):
    def test_out_of_stock_cancels_and_reserves_nothing(self):
        plenty, short = self.sku(5, 100), self.sku(2, 100)
        order_id, order = self.place_and_wait(self.customer(), [(plenty, 1), (short, 3)], "cod",
                                              expect="CANCELLED")
        self.assertEqual(order["status"], "CANCELLED")
        self.assertIn("stock", order.get("reason", "").lower())
        self.assertEqual(self.levels(plenty), (5, 0, 0))
        self.assertEqual(self.levels(short), (2, 0, 0))
        self.await_kinds(order_id, ["cancelled"])

    def check_declined(self, pay, card=None, credit=None, price=100, qty=2):
        sku = self.sku(5, price)
        customer = self.customer()
        if credit is not None:
            self.cluster.credit(customer, credit)
        order_id, order = self.place_and_wait(customer, [(sku, qty)], pay, card,
                                              expect="CANCELLED")
        self.assertTrue(order.get("reason"), f"a cancelled order has a reason: {order}")
        self.await_levels(sku, (5, 0, 0))
        self.await_kinds(order_id, ["cancelled", "payment_failed"])
        return customer, order

    def test_declined_card_cancels_and_releases_stock(self):
        self.check_declined("card", CARD_DECLINED)

    def test_card_without_funds_cancels_and_releases_stock(self):
        self.check_declined("card", CARD_NO_FUNDS)

    def test_wallet_short_of_balance_cancels_and_keeps_the_balance(self):
        customer, _ = self.check_declined("wallet", credit=150, price=100, qty=2)
        self.assertEqual(self.cluster.balance(customer), 150)

    def test_upi_over_the_limit_is_declined(self):
        self.check_declined("upi", price=6_000_000, qty=2)


class Cancellation(SagaCase):
    def test_wallet_order_cancelled_after_confirmation_is_refunded(self):
        sku = self.sku(10, 400)
        customer = self.customer()
        self.cluster.credit(customer, 5000)
        order_id, _ = self.place_and_wait(customer, [(sku, 2)], "wallet")
        self.assertEqual(self.cluster.balance(customer), 5000 - 800)
        self.await_levels(sku, (8, 0, 2))
        self.cluster.oms("cancel", order_id)
        poll(lambda: self.cluster.get(order_id)["status"] == "CANCELLED", SETTLE_S,
             f"{order_id} to be CANCELLED")
        poll(lambda: self.cluster.balance(customer) == 5000, SETTLE_S,
             f"the refund to restore {customer}'s balance to 5000")
        self.await_levels(sku, (10, 0, 0))
        self.await_kinds(order_id, ["confirmed", "cancelled"])

    def test_card_order_cancelled_after_confirmation_is_refunded_and_released(self):
        sku = self.sku(10, 300)
        with self.cluster.tail() as tail:
            order_id, _ = self.place_and_wait(self.customer(), [(sku, 4)], "card", CARD_OK)
            self.await_levels(sku, (6, 0, 4))
            self.cluster.oms("cancel", order_id)
            poll(lambda: self.cluster.get(order_id)["status"] == "CANCELLED", SETTLE_S,
                 f"{order_id} to be CANCELLED")
            self.await_levels(sku, (10, 0, 0))
            refunds = tail.wait_for(
                lambda e: e.get("type") == "payment.refunded"
                and e.get("correlation_id") == order_id, SETTLE_S,
                f"payment.refunded for {order_id}")
            self.assertEqual(refunds[0]["data"]["amount_cents"], 1200)
        self.await_kinds(order_id, ["confirmed", "cancelled"])


class Idempotence(SagaCase):
    def test_same_request_id_places_one_order(self):
        sku = self.sku(10, 100)
        customer = self.customer()
        request_id = f"req-{uid()}"
        with self.cluster.tail() as tail:
            first = self.cluster.place(customer, [(sku, 2)], "cod", request_id=request_id)
            again = self.cluster.place(customer, [(sku, 2)], "cod", request_id=request_id)
            self.assertEqual(first, again)
            self.assertEqual(self.cluster.wait(first), "CONFIRMED")
            #  order.placed events are published in sequence: once a later
            #  order's has arrived, a duplicate of the first would have too.
            later = self.cluster.place(customer, [(sku, 1)], "cod")
            tail.wait_for(lambda e: e.get("type") == "order.placed"
                          and e.get("correlation_id") == later, SETTLE_S,
                          f"order.placed of {later}")
            placed = tail.matching(lambda e: e.get("type") == "order.placed"
                                   and e.get("correlation_id") == first)
            self.assertEqual(len(placed), 1, f"order.placed events of {first}: {placed}")
        self.cluster.wait(later)
        self.await_levels(sku, (7, 0, 3))

    def test_one_notification_per_order_and_kind(self):
        sku = self.sku(3, 100)
        customer = self.customer()
        ok, _ = self.place_and_wait(customer, [(sku, 1)], "card", CARD_OK)
        declined, _ = self.place_and_wait(customer, [(sku, 1)], "card", CARD_DECLINED,
                                          expect="CANCELLED")
        short, _ = self.place_and_wait(customer, [(sku, 5)], "cod", expect="CANCELLED")
        expected = {ok: ["confirmed"], declined: ["cancelled", "payment_failed"],
                    short: ["cancelled"]}
        for order_id, kinds in expected.items():
            self.await_kinds(order_id, kinds)
        by_customer = Counter((n["order_id"], n["kind"])
                              for n in self.cluster.notifications(customer=customer))
        self.assertEqual(by_customer, Counter((o, k) for o, ks in expected.items() for k in ks))


class SagaTimeout(SagaCase):
    CLUSTER = {"saga_timeout_ms": 2500}

    def test_timeout_while_payment_is_stopped_leaves_no_charge(self):
        sku = self.sku(10, 500)
        customer = self.customer()
        self.cluster.credit(customer, 10_000)
        self.cluster.ctl("stop", "payment")
        try:
            stuck, order = self.place_and_wait(customer, [(sku, 2)], "wallet",
                                               expect="CANCELLED")
            self.assertIn("timeout", order.get("reason", "").lower())
            self.await_levels(sku, (10, 0, 0))
        finally:
            self.cluster.ctl("start", "payment")
        #  Payment now catches up on the stuck order's stock.reserved and
        #  order.cancelled: either it never charges or it refunds. A later
        #  order's charge, then its cancellation, is applied after the stuck
        #  order's events of the same types, so once the later order is
        #  refunded the balance is final.
        later, _ = self.place_and_wait(customer, [(sku, 1)], "wallet")
        self.cluster.oms("cancel", later)
        poll(lambda: self.cluster.balance(customer) == 10_000, SETTLE_S,
             f"{customer}'s balance to be back to 10000 (no charge for {stuck})")
        self.await_levels(sku, (10, 0, 0))

    def test_timeout_while_inventory_is_stopped_reserves_nothing(self):
        sku = self.sku(10, 500)
        customer = self.customer()
        self.cluster.ctl("stop", "inventory")
        try:
            _, order = self.place_and_wait(customer, [(sku, 2)], "cod", expect="CANCELLED")
            self.assertIn("timeout", order.get("reason", "").lower())
        finally:
            self.cluster.ctl("start", "inventory")
        #  Inventory catches up on the stuck order's order.placed and
        #  order.cancelled, in either order: nothing may stay reserved. A later
        #  order, confirmed then cancelled, is applied after the stuck order's
        #  events of the same types, so once it is released the levels are final.
        later, _ = self.place_and_wait(customer, [(sku, 1)], "cod")
        self.cluster.oms("cancel", later)
        self.await_levels(sku, (10, 0, 0))

if __name__ == "__main__":
    run()
