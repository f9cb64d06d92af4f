"""No event lost, no effect twice: a steady stream of orders while every
process is SIGKILLed and restarted in turn, the broker too, with high-water
marks so small that PUB/SUB drops events under load. Once the faults stop,
every order must settle and the books must balance.

Sizes come from the environment so scripts/chaos can run it bigger:
OMS_FAULT_ORDERS (2000), OMS_FAULT_ROUNDS (2 rounds over the 5 processes),
OMS_FAULT_DOWN_S (longest time a process stays down, 1.0), OMS_FAULT_SEED.
"""

import os
import random
import threading
import time
import unittest
from collections import Counter

from books import check_books
from cluster import CARD_DECLINED, CARD_OK, SERVICES, Cluster, run, uid
from omsapi import Api

ORDERS = int(os.environ.get("OMS_FAULT_ORDERS", "2000"))
ROUNDS = int(os.environ.get("OMS_FAULT_ROUNDS", "2"))
DOWN_S = float(os.environ.get("OMS_FAULT_DOWN_S", "1.0"))
SEED = int(os.environ.get("OMS_FAULT_SEED", str(int(time.time()))))
PLACERS = 4
CANCEL_SHARE = 0.1
SETTLE_S = 60 + ORDERS / 100


class FaultTest(unittest.TestCase):
    def test_kills_restarts_and_drops_lose_nothing(self):
        rng = random.Random(SEED)
        print(f"seed={SEED} orders={ORDERS} rounds={ROUNDS}", flush=True)
        config = {"runtime/hwm": 10, "broker/hwm": 10, "runtime/heartbeat_ms": 200,
                  "runtime/replay_batch": 64, "cli/timeout_ms": 1000,
                  "order/saga_timeout_ms": 600000}
        with Cluster(name="faults", config=config) as cluster:
            self.run_faults(cluster, rng)

    def run_faults(self, cluster, rng):
        tag = uid()
        plenty, scarce = [f"F{tag}-{i}" for i in range(8)], f"F{tag}-scarce"
        for sku in plenty:
            cluster.stock_set(sku, 10 ** 6, price=rng.randint(100, 5000))
        cluster.stock_set(scarce, ORDERS // 20, price=700)
        rich, poor = f"rich-{tag}", f"poor-{tag}"
        cluster.credit(rich, 10 ** 12)
        cluster.credit(poor, 20000)
        #  The catalog reaches the order service by events: wait for it.
        cluster.place_when_known(cluster.place_args(rich, [(scarce, 1)], "cod"),
                                 plenty + [scarce])
        for sku in plenty:
            cluster.place_when_known(cluster.place_args(rich, [(sku, 1)], "cod"), [sku])

        kinds = [("card", CARD_OK, rich), ("card", CARD_DECLINED, rich), ("wallet", None, rich),
                 ("wallet", None, poor), ("upi", None, rich), ("cod", None, rich)]
        plans = []
        for i in range(ORDERS):
            pay, card, customer = rng.choice(kinds)
            skus = rng.sample(plenty, rng.randint(1, 3))
            if rng.random() < 0.15:
                skus.append(scarce)
            items = [(sku, rng.randint(1, 3)) for sku in skus]
            plans.append(cluster.place_args(customer, items, pay, card=card,
                                            request_id=f"fault-{tag}-{i}"))

        placed, errors, cancels = {}, [], []
        lock = threading.Lock()

        def retried(args, what):
            deadline = time.monotonic() + 120
            while True:
                r = cluster.oms(*args, check=False)
                if r.returncode == 0 or time.monotonic() > deadline:
                    if r.returncode:
                        errors.append(f"{what} {args}: {r.stderr.strip()}")
                    return r

        def placer(share):
            for args in share:
                #  A placement may meet a dead order service: the same request
                #  id is retried until it is accepted, never placed twice.
                deadline = time.monotonic() + 120
                r = retried(args, "placing")
                if r.returncode:
                    return
                order_id = r.stdout.strip()
                with lock:
                    placed[args[args.index("--request-id") + 1]] = order_id
                    if rng.random() < CANCEL_SHARE:
                        cancels.append(order_id)
                #  Customers cancel some orders: at once (often before payment)
                #  or one placement later (often after confirmation).
                while len(cancels) > 1 or (cancels and rng.random() < 0.5):
                    with lock:
                        victim = cancels.pop(0) if cancels else None
                    if victim and retried(["cancel", victim], "cancelling").returncode:
                        return

        threads = [threading.Thread(target=placer, args=(plans[i::PLACERS],))
                   for i in range(PLACERS)]
        started = time.monotonic()
        for t in threads:
            t.start()

        faults = Counter()
        victims = ["broker", *SERVICES]
        for _ in range(ROUNDS):
            rng.shuffle(victims)
            for victim in victims:
                time.sleep(rng.uniform(0.2, 1.0))   #  a random moment, not a sync point
                cluster.ctl("kill", victim)
                time.sleep(rng.uniform(0.05, DOWN_S))
                cluster.ctl("start", victim)
                faults[victim] += 1
        for t in threads:
            t.join()
        for victim in cancels:
            retried(["cancel", victim], "cancelling")
        print(f"placed {len(placed)} orders in {time.monotonic() - started:.1f}s with faults "
              f"{dict(faults)}", flush=True)
        self.assertEqual(errors, [])
        self.assertEqual(len(placed), ORDERS)
        self.assertEqual(len(set(placed.values())), ORDERS, "one order per request id")

        wallets = {rich: 10 ** 12, poor: 20000}
        api = Api({s: cluster.endpoint(s) for s in SERVICES})
        try:
            counters = check_books(cluster, api, placed.values(), wallets, SETTLE_S)
        finally:
            api.close()
        print("since the last restarts: " + " ".join(
            f"{k}={counters[k]}" for k in ("events_gap", "events_duplicate", "replays_requested",
                                           "replays_served")), flush=True)


if __name__ == "__main__":
    run()
