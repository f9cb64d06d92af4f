"""Conformance: a client written from proto/PROTOCOL.md alone talks to a real
cluster and checks what the spec promises.

Everything on the wire here is built and read by this file with Debian's
python3-zmq and python3-msgpack: requests are DEALER frames [empty][msgpack
map], events are read from the broker's backend with a SUB socket and
published on its frontend with a PUB socket. Nothing of oms's own code
encodes or decodes a message; the cluster is only started and stopped
through tests/e2e/cluster.py. Section numbers below are PROTOCOL.md's.
"""

import os
import sys
import time

import msgpack
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import SERVICES, ClusterTest, poll, run, uid  # noqa: E402

REPLY_S = 5
SETTLE_S = 15
PRUNE_S = 40          # retention runs every 10 s; time for it to have run
MSG_MAX = 1024 * 1024
MAX_ITEMS = 8         # limits/max_items of the first cluster
UINT64_MAX = 2 ** 64 - 1

#  Section 8: name -> (code, text).
ERRORS = {
    "MALFORMED": (-1, "not msgpack"),
    "TRUNCATED": (-2, "message ends before its last value"),
    "TRAILING": (-3, "bytes after the message"),
    "TYPE": (-4, "wrong type"),
    "MISSING": (-5, "required field missing"),
    "UNKNOWN": (-6, "unknown field"),
    "DUPLICATE": (-7, "field given twice"),
    "TOO_LONG": (-8, "string too long"),
    "TOO_MANY": (-9, "too many elements"),
    "RANGE": (-10, "value out of range"),
    "INVALID": (-11, "value not allowed"),
    "FRAMES": (-14, "wrong number of frames"),
    "TOO_BIG": (-15, "message too big"),
    "DEPTH": (-16, "nesting too deep"),
    "NOTFOUND": (-17, "not found"),
    "REJECTED": (-20, "rejected"),
    "GONE": (-22, "events no longer retained"),
    "LIMIT": (-24, "limit exceeded"),
}

#  Section 5: the durable types each service owns, in the table's order,
#  and (docs/ARCHITECTURE.md) the ones it subscribes to.
OWNS = {
    "order": ["order.placed", "order.confirmed", "order.cancelled"],
    "inventory": ["stock.reserved", "stock.rejected", "stock.updated", "catalog.updated"],
    "payment": ["payment.completed", "payment.failed", "payment.refunded"],
    "notification": ["notification.sent"],
}
FOLLOWS = {
    "order": {"catalog.updated", "stock.reserved", "stock.rejected", "payment.completed",
              "payment.failed"},
    "inventory": {"order.placed", "order.confirmed", "order.cancelled"},
    "payment": {"stock.reserved", "order.cancelled"},
    "notification": {"order.confirmed", "order.cancelled", "payment.failed"},
}
ENVELOPE_KEYS = ["version", "id", "type", "producer", "epoch", "seq", "ts_ns", "correlation_id",
                 "causation_id", "data"]


def pack(value):
    return msgpack.packb(value, use_bin_type=True)


def raw_map(*pairs):
    """A msgpack map written entry by entry, so that a key may repeat or be
    something other than a str (section 2). pairs: (key, value) objects."""
    assert len(pairs) < 16
    return bytes([0x80 | len(pairs)]) + b"".join(pack(k) + pack(v) for k, v in pairs)


def nested(levels):
    """{"cmd": "status", "x": [[...[0]...]]}: `levels` levels, the map the first."""
    return b"\x82" + pack("cmd") + pack("status") + pack("x") + b"\x91" * (levels - 1) + b"\x00"


def unpack(body):
    return msgpack.unpackb(body, raw=False)


class Api:
    """One DEALER on one service's api endpoint (section 1, "Commands")."""

    def __init__(self, context, endpoint):
        self.sock = context.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)

    def send(self, *frames):
        self.sock.send_multipart(list(frames))

    def reply(self, timeout_s=REPLY_S):
        """The next reply: exactly [empty][one msgpack map]."""
        if not self.sock.poll(int(timeout_s * 1000)):
            raise AssertionError(f"no reply within {timeout_s} s")
        frames = self.sock.recv_multipart()
        assert len(frames) == 2 and frames[0] == b"", f"reply frames {frames!r:.200}"
        reply = unpack(frames[1])
        assert isinstance(reply, dict), reply
        assert isinstance(reply.get("ok"), bool), reply
        return reply

    def call(self, request):
        """Sends a request (a dict, or bytes as they are) and returns the reply."""
        self.send(b"", request if isinstance(request, bytes) else pack(request))
        return self.reply()

    def ok(self, request):
        reply = self.call(request)
        assert reply["ok"] is True, f"{request!r:.200} refused: {reply}"
        return reply

    def close(self):
        self.sock.close()


class Bus:
    """A SUB socket on the broker's backend (section 1, "Events"), keeping
    every event it reads as (topic, body bytes, decoded body)."""

    def __init__(self, context, endpoint, prefixes):
        self.sock = context.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        #  Subscriptions reach the broker in order: once a heartbeat comes,
        #  every prefix before it is in place.
        for prefix in list(prefixes) + ["heartbeat."]:
            self.sock.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        self.events = []
        self.wait_for(lambda t, e: t.startswith("heartbeat."), "a first heartbeat")

    def drain(self):
        while self.sock.poll(0):
            frames = self.sock.recv_multipart()
            assert len(frames) == 2, f"an event of {len(frames)} frames"
            topic = frames[0].decode()
            self.events.append((topic, frames[1], unpack(frames[1])))

    def matching(self, pred):
        self.drain()
        return [(t, b, e) for t, b, e in self.events if pred(t, e)]

    def wait_for(self, pred, what, timeout=SETTLE_S):
        def found():
            self.drain()
            return self.matching(pred)
        return poll(found, timeout, what)

    def close(self):
        self.sock.close()


class Conformance(ClusterTest):
    CLUSTER = {"heartbeat_ms": 200, "saga_timeout_ms": 600000,
               "config": {"limits/max_items": MAX_ITEMS}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.context = zmq.Context()
        cls.apis = {s: Api(cls.context, cls.cluster.endpoint(s)) for s in SERVICES}

    @classmethod
    def tearDownClass(cls):
        for api in cls.apis.values():
            api.close()
        cls.context.term()
        super().tearDownClass()

    # -- helpers ----------------------------------------------------------------

    def refused(self, service, request, name, field=None, error=None):
        """Sends `request`; the reply must be a refusal with the code of
        `name`. With `field`, the error is exactly "<field>: <text>" ("" for
        a fault in the bytes); with `error`, it contains that. Returns it."""
        reply = self.apis[service].call(request)
        code, text = ERRORS[name]
        self.assertIs(reply["ok"], False, f"{request!r:.120} was accepted: {reply}")
        self.assertEqual(reply.get("code"), code, f"{request!r:.120}: {reply}")
        self.assertIsInstance(reply.get("error"), str)
        if field is not None:
            self.assertEqual(reply["error"], f"{field}: {text}" if field else text,
                             f"{request!r:.120}")
        if error is not None:
            self.assertIn(error, reply["error"])
        return reply

    def stock_set(self, sku, qty, price=None):
        request = {"cmd": "stock.set", "sku": sku, "qty": qty}
        if price is not None:
            request["price_cents"] = price
        return self.apis["inventory"].ok(request)

    def head(self, service, topic):
        return self.apis[service].ok({"cmd": "replay", "topic": topic, "from": 1, "max": 1})["head"]

    def place(self, sku, request_id=None, method="cod"):
        """Places one unit of a SKU inventory has; the order service learns
        SKUs from catalog.updated, so "unknown sku" is asked again a while."""
        request = {"cmd": "place", "request_id": request_id or f"conf-{uid()}",
                   "customer": f"cust-{uid()}", "items": [{"sku": sku, "qty": 1}],
                   "method": method}

        def placed():
            reply = self.apis["order"].call(request)
            if not reply["ok"]:
                assert "unknown sku" in reply["error"], reply
                raise AssertionError(reply["error"])
            return reply
        return poll(placed, SETTLE_S, f"the order service to know {sku}")

    def new_sku(self, qty=100, price=100):
        sku = f"C-{uid()}"
        self.stock_set(sku, qty, price)
        return sku

    # -- section 1: reply shapes ------------------------------------------------

    def test_every_service_answers_status_with_the_listed_keys(self):
        for service in SERVICES:
            with self.subTest(service=service):
                reply = self.apis[service].ok({"cmd": "status"})
                for key in ("name", "instance", "host", "version", "uptime_ns", "now_ns", "catching_up",
                            "heads", "positions", "rates", "peers", "counters"):
                    self.assertIn(key, reply)
                self.assertEqual(reply["name"], service)
                self.assertEqual([h["topic"] for h in reply["heads"]], OWNS[service])
                for head in reply["heads"]:
                    self.assertEqual(set(head), {"topic", "first", "seq"})
                self.assertEqual({p["topic"] for p in reply["positions"]}, FOLLOWS[service])
                for position in reply["positions"]:
                    self.assertEqual(set(position), {"topic", "producer", "seq", "known", "stopped"})

    def test_commands_answer_with_the_listed_keys(self):
        sku = self.new_sku(5, 250)
        listed = {"sku", "available", "reserved", "sold", "price_cents"}
        self.assertLessEqual(listed, set(self.stock_set(sku, 5)))
        self.assertLessEqual(listed, set(self.apis["inventory"].ok({"cmd": "stock.get", "sku": sku})))
        customer = f"cust-{uid()}"
        wallet = self.apis["payment"].ok({"cmd": "wallet.get", "customer": customer})
        self.assertEqual(wallet["balance_cents"], 0, "a wallet never credited holds 0")
        credited = self.apis["payment"].ok({"cmd": "wallet.credit", "customer": customer,
                                            "amount_cents": 700})
        self.assertEqual((credited["customer"], credited["balance_cents"]), (customer, 700))
        placed = self.place(sku, method="wallet")
        self.assertIs(placed["created"], True)
        order = self.apis["order"].ok({"cmd": "get", "order_id": placed["order_id"]})
        self.assertLessEqual({"order_id", "status", "customer", "items", "total_cents", "method",
                              "created_ns"}, set(order))
        self.assertEqual(order["items"], [{"sku": sku, "qty": 1}])
        channel = self.apis["notification"].ok({"cmd": "channel.set", "customer": customer,
                                                "channel": "sms"})
        self.assertEqual((channel["customer"], channel["channel"]), (customer, "sms"))
        notes = self.apis["notification"].ok({"cmd": "notifications", "customer": customer})
        self.assertIsInstance(notes["notifications"], list)
        for service in SERVICES:
            self.assertIsInstance(self.apis[service].ok({"cmd": "metrics"})["text"], str)
            self.assertIsInstance(self.apis[service].ok({"cmd": "dlq.list"})["dead"], list)

    def test_unknown_records_are_not_found(self):
        missing = f"o-none-{uid()}"
        for service, request, needle in [
                ("order", {"cmd": "get", "order_id": missing}, missing),
                ("order", {"cmd": "cancel", "order_id": missing}, missing),
                ("inventory", {"cmd": "stock.get", "sku": f"NONE-{uid()}"}, "unknown sku"),
                ("payment", {"cmd": "dlq.show", "id": 10 ** 9}, "no dead letter"),
                ("order", {"cmd": "dlq.drop", "id": 10 ** 9}, "no dead letter"),
                ("inventory", {"cmd": "dlq.retry", "id": 10 ** 9}, "no dead letter")]:
            with self.subTest(request=request):
                reply = self.refused(service, request, "NOTFOUND", error=needle)
                self.assertEqual(set(reply), {"ok", "error", "code"})

    def test_a_refusal_names_the_topic_of_its_request(self):
        reply = self.refused("order", {"cmd": "replay", "topic": "stock.reserved", "from": 1,
                                       "max": 1}, "REJECTED", error="does not publish")
        self.assertEqual(reply["topic"], "stock.reserved")
        reply = self.refused("inventory", {"cmd": "position.set", "topic": "payment.failed",
                                           "seq": 1}, "REJECTED")
        self.assertEqual(reply["topic"], "payment.failed")
        #  A request that did not decode names nothing.
        reply = self.refused("order", {"cmd": "replay", "topic": "order.placed", "from": 0,
                                       "max": 1}, "RANGE", field="from")
        self.assertNotIn("topic", reply)

    def test_a_command_another_service_answers_is_unknown(self):
        self.refused("inventory", {"cmd": "get", "order_id": "o-1"}, "UNKNOWN",
                     error="inventory does not answer get")

    # -- sections 2, 3, 7, 8: what does not decode ---------------------------------

    def test_malformed_requests_are_refused_with_their_code_and_field(self):
        place = {"cmd": "place", "request_id": "r-1", "customer": "alice",
                 "items": [{"sku": "S-1", "qty": 1}], "method": "cod"}
        rows = [
            (b"", "TRUNCATED", ""),
            (pack({"cmd": "status"})[:-1], "TRUNCATED", ""),
            (b"\xdf\xff\xff\xff\xff", "TRUNCATED", ""),          # a map of 2^32-1 entries
            (b"\x81\xa3cmd\xc1", "MALFORMED", ""),
            (pack({"cmd": "status"}) + b"\xc0", "TRAILING", ""),
            (pack(["status"]), "TYPE", ""),
            (pack({"cmd": "status", "x": 1.5}), "UNKNOWN", "x"),
            (nested(8), "UNKNOWN", "x"),                         # 8 levels are allowed
            (nested(9), "DEPTH", ""),
            (b"\x81\xa3cmd\xdb" + (MSG_MAX).to_bytes(4, "big") + b"s" * MSG_MAX, "TOO_BIG", ""),
            (pack({"order_id": "o-1"}), "MISSING", "cmd"),
            (pack({"cmd": 7}), "TYPE", "cmd"),
            (pack({"cmd": "status".encode()}), "TYPE", "cmd"),   # bin is not str
            (pack({"cmd": "ship"}), "UNKNOWN", "cmd"),
            (raw_map(("cmd", "get"), ("order_id", "o-1"), ("order_id", "o-2")), "DUPLICATE",
             "order_id"),
            (raw_map(("cmd", "status"), (1, 2)), "TYPE", ""),    # a key that is not a str
            (pack(dict(place, request_id="r" * 65)), "TOO_LONG", "request_id"),
            (pack(dict(place, customer="al ice")), "INVALID", "customer"),
            (pack(dict(place, request_id="")), "INVALID", "request_id"),
            (pack(dict(place, card="4242-4242")), "INVALID", "card"),
            (pack(dict(place, method="Card")), "INVALID", "method"),
            (pack(dict(place, method="bitcoin")), "INVALID", "method"),
            (pack(dict(place, items=[])), "RANGE", "items"),
            (pack(dict(place, items=[{"sku": "S-1", "qty": 1}] * 65)), "TOO_MANY", "items"),
            (pack(dict(place, items=[{"sku": "S-1", "qty": 0}])), "RANGE", "items[0].qty"),
            (pack(dict(place, items=[{"sku": "S-1", "qty": None}])), "TYPE", "items[0].qty"),
            (pack(dict(place, items=[{"sku": "S-1"}])), "MISSING", "items[0].qty"),
            (pack({"cmd": "replay", "topic": "order.placed", "from": 1, "max": 0}), "RANGE",
             "max"),
            (pack({"cmd": "replay", "topic": "order.placed", "from": 1, "max": 4097}), "RANGE",
             "max"),
            (pack({"cmd": "replay", "topic": "Order.Placed", "from": 1, "max": 1}), "INVALID",
             "topic"),
            (pack({"cmd": "position.set", "topic": "order.placed", "seq": -1}), "TYPE", "seq"),
            (pack({"cmd": "wallet.credit", "customer": "a", "amount_cents": 10 ** 15 + 1}),
             "RANGE", "amount_cents"),
        ]
        for body, name, field in rows:
            with self.subTest(body=body[:60], expected=name):
                self.refused("order", body, name, field=field)

    def test_a_request_is_one_frame_after_the_delimiter(self):
        api = self.apis["order"]
        api.send(b"", pack({"cmd": "status"}), pack({"cmd": "status"}))
        reply = api.reply()
        self.assertEqual((reply["ok"], reply["code"]), (False, ERRORS["FRAMES"][0]))
        self.assertEqual(reply["error"], "a request is [empty frame][msgpack map]")
        #  Frames are judged before the body: a bad body in a bad framing.
        api.send(b"", b"\xc1", b"\xc1")
        self.assertEqual(api.reply()["code"], ERRORS["FRAMES"][0])
        #  Without a delimiter there is no reply, and the next request is
        #  answered as usual.
        api.send(pack({"cmd": "status"}))
        self.assertIs(api.call({"cmd": "status"})["ok"], True)
        self.assertFalse(api.sock.poll(300), "the request without a delimiter was answered")

    def test_precedence_follows_section_8(self):
        place = {"cmd": "place", "request_id": "r-1", "customer": "alice",
                 "items": [{"sku": "S-1", "qty": 1}], "method": "cod"}
        rows = [
            #  cmd first, wherever it is
            (raw_map(("colour", 1), ("cmd", "ship")), "UNKNOWN", "cmd"),
            (raw_map(("colour", 1), ("cmd", 7)), "TYPE", "cmd"),
            (raw_map(("cmd", "ship"), ("cmd", "status")), "UNKNOWN", "cmd"),
            (raw_map(("cmd", "status"), ("cmd", "ship")), "DUPLICATE", "cmd"),
            #  then keys in wire order, missing ones after the present ones
            (raw_map(("cmd", "get"), ("order_id", 5), ("colour", 1)), "TYPE", "order_id"),
            (raw_map(("colour", 1), ("cmd", "get")), "UNKNOWN", "colour"),
            (raw_map(("cmd", "get"), ("colour", 1), ("order_id", 5)), "UNKNOWN", "colour"),
            (pack({"cmd": "get"}), "MISSING", "order_id"),
            (raw_map(("cmd", "place"), ("method", "bitcoin"), ("customer", "a b")), "INVALID",
             "method"),
            (raw_map(("cmd", "place"), ("customer", "a b"), ("method", "bitcoin")), "INVALID",
             "customer"),
            #  a map entirely, its missing keys included, before the next key
            (raw_map(("cmd", "place"), ("items", [{"sku": "S-1"}]), ("customer", 5)), "MISSING",
             "items[0].qty"),
            (raw_map(("cmd", "place"), ("items", [{"qty": 1, "sku": 1}]), ("customer", 5)),
             "TYPE", "items[0].sku"),
            #  within one value: type, then length, then characters
            (pack(dict(place, customer=" " * 65)), "TOO_LONG", "customer"),
            (pack(dict(place, items=[{"sku": 1}] * 65)), "TOO_MANY", "items"),
            #  the bytes before any key; the first fault in byte order
            (b"\x82\xa3cmd\xc1\xa1x" + b"\x91" * 9 + b"\x00", "MALFORMED", ""),
            (b"\x82\xa1x" + b"\x91" * 9 + b"\x00\xa3cmd\xc1", "DEPTH", ""),
            (pack({"cmd": 7}) + b"\xc1", "TRAILING", ""),
            (pack([1]) + b"\x00", "TRAILING", ""),
        ]
        for body, name, field in rows:
            with self.subTest(body=body[:60], expected=name):
                self.refused("order", body, name, field=field)

    def test_place_checks_its_request_id_then_limits_then_items(self):
        sku = self.new_sku()
        request_id = f"conf-{uid()}"
        placed = self.place(sku, request_id=request_id)
        too_many = [{"sku": f"NONE-{i}", "qty": 1} for i in range(MAX_ITEMS + 1)]
        #  A request id seen before is answered with its order, whatever else.
        again = self.apis["order"].ok({"cmd": "place", "request_id": request_id,
                                       "customer": "someone-else", "items": too_many,
                                       "method": "upi"})
        self.assertEqual((again["order_id"], again["created"]), (placed["order_id"], False))
        fresh = {"cmd": "place", "customer": "c", "method": "cod"}
        self.refused("order", dict(fresh, request_id=f"conf-{uid()}", items=too_many), "LIMIT",
                     error="limits/max_items")
        self.refused("order", dict(fresh, request_id=f"conf-{uid()}",
                                   items=[{"sku": sku, "qty": 1}, {"sku": "NONE", "qty": 1},
                                          {"sku": sku, "qty": 2}]),
                     "REJECTED", error="unknown sku NONE")
        self.refused("order", dict(fresh, request_id=f"conf-{uid()}",
                                   items=[{"sku": sku, "qty": 1}, {"sku": sku, "qty": 2},
                                          {"sku": "NONE", "qty": 1}]),
                     "REJECTED", error=f"sku {sku} appears twice")

    def test_an_unknown_payment_method_places_no_order(self):
        sku = self.new_sku()
        self.place(sku)                                     # the order service knows it
        before = self.head("order", "order.placed")
        self.refused("order", {"cmd": "place", "request_id": f"conf-{uid()}",
                               "customer": "c", "items": [{"sku": sku, "qty": 1}],
                               "method": "bitcoin"}, "INVALID", field="method")
        for method in ("card", "wallet", "upi", "cod"):
            with self.subTest(method=method):
                #  Each listed method decodes; card and wallet may then decline.
                reply = self.place(sku, method=method)
                self.assertIs(reply["created"], True)
        self.assertEqual(self.head("order", "order.placed"), before + 4)

    # -- section 4: causation ------------------------------------------------------

    def test_causation_names_one_event_or_one_request(self):
        bus = Bus(self.context, self.cluster.endpoint("broker/backend"),
                  ["order.", "stock.", "catalog.", "payment."])
        try:
            self.check_causation(bus)
        finally:
            bus.close()

    def check_causation(self, bus):
        api = self.apis["order"]
        sku = f"C-{uid()}"
        self.stock_set(sku, 100, 300)
        listed = bus.wait_for(lambda t, e: t == "catalog.updated" and e["data"]["sku"] == sku,
                              f"catalog.updated of {sku}")
        levels = bus.wait_for(lambda t, e: t == "stock.updated" and e["data"]["sku"] == sku,
                              f"stock.updated of {sku}")
        for topic, _, event in listed + levels:
            self.assertNotIn("causation_id", event, f"{topic} of stock.set, a command "
                                                    "without a request id")

        request_id = "r" + uid() * 7 + "-" + "x" * 2       # 60 bytes: cmd/ and it fit in 64
        self.assertEqual(len(request_id), 60)
        order_id = self.place(sku, request_id=request_id)["order_id"]

        def of(topic):
            return bus.wait_for(lambda t, e: t == topic and e.get("correlation_id") == order_id,
                                f"{topic} of {order_id}")

        placed = of("order.placed")
        self.assertEqual(len(placed), 1)
        _, body, event = placed[0]
        self.assertEqual(event["causation_id"], f"cmd/{request_id}")
        self.assertEqual(event["data"]["order_id"], order_id)
        self.assertEqual(list(event), [k for k in ENVELOPE_KEYS if k in event], "table order")
        reserved = of("stock.reserved")[0][2]
        self.assertEqual(reserved["causation_id"], event["id"])
        completed = of("payment.completed")[0][2]
        self.assertEqual(completed["causation_id"], reserved["id"])
        confirmed = of("order.confirmed")[0][2]
        self.assertEqual(confirmed["causation_id"], completed["id"])
        #  What the bus carried is the body replay keeps (section 7).
        replayed = api.ok({"cmd": "replay", "topic": "order.placed", "from": event["seq"],
                           "max": 1})
        self.assertEqual(replayed["events"], [body])

        cancelled = api.ok({"cmd": "cancel", "order_id": order_id})
        self.assertEqual(cancelled["status"], "CANCELLED")
        event = of("order.cancelled")[0][2]
        self.assertEqual(event["data"]["reason"], "cancelled by customer")
        self.assertNotIn("causation_id", event, "cancel has no request id")

        #  A request id too long to follow cmd/ in 64 bytes names nothing.
        long_id = "L" * 64
        order_id = self.place(sku, request_id=long_id)["order_id"]
        event = of("order.placed")[0][2]
        self.assertNotIn("causation_id", event)
        for topic, _, event in bus.matching(lambda t, e: "causation_id" in e):
            cause = event["causation_id"]
            if cause.startswith("cmd/"):
                self.assertEqual(topic, "order.placed", event)
            else:
                producer, kind, seq = cause.split("/")
                self.assertIn(kind, OWNS[producer], cause)
                self.assertTrue(seq.isdigit(), cause)

    # -- section 7: replay ------------------------------------------------------------

    def test_replay_answers_at_every_edge(self):
        api = self.apis["inventory"]
        sku = self.new_sku()
        for price in (101, 102):
            self.stock_set(sku, 100, price)
        topic = "catalog.updated"

        def replay(start, count):
            reply = api.ok({"cmd": "replay", "topic": topic, "from": start, "max": count})
            self.assertEqual(reply["topic"], topic)
            self.assertEqual(reply["start"], start)
            return reply

        everything = replay(1, 4096)
        head = everything["head"]
        self.assertGreaterEqual(head, 3)
        self.assertEqual(everything["first"], 1, "nothing was dropped")
        self.assertEqual(len(everything["events"]), head)
        epoch = everything["epoch"]
        self.assertIsInstance(epoch, int)
        self.assertGreaterEqual(epoch, 1, "section 4: an epoch is a uint >= 1")
        for i, body in enumerate(everything["events"]):
            event = unpack(body)
            self.assertEqual(event["seq"], 1 + i)
            self.assertEqual(event["epoch"], epoch, "every body carries its store's epoch")
            self.assertEqual((event["type"], event["producer"]), (topic, "inventory"))
            self.assertEqual(event["id"], f"inventory/{topic}/{1 + i}")
        self.assertEqual(unpack(everything["events"][-1])["data"],
                         {"sku": sku, "price_cents": 102})

        one = replay(head, 1)
        self.assertEqual([unpack(b)["seq"] for b in one["events"]], [head])
        two = replay(head - 1, 2)
        self.assertEqual([unpack(b)["seq"] for b in two["events"]], [head - 1, head])
        self.assertEqual(replay(2, 1)["events"], everything["events"][1:2])
        for start in (head + 1, head + 1000, UINT64_MAX):
            with self.subTest(start=start):
                past = replay(start, 10)
                self.assertEqual((past["events"], past["first"], past["head"]), ([], 1, head))
        self.refused("inventory", {"cmd": "replay", "topic": topic, "from": 0, "max": 1},
                     "RANGE", field="from")
        self.refused("inventory", {"cmd": "replay", "topic": "heartbeat.inventory", "from": 1,
                                   "max": 1}, "REJECTED", error="does not publish")
        self.refused("inventory", {"cmd": "replay", "topic": "order.placed", "from": 1,
                                   "max": 1}, "REJECTED", error="does not publish")

    # -- section 6: heartbeats -----------------------------------------------------------

    def test_heartbeats_report_committed_heads_and_applied_positions(self):
        bus = Bus(self.context, self.cluster.endpoint("broker/backend"), [])
        try:
            self.check_heartbeats(bus)
        finally:
            bus.close()

    def check_heartbeats(self, bus):
        self.new_sku(3, 77)
        head = self.head("inventory", "catalog.updated")
        answered_ns = time.time_ns()

        def beats(name):
            return [e for t, _, e in bus.matching(lambda t, e: t == f"heartbeat.{name}")]

        def newest(name, topic, key):
            for event in reversed(beats(name)):
                if event["ts_ns"] > answered_ns:
                    return {h["topic"]: h["seq"] for h in event["data"].get(key, [])}[topic]
            raise AssertionError(f"no heartbeat.{name} since the stock.set")

        poll(lambda: newest("inventory", "catalog.updated", "heads") == head, SETTLE_S,
             f"inventory's heartbeat to announce catalog.updated {head}")
        poll(lambda: newest("order", "catalog.updated", "positions") == head, SETTLE_S,
             f"order's heartbeat to show catalog.updated {head} applied")
        poll(lambda: all(len(beats(n)) >= 2 for n in ("broker",) + SERVICES), SETTLE_S,
             "two heartbeats of every process")
        for name in ("broker",) + SERVICES:
            with self.subTest(process=name):
                events = beats(name)
                for event in events:
                    self.assertEqual(list(event), [k for k in ENVELOPE_KEYS if k in event])
                    self.assertEqual(event["version"], 1)
                    self.assertEqual((event["type"], event["producer"]),
                                     (f"heartbeat.{name}", name))
                    self.assertEqual(event["id"], f"{name}/heartbeat.{name}/{event['seq']}")
                    self.assertEqual(event["data"]["name"], name)
                run = [e for e in events if e["data"]["instance"] == events[-1]["data"]["instance"]]
                seqs = [e["seq"] for e in run]
                self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "one by one")
                uptimes = [e["data"]["uptime_ns"] for e in run]
                self.assertEqual(uptimes, sorted(uptimes))
                last = events[-1]["data"]
                if name == "broker":
                    self.assertNotIn("heads", last)
                    self.assertNotIn("positions", last)
                    continue
                self.assertEqual([h["topic"] for h in last["heads"]], OWNS[name])
                self.assertEqual({p["topic"] for p in last["positions"]}, FOLLOWS[name])
                for h in last["heads"]:
                    self.assertEqual(set(h), {"topic", "seq"})
        #  Nothing newer than the stock.set was committed, and no subscriber
        #  is ever ahead of what was committed.
        for event in beats("inventory"):
            heads = {h["topic"]: h["seq"] for h in event["data"]["heads"]}
            self.assertLessEqual(heads["catalog.updated"], head)
        for event in beats("order"):
            positions = {p["topic"]: p["seq"] for p in event["data"]["positions"]}
            self.assertLessEqual(positions["catalog.updated"], head)

    # -- counters (docs/CONFIG.md): what subscribers drop --------------------------------

    def test_wrong_topic_is_malformed_and_a_bad_body_rejected(self):
        pub = self.context.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        pub.connect(self.cluster.endpoint("broker/frontend"))
        try:
            self.check_counters(pub)
        finally:
            pub.close()

    def check_counters(self, pub):
        api = self.apis["inventory"]

        def counters():
            c = api.ok({"cmd": "status"})["counters"]
            return c["events_malformed"], c["events_rejected"]

        def published_until(frames, changed, what):
            #  Looks before it sends again, so that once a copy was counted
            #  none is left in flight to be counted in the next step.
            def counted():
                if changed(counters()):
                    return True
                pub.send_multipart(frames)       # until the broker passes it on
                return False
            return poll(counted, SETTLE_S, what, interval=0.1)

        malformed, rejected = counters()
        #  A body that does not decode on the right topic: rejected.
        published_until([b"order.placed", b"\x81\xa3cmd\xc1"], lambda c: c[1] > rejected,
                        "inventory to count an event that does not decode")
        self.assertEqual(counters()[0], malformed, "a bad body is not malformed")
        malformed, rejected = counters()
        #  A good order.cancelled on the order.placed topic: malformed.
        body = pack({"version": 1, "id": "order/order.cancelled/999999", "type": "order.cancelled",
                     "producer": "order", "epoch": 1, "seq": 999999, "ts_ns": time.time_ns(),
                     "data": {"order_id": "o-x", "customer": "mallory", "reason": "forged"}})
        published_until([b"order.placed", body], lambda c: c[0] > malformed,
                        "inventory to count an event on the wrong topic as malformed")
        self.assertEqual(counters()[1], rejected, "an event on the wrong topic is not rejected")


class Retention(ClusterTest):
    """Replay below retention: a cluster that keeps two events of each type."""

    CLUSTER = {"config": {"runtime/retention_events": 2}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.context = zmq.Context()
        cls.api = Api(cls.context, cls.cluster.endpoint("inventory"))

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        cls.context.term()
        super().tearDownClass()

    def replay(self, topic, start, count=4096):
        return self.api.call({"cmd": "replay", "topic": topic, "from": start, "max": count})

    def test_replay_of_a_type_never_published_is_empty(self):
        for start in (1, 7):
            reply = self.replay("stock.rejected", start)
            self.assertEqual({k: reply[k] for k in ("ok", "topic", "start", "first", "head",
                                                   "events")},
                             {"ok": True, "topic": "stock.rejected", "start": start, "first": 0,
                              "head": 0, "events": []})

    def test_replay_below_retention_is_gone(self):
        sku = f"R-{uid()}"
        for qty in range(5):
            self.assertIs(self.api.call({"cmd": "stock.set", "sku": sku, "qty": qty,
                                         "price_cents": 100})["ok"], True)
        topic = "stock.updated"
        heads = self.api.call({"cmd": "status"})["heads"]
        head = next(h["seq"] for h in heads if h["topic"] == topic)
        self.assertGreaterEqual(head, 5)

        def pruned():
            reply = self.replay(topic, head)
            assert reply["ok"], reply
            return reply["first"] == head - 1
        poll(pruned, PRUNE_S, f"retention to keep only {topic} {head - 1} and {head}")
        for start in (1, head - 2):
            with self.subTest(start=start):
                reply = self.replay(topic, start)
                self.assertEqual((reply["ok"], reply["code"], reply["topic"]),
                                 (False, ERRORS["GONE"][0], topic), reply)
                self.assertTrue(reply["error"].startswith("gone:"), reply)
                self.assertIn(f"oldest kept is {head - 1}", reply["error"])
        kept = self.replay(topic, head - 1)
        self.assertEqual((kept["start"], kept["first"], kept["head"]), (head - 1, head - 1, head))
        self.assertEqual([unpack(b)["seq"] for b in kept["events"]], [head - 1, head])
        self.assertEqual(self.replay(topic, head + 1)["events"], [])


if __name__ == "__main__":
    run()
