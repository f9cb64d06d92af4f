"""What a run of orders must leave behind, whatever happened during it.

check_books() reads the services' records (each outbox is its durable log of
what it did) and fails on the first thing that does not balance: every
order CONFIRMED or CANCELLED; a confirmed order charged once and never
refunded, a cancelled one refunded exactly when it was charged; one
notification of each kind that applies; one order.placed each; stock
conserved with nothing left reserved; wallets at their credit less what
confirmed wallet orders spent; no event in a dead-letter log.
"""

from collections import Counter

from cluster import SERVICES, TERMINAL, poll


def check_books(cluster, api, order_ids, wallets, settle_s):
    """Checks the books of `order_ids`, all placed on `cluster`, through `api`
    (an omsapi.Api). wallets: {customer: credit before the run}. Waits up to
    settle_s for every order to settle. Raises AssertionError naming what is
    wrong; returns the sum of every service's status counters."""
    order_ids = set(order_ids)

    def settled():
        pending = [o for o in order_ids if api.call("order", "get", order_id=o)["status"]
                   not in TERMINAL]
        assert not pending, f"{len(pending)} orders not terminal, e.g. {pending[:3]}"
        return True

    poll(settled, settle_s, "every order CONFIRMED or CANCELLED")
    orders = {o: api.call("order", "get", order_id=o) for o in order_ids}
    confirmed = {o for o, v in orders.items() if v["status"] == "CONFIRMED"}
    cancelled = order_ids - confirmed

    def per_order(service, topic):
        return Counter(e["data"]["order_id"] for e in api.outbox(service, topic))

    def books_balance():
        charged = per_order("payment", "payment.completed")
        refunded = per_order("payment", "payment.refunded")
        failed = per_order("payment", "payment.failed")
        sent = Counter((e["data"]["order_id"], e["data"]["kind"])
                       for e in api.outbox("notification", "notification.sent"))
        for o in order_ids:
            assert charged[o] <= 1 and refunded[o] <= 1, f"{o} charged or refunded twice"
            if o in confirmed:
                assert charged[o] == 1 and refunded[o] == 0, f"{o} confirmed: charged once"
                assert sent[(o, "confirmed")] == 1, f"{o}: one confirmed notification"
            else:
                assert refunded[o] == charged[o], f"{o} cancelled after a charge: refund"
                assert sent[(o, "cancelled")] == 1, f"{o}: one cancelled notification"
            assert sent[(o, "payment_failed")] == (1 if failed[o] else 0), \
                f"{o}: payment_failed notification iff payment failed"
        assert all(n == 1 for n in sent.values()), "a notification sent twice"
        return charged, refunded, failed, sent

    charged, refunded, failed, sent = poll(books_balance, 30, "payments and notifications")
    placed_events = per_order("order", "order.placed")
    assert all(placed_events[o] == 1 for o in order_ids), "one order.placed each"

    cluster.assert_conserved()
    for sku in cluster.initial:
        assert cluster.stock(sku)["reserved"] == 0, f"{sku}: nothing left reserved"

    #  Wallets end where confirmed wallet orders (and orders paid otherwise)
    #  leave them: every cancelled charge came back.
    for customer, credit in wallets.items():
        spent = sum(v["total_cents"] for v in orders.values()
                    if v["customer"] == customer and v["method"] == "wallet"
                    and v["status"] == "CONFIRMED")
        balance = api.call("payment", "wallet.get", customer=customer)["balance_cents"]
        assert balance == credit - spent, \
            f"{customer}'s wallet is {balance}, not {credit} - {spent}"

    counters = Counter()
    for service in SERVICES:
        counters.update(api.call(service, "status")["counters"])
    assert counters["events_dead"] == 0, "no event ended in a dead-letter log"
    print(f"orders={len(order_ids)} confirmed={len(confirmed)} cancelled={len(cancelled)} "
          f"charged={sum(charged[o] for o in order_ids)} "
          f"refunded={sum(refunded[o] for o in order_ids)} "
          f"payment_failed={sum(failed[o] for o in order_ids)} "
          f"notifications={sum(1 for k in sent if k[0] in order_ids)}", flush=True)
    return counters
