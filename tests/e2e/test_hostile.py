"""Hostile input: while a well-behaved client places orders, every endpoint is
sent malformed frames, forged events reach every subscriber through the
broker, and one client floods an api endpoint past its rate limit.

Afterwards every order the well-behaved client placed must have settled with
the books balanced (tests/e2e/books.py), every process must still be up,
every refusal must be counted in `status`, the flooding client must have got
clear "rate limit" errors while a client beside it got none, and no forged
sequence number may leave a subscriber believing in events that will never
exist (which would keep it asking for them).
"""

import os
import socket
import struct
import threading
import time
import unittest
from collections import Counter

import msgpack
import zmq
import zmq.utils.monitor

from books import check_books
from cluster import CARD_DECLINED, CARD_OK, SERVICES, Cluster, alive, poll, run, uid
from omsapi import Api

ORDERS = int(os.environ.get("OMS_HOSTILE_ORDERS", "300"))
PLACERS = 2
RATE, BURST = 200, 50           #  limits/requests_per_s, limits/burst
MAX_ITEMS, MAX_QTY = 10, 1000   #  limits/max_items, limits/max_qty
MSG_MAX = 1024 * 1024           #  OMS_MSG_MAX, the codec's cap on a body
MAX_BYTES = MSG_MAX + 64 * 1024  #  limits/max_message_bytes (the default)
FLOOD = 3000                    #  requests the flooding client sends at once
FORGED_SEQ = 10 ** 18
REPLY_S = 5
SETTLE_S = 60 + ORDERS / 50

CONFIG = {"limits/requests_per_s": RATE, "limits/burst": BURST,
          "limits/max_items": MAX_ITEMS, "limits/max_qty": MAX_QTY,
          "limits/max_message_bytes": MAX_BYTES, "runtime/heartbeat_ms": 200,
          "order/saga_timeout_ms": 600000}


def nested(depth):
    """A map holding an array nested `depth` deep: {"x": [[[...0...]]]}."""
    return b"\x81\xa1x" + b"\x91" * depth + b"\x00"


def place(**changes):
    """A valid place request with some fields replaced (None removes one)."""
    request = {"cmd": "place", "request_id": f"hostile-{uid()}", "customer": "mallory",
               "items": [{"sku": "NOPE", "qty": 1}], "method": "cod"}
    for key, value in changes.items():
        if value is None:
            request.pop(key, None)
        else:
            request[key] = value
    return msgpack.packb(request)


#  Bodies each service's api must refuse with {"ok": false}, and a text its
#  error must contain. Each goes after an empty delimiter frame.
BAD_BODIES = [
    (b"", "message ends before its last value"),
    (b"\xc1", "not msgpack"),
    (os.urandom(48) + b"\xc1", ""),
    (msgpack.packb([1, 2, 3]), "wrong type"),
    (msgpack.packb(42), "wrong type"),
    (msgpack.packb("status"), "wrong type"),
    (b"\xdf\xff\xff\xff\xff", "message ends before its last value"),    # map of 2^32-1 entries
    (b"\x81\xa3cmd\xdd\xff\xff\xff\xff", "message ends"),              # array of 2^32-1
    (nested(100), "nesting too deep"),
    (msgpack.packb({"cmd": "explode"}), "cmd"),
    (msgpack.packb({"cmd": 7}), "cmd"),
    (msgpack.packb({"status": 1}), "cmd"),
    (msgpack.packb({"cmd": "status", "extra": 1}), "extra"),
    (place(request_id=123), "request_id"),
    (place(request_id="x" * 65), "request_id"),
    (place(request_id=None), "request_id"),
    (place(customer=["alice"]), "customer"),
    (place(customer="bad customer"), "customer"),
    (place(items="SKU-1:1"), "items"),
    (place(items=[]), "items"),
    (place(items=[{"sku": "A", "qty": 1}] * 65), "items"),
    (place(items=[["A", 1]]), "items[0]"),
    (place(items=[{"sku": 1, "qty": 1}]), "items[0].sku"),
    (place(items=[{"sku": "A", "qty": "1"}]), "items[0].qty"),
    (place(items=[{"sku": "A", "qty": 1.5}]), "items[0].qty"),
    (place(items=[{"sku": "A", "qty": -1}]), "items[0].qty"),
    (place(items=[{"sku": "A", "qty": 2 ** 64 - 1}]), "items[0].qty"),
    (place(items=[{"sku": "A"}]), "items[0].qty"),
    (place(method=True), "method"),
    (place(method=None), "method"),
    (place(card=4242424242424242), "card"),
    (place(card="42a2"), "card"),
    (msgpack.packb({"cmd": "replay", "topic": "order.placed", "from": 0, "max": 1}), "from"),
    (msgpack.packb({"cmd": "replay", "topic": "order.placed", "from": 1, "max": 10 ** 9}),
     "max"),
    (b"\x82\xa3cmd\xa6status\xa3cmd\xa6status", "twice"),
    (msgpack.packb({"cmd": "status"}) + b"\x00", "bytes after the message"),
    (b"\x81" + b"\xdb\x00\x10\x00\x00" + b"c" * (MSG_MAX - 6 + 100), "message too big"),
]


def envelope(topic, producer, seq, data, kind=None, epoch=1):
    """An event body: the envelope of PROTOCOL.md section 4 around `data`."""
    kind = kind or topic
    return msgpack.packb({"version": 1, "id": f"{producer}/{kind}/{seq}", "type": kind,
                          "producer": producer, "epoch": epoch, "seq": seq,
                          "ts_ns": time.time_ns(), "data": data})


def order_data(order_id="o-forged"):
    return {"order_id": order_id, "customer": "mallory", "amount_cents": 100,
            "method": "cod"}


def heartbeat(name, heads):
    return {"name": name, "instance": "forged:1", "version": "0", "uptime_ns": 1,
            "heads": [{"topic": t, "seq": s} for t, s in heads]}


class Client:
    """One DEALER on an api endpoint, with a monitor that sees it disconnected."""

    def __init__(self, context, endpoint, hwm=1000):
        self.sock = context.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.SNDHWM, hwm)
        self.sock.setsockopt(zmq.RCVHWM, hwm)
        self.monitor = self.sock.get_monitor_socket(zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED)
        self.sock.connect(endpoint)

    def reply(self, timeout_s=REPLY_S):
        """The next reply map, or None when none comes in time."""
        if not self.sock.poll(int(timeout_s * 1000)):
            return None
        frames = self.sock.recv_multipart()
        assert len(frames) == 2 and frames[0] == b"", f"reply frames {frames!r}"
        reply = msgpack.unpackb(frames[1], raw=False)
        assert isinstance(reply, dict) and isinstance(reply.get("ok"), bool), reply
        return reply

    def call(self, frames, timeout_s=REPLY_S):
        self.sock.send_multipart(frames)
        return self.reply(timeout_s)

    def events(self):
        seen = []
        while self.monitor.poll(0):
            seen.append(zmq.utils.monitor.recv_monitor_message(self.monitor)["event"])
        return seen

    def close(self):
        self.sock.disable_monitor()
        self.monitor.close()
        self.sock.close()


class RawPeer:
    """A ZeroMQ peer spoken by hand (ZMTP 3.0, NULL mechanism), so that
    frames of any kind and size go out exactly as given, with no library
    of ours in between that would keep or check them."""

    def __init__(self, endpoint, socket_type):
        host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=REPLY_S)
        greeting = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00")
        self.sock.sendall(greeting + b"\x00" * 32)
        ready = b"\x05READY\x0bSocket-Type" + struct.pack(">I", len(socket_type)) + socket_type
        self.sock.sendall(b"\x04" + bytes([len(ready)]) + ready)
        self.read(64)                           # the other side's greeting
        flags, size = self.read(2)
        self.read(size if not flags & 2 else struct.unpack(">Q", bytes([size]) + self.read(7))[0])

    def read(self, count):
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed by the other side")
            data += chunk
        return data

    def send(self, *frames):
        for i, frame in enumerate(frames):
            more = 1 if i + 1 < len(frames) else 0
            if len(frame) < 256:
                head = bytes([more, len(frame)])
            else:
                head = bytes([more | 2]) + struct.pack(">Q", len(frame))
            self.sock.sendall(head + frame)

    def dropped(self, timeout_s):
        """Whether the other side closed the connection within timeout_s
        (whatever it sent meanwhile is read and ignored)."""
        deadline = time.monotonic() + timeout_s
        try:
            while (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                if not self.sock.recv(65536):
                    return True
        except TimeoutError:
            return False
        except OSError:
            return True
        return False

    def close(self):
        self.sock.close()


class HostileTest(unittest.TestCase):
    def test_hostile_input_changes_nothing_for_others(self):
        with Cluster(name="hostile", config=CONFIG) as cluster:
            self.context = zmq.Context()
            self.api = Api({s: cluster.endpoint(s) for s in SERVICES})
            try:
                self.run_hostile(cluster)
            finally:
                self.api.close()
                self.context.term()

    def run_hostile(self, cluster):
        tag = uid()
        skus = [f"H{tag}-{i}" for i in range(6)]
        for i, sku in enumerate(skus):
            cluster.stock_set(sku, 10 ** 6, price=100 + 37 * i)
        customer = f"good-{tag}"
        cluster.credit(customer, 10 ** 12)
        for sku in skus:
            cluster.place_when_known(cluster.place_args(customer, [(sku, 1)], "cod"), [sku])
        warmup = list(cluster.orders)

        placed, errors = {}, []
        lock = threading.Lock()
        kinds = [("card", CARD_OK), ("card", CARD_DECLINED), ("wallet", None), ("upi", None),
                 ("cod", None)]

        def placer(index):
            for i in range(index, ORDERS, PLACERS):
                pay, card = kinds[i % len(kinds)]
                items = [(skus[(i + k) % len(skus)], 1 + (i + k) % 3) for k in range(1 + i % 3)]
                request_id = f"good-{tag}-{i}"
                args = cluster.place_args(customer, items, pay, card=card, request_id=request_id)
                r = cluster.oms(*args, check=False)
                with lock:
                    if r.returncode:
                        errors.append(f"{args}: {r.stderr.strip()}")
                    else:
                        placed[request_id] = r.stdout.strip()

        threads = [threading.Thread(target=placer, args=(i,)) for i in range(PLACERS)]
        for t in threads:
            t.start()
        try:
            expected = self.probe_every_api(cluster)
            forged = self.forge_events(cluster)
            self.check_order_limits(cluster, customer, skus)
            limited = self.flood(cluster, warmup[0])
            self.probe_broker_subscribers(cluster)
        finally:
            for t in threads:
                t.join()
        print(f"placed {len(placed)} orders beside the hostile traffic", flush=True)
        self.assertEqual(errors, [], "the well-behaved client's placements all succeed")
        self.assertEqual(len(placed), ORDERS)

        counters = check_books(cluster, self.api, list(placed.values()) + warmup,
                               {customer: 10 ** 12}, SETTLE_S)
        for name, pid in cluster.pids().items():
            self.assertTrue(alive(pid), f"{name} is still running")
        self.check_counters(cluster, expected, forged, limited)
        print("counters: " + " ".join(
            f"{k}={counters[k]}" for k in ("requests_rejected", "requests_rate_limited",
                                           "commands_over_limit", "events_rejected",
                                           "events_malformed", "events_gap",
                                           "replays_requested")), flush=True)

    # -- the api endpoints -----------------------------------------------------

    def probe_every_api(self, cluster):
        """Sends every malformed request to every service, each from a fresh
        connection (so the rate limit does not hide them). Returns the
        number of requests each service must have counted as rejected."""
        expected = {}
        for service in SERVICES:
            endpoint = cluster.endpoint(service)
            before = self.api.call(service, "status")["counters"]["requests_rejected"]
            rejected = 0

            def probe(frames, needle, replied=True):
                client = Client(self.context, endpoint)
                try:
                    reply = client.call(frames, timeout_s=REPLY_S if replied else 0.3)
                finally:
                    client.close()
                if not replied:
                    self.assertIsNone(reply, f"{service} answered {frames!r:.80}")
                    return
                self.assertIsNotNone(reply, f"{service} did not answer {frames!r:.80}")
                self.assertFalse(reply["ok"], f"{service} accepted {frames!r:.80}")
                self.assertIsInstance(reply.get("error"), str)
                self.assertIn(needle, reply["error"], f"{service}: {frames!r:.80}")

            status = msgpack.packb({"cmd": "status"})
            #  Frame counts: no delimiter (nothing to answer), a delimiter
            #  alone, a body in two frames.
            probe([status], None, replied=False)
            probe([b""], "a request is [empty frame][msgpack map]")
            probe([b"", status, status], "a request is [empty frame][msgpack map]")
            probe([b"", b"a", b"b"], "a request is [empty frame][msgpack map]")
            rejected += 4
            for body, needle in BAD_BODIES:
                probe([b"", body], needle)
                rejected += 1
            #  Over limits/max_message_bytes: libzmq drops the connection
            #  before the service reads anything, so no answer and no count.
            client = Client(self.context, endpoint)
            try:
                self.assertIsNone(client.call([b"", b"\x00" * (MAX_BYTES + 1)], timeout_s=1))
                poll(lambda: zmq.EVENT_DISCONNECTED in client.events(), REPLY_S,
                     f"{service} to drop a connection that sent more than max_message_bytes")
                #  The client may reconnect and is then served as any other.
                reply = client.call([b"", status])
                self.assertTrue(reply and reply["ok"], f"{service} after a reconnect: {reply}")
            finally:
                client.close()
            expected[service] = before + rejected
            after = self.api.call(service, "status")["counters"]["requests_rejected"]
            self.assertGreaterEqual(after, expected[service], f"{service} counts rejections")
        return expected

    def check_order_limits(self, cluster, customer, skus):
        before = self.api.call("order", "status")["counters"]["commands_over_limit"]
        many = [(f"X{i}", 1) for i in range(MAX_ITEMS + 1)]
        r = cluster.oms(*cluster.place_args(customer, many, "cod"), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"at most {MAX_ITEMS}", r.stderr)
        self.assertIn("limits/max_items", r.stderr)
        r = cluster.oms(*cluster.place_args(customer, [(skus[0], MAX_QTY + 1)], "cod"),
                        check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"limit of {MAX_QTY}", r.stderr)
        self.assertIn("limits/max_qty", r.stderr)
        #  At the limits is fine.
        self.assertTrue(cluster.place(customer, [(skus[1], MAX_QTY)], "cod"))
        after = self.api.call("order", "status")["counters"]["commands_over_limit"]
        self.assertEqual(after - before, 2, "each refused order is counted")

    def flood(self, cluster, order_id):
        """One client sends FLOOD requests at once to the order service while
        another asks at a gentle pace. Returns how many were refused."""
        before = self.api.call("order", "status")["counters"]["requests_rate_limited"]
        flooder = Client(self.context, cluster.endpoint("order"), hwm=0)
        replies = Counter()
        refusals = []
        request = msgpack.packb({"cmd": "get", "order_id": order_id})

        def run_flood():
            started = time.monotonic()
            for _ in range(FLOOD):
                flooder.sock.send_multipart([b"", request])
            #  A client that does not read as fast as it is answered may lose
            #  answers at the service's high-water mark: that is its loss.
            for _ in range(FLOOD):
                reply = flooder.reply(timeout_s=2)
                if reply is None:
                    break
                if reply["ok"]:
                    replies["ok"] += 1
                else:
                    replies["refused"] += 1
                    refusals.append(reply)
            replies["elapsed_ms"] = int((time.monotonic() - started) * 1000)

        thread = threading.Thread(target=run_flood)
        bystander = Client(self.context, cluster.endpoint("order"))
        try:
            thread.start()
            answers = []
            while thread.is_alive() or len(answers) < 20:
                answers.append(bystander.call([b"", request]))
                time.sleep(0.02)
            thread.join()
        finally:
            bystander.close()
            flooder.close()
        counted = self.api.call("order", "status")["counters"]["requests_rate_limited"] - before
        print(f"flood of {FLOOD}: {dict(replies)}, {counted} counted", flush=True)
        self.assertGreater(replies["refused"], 0, "the flood went over the rate limit")
        self.assertGreaterEqual(counted, replies["refused"], "every refusal is counted")
        self.assertLessEqual(counted, FLOOD, "only the flood was limited")
        allowed = BURST + RATE * (replies["elapsed_ms"] / 1000 + 0.5)
        self.assertLessEqual(FLOOD - counted, allowed, "the limit held")
        for reply in refusals:
            self.assertTrue(reply["error"].startswith("rate limit:"), reply)
            self.assertEqual(reply.get("code"), -24, reply)
        self.assertTrue(all(a and a["ok"] for a in answers),
                        f"a client beside the flood is not limited: {answers}")
        return replies["refused"]

    # -- the broker ------------------------------------------------------------

    def forge_events(self, cluster):
        """Publishes malformed and forged events through the broker's
        frontend. Returns the topics whose forged seq was far ahead."""
        pub = self.context.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        pub.setsockopt(zmq.SNDHWM, 0)
        monitor = pub.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        pub.connect(cluster.endpoint("broker/frontend"))
        heads, epochs = {}, {}
        for service in SERVICES:
            for head in self.api.call(service, "status")["heads"]:
                heads[head["topic"]] = head["seq"]
                #  Anyone who can subscribe learns a producer's epoch.
                epochs[service] = self.api.call(service, "replay", topic=head["topic"],
                                                max=1, **{"from": 1})["epoch"]
        #  The broker passes the services' subscriptions on to a new
        #  publisher; until they arrive, a PUB drops what it is given.
        time.sleep(1.0)
        try:
            body = envelope("order.placed", "order", 1,
                            {"order_id": "o-x", "customer": "mallory",
                             "items": [{"sku": "A", "qty": 1}], "method": "cod"})
            messages = [
                [b"heartbeat.mallory"],                                     # one frame
                [b"order.placed", body, b"extra"],                          # three frames
                [b"heartbeat.mallory", b"", b"", b""],
                [b"order.placed", os.urandom(100)],                         # garbage
                [b"stock.reserved", b"\xc1"],
                [b"heartbeat.mallory", b"\xdf\xff\xff\xff\xff"],             # huge map
                [b"order.placed", nested(100)],
                [b"heartbeat.mallory", msgpack.packb([1, 2])],
                [b"heartbeat." + b"x" * 990],                               # topic 1000 bytes
                [b"heartbeat." + b"x" * 990, body],
                [b"order.placed" + b"x" * 500000, body],                    # huge topic
                [b"heartbeat.\x00order", body],
                #  Bodies that decode but claim another producer or type.
                [b"order.placed", envelope("order.placed", "inventory", 1, order_data())],
                [b"order.placed", envelope("order.placed", "order", 1, order_data(),
                                           kind="order.cancelled")],
                [b"heartbeat.order", envelope("heartbeat.order", "payment", 1,
                                              heartbeat("order", []))],
                [b"stock.reserved", envelope("stock.reserved", "inventory", 1,
                                             {"order_id": "o-1"})],
            ]
            forged = ["stock.reserved", "payment.completed", "order.placed",
                      "order.confirmed"]
            for kind in forged:
                owner = kind.split(".")[0].replace("stock", "inventory")
                data = order_data()
                if kind == "order.placed":
                    data = {"order_id": "o-forged", "customer": "mallory",
                            "items": [{"sku": "A", "qty": 1}], "method": "cod"}
                if kind == "order.confirmed":
                    data = {"order_id": "o-forged", "customer": "mallory", "amount_cents": 1}
                #  Seqs that jump far ahead of the producer's head: a
                #  subscriber sees a gap, never an event to apply.
                for seq in (heads.get(kind, 0) + FORGED_SEQ, 2 ** 64 - 1):
                    messages.append([kind.encode(), envelope(kind, owner, seq, data,
                                                             epoch=epochs[owner])])
            #  Heartbeats that announce heads far ahead.
            for name in ("order", "inventory", "payment"):
                owned = [t for t in forged if t.startswith(name.replace("inventory", "stock"))]
                messages.append([f"heartbeat.{name}".encode(),
                                 envelope(f"heartbeat.{name}", name, 1,
                                          heartbeat(name, [(t, FORGED_SEQ) for t in owned]),
                                          epoch=epochs[name])])
            for _ in range(3):
                for frames in messages:
                    pub.send_multipart(frames)
                time.sleep(0.2)
            #  A topic over max_message_bytes: the broker drops the publisher.
            pub.send_multipart([b"heartbeat." + b"x" * MAX_BYTES, body])

            def dropped():
                while monitor.poll(0):
                    event = zmq.utils.monitor.recv_monitor_message(monitor)
                    if event["event"] == zmq.EVENT_DISCONNECTED:
                        return True
                return False
            poll(dropped, REPLY_S, "the broker to drop a publisher of an oversized frame")
        finally:
            pub.disable_monitor()
            monitor.close()
            pub.close()

        def counted():
            for service in SERVICES:
                c = self.api.call(service, "status")["counters"]
                assert c["events_malformed"] > 0 and c["events_rejected"] > 0, \
                    f"{service} counters {c}"
            return True
        poll(counted, 10, "every service to count malformed and rejected events")
        return forged

    def probe_broker_subscribers(self, cluster):
        """Garbage and oversized subscriptions on the broker's backend and tap.
        A prefix of a few hundred kilobytes, subscribed and then unsubscribed,
        is what would overflow a stack in libzmq's subscription trie."""
        long_prefix = b"heartbeat." + b"z" * 300000
        for key in ("broker/backend", "broker/tap"):
            peer = RawPeer(cluster.endpoint(key), b"XSUB")
            try:
                peer.send(b"\x01" + b"x" * 1000)       # a prefix no topic can have
                peer.send(b"\x00" + b"y" * 10)         # never subscribed
                peer.send(b"\x02garbage")
                peer.send(b"")
                peer.send(b"\x01heartbeat.", b"more")  # two frames
                peer.send(b"\x01" + long_prefix)
                peer.send(b"\x00" + long_prefix)
                peer.send(b"\x01" + long_prefix)
                self.assertFalse(peer.dropped(0.5), f"{key} takes what fits")
                try:
                    peer.send(b"\x01" + b"z" * MAX_BYTES)  # over max_message_bytes
                except OSError:
                    pass                                # closed while we were sending
                self.assertTrue(peer.dropped(REPLY_S), f"{key} drops an oversized frame")
            finally:
                peer.close()
        pids = cluster.pids()
        self.assertTrue(alive(pids["broker"]), "the broker survives hostile subscribers")

    # -- what must be true afterwards ----------------------------------------------

    def check_counters(self, cluster, expected, forged, limited):
        statuses = {s: self.api.call(s, "status") for s in SERVICES}
        for service, status in statuses.items():
            c = status["counters"]
            self.assertGreaterEqual(c["requests_rejected"], expected[service], service)
            self.assertGreater(c["events_malformed"], 0, service)
            self.assertGreater(c["events_rejected"], 0, service)
        self.assertGreaterEqual(statuses["order"]["counters"]["requests_rate_limited"], limited)

        #  A seq far ahead is held until the producer's replay confirms it.
        for service in ("order", "inventory", "payment", "notification"):
            self.assertGreater(statuses[service]["counters"]["events_suspect"], 0, service)

        #  A forged seq far ahead must not leave a subscriber believing in
        #  events that will never exist: the producer's replay answer (its
        #  head) bounds what it expects, and it stops asking.
        def believes_only_real_heads():
            for service in SERVICES:
                for entry in self.api.call(service, "status")["positions"]:
                    assert entry["known"] < FORGED_SEQ, \
                        f"{service} still expects {entry['topic']} {entry['known']}"
                    assert entry["known"] == entry["seq"], \
                        f"{service} behind on {entry['topic']}: {entry}"
            return True
        poll(believes_only_real_heads, 15, "every subscriber to expect only real events")

        def replays():
            return sum(self.api.call(s, "status")["counters"]["replays_requested"]
                       for s in SERVICES)
        before = replays()
        time.sleep(2)
        self.assertLessEqual(replays() - before, 4, "no subscriber keeps asking for replays")
        metrics = self.api.call("order", "metrics")["text"]
        for name in ("oms_requests_rate_limited", "oms_commands_over_limit",
                     "oms_events_malformed", "oms_requests_rejected"):
            self.assertIn(name, metrics)


if __name__ == "__main__":
    run()
