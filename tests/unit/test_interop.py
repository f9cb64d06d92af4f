"""Interoperability: an independent msgpack implementation (Debian's
python3-msgpack) reads the events oms writes and writes requests oms reads,
following nothing but proto/PROTOCOL.md.

Usage: test_interop.py INTEROP_HELPER [unittest options]
"""
import json
import os
import struct
import subprocess
import sys
import unittest

import msgpack

HELPER = None

ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@/-")
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
DIGITS = set("0123456789")
CENTS_MAX = 10**15
LEVEL_MAX = 2**53
UINT64_MAX = 2**64 - 1

# PROTOCOL.md section 4: key -> (kind, limit, required), in order.
ENVELOPE = [
    ("version", "uint", None, True),
    ("id", "id", 64, True),
    ("type", "name", 32, True),
    ("producer", "name", 32, True),
    ("epoch", "uint", None, True),
    ("seq", "uint", None, True),
    ("ts_ns", "uint", None, True),
    ("correlation_id", "id", 64, False),
    ("causation_id", "id", 64, False),
    ("data", "map", None, True),
]

ORDER_ID = ("order_id", "id", 64, True)
CUSTOMER = ("customer", "id", 64, True)
METHOD = ("method", "name", 32, True)
CARD_LAST4 = ("card_last4", "digits", 4, False)
AMOUNT = ("amount_cents", ("int", 0, CENTS_MAX), None, True)
REASON = ("reason", "text", 256, True)

# PROTOCOL.md section 5: type -> (owner, data keys in order).
EVENTS = {
    "order.placed": ("order", [ORDER_ID, CUSTOMER, ("items", "items", 64, True), METHOD, CARD_LAST4]),
    "order.confirmed": ("order", [ORDER_ID, CUSTOMER, AMOUNT]),
    "order.cancelled": ("order", [ORDER_ID, CUSTOMER, REASON]),
    "stock.reserved": ("inventory", [ORDER_ID, CUSTOMER, AMOUNT, METHOD, CARD_LAST4]),
    "stock.rejected": ("inventory", [ORDER_ID, CUSTOMER, REASON]),
    "stock.updated": ("inventory", [
        ("sku", "id", 32, True),
        ("available", ("int", 0, LEVEL_MAX), None, True),
        ("reserved", ("int", 0, LEVEL_MAX), None, True),
        ("sold", ("int", 0, LEVEL_MAX), None, True),
        ("price_cents", ("int", 0, CENTS_MAX), None, True),
    ]),
    "catalog.updated": ("inventory", [
        ("sku", "id", 32, True),
        ("price_cents", ("int", 0, CENTS_MAX), None, True),
    ]),
    "payment.completed": ("payment", [ORDER_ID, CUSTOMER, AMOUNT, METHOD]),
    "payment.failed": ("payment", [ORDER_ID, CUSTOMER, METHOD, REASON]),
    "payment.refunded": ("payment", [ORDER_ID, CUSTOMER, AMOUNT, METHOD]),
    "notification.sent": ("notification", [
        ORDER_ID, CUSTOMER,
        ("kind", "name", 32, True),
        ("channel", "name", 32, True),
        ("text", "text", 256, True),
    ]),
}
HEARTBEAT = [
    ("name", "name", 32, True),
    ("instance", "id", 64, True),
    ("version", "text", 32, True),
    ("uptime_ns", "uint", None, True),
    ("heads", "heads", 16, False),
    ("positions", "heads", 16, False),
]


def read_records(raw):
    """Splits the helper's output into (topic, body) pairs."""
    records = []
    offset = 0
    while offset < len(raw):
        frames = []
        for _ in range(2):
            (size,) = struct.unpack_from(">I", raw, offset)
            frames.append(raw[offset + 4:offset + 4 + size])
            offset += 4 + size
        records.append((frames[0].decode("utf-8"), frames[1]))
    return records


def run_command(body):
    return subprocess.run([HELPER, "command"], input=body, capture_output=True, timeout=30)


class Events(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        out = subprocess.run([HELPER, "events"], capture_output=True, check=True, timeout=30)
        cls.records = read_records(out.stdout)

    def check_value(self, where, kind, limit, value):
        if kind in ("id", "name", "digits", "text"):
            self.assertIsInstance(value, str, where)
            self.assertLessEqual(len(value.encode("utf-8")), limit, where)
            self.assertNotIn("\0", value, where)
            chars = {"id": ID_CHARS, "name": NAME_CHARS, "digits": DIGITS}.get(kind)
            if chars is not None:
                self.assertTrue(value, where + " is not empty")
                self.assertLessEqual(set(value), chars, where)
        elif kind == "uint":
            self.assertIs(type(value), int, where)
            self.assertTrue(0 <= value <= UINT64_MAX, where)
        elif isinstance(kind, tuple):
            self.assertIs(type(value), int, where)
            self.assertTrue(kind[1] <= value <= kind[2], where)
        elif kind == "map":
            self.assertIsInstance(value, dict, where)
        elif kind == "items":
            self.assertIsInstance(value, list, where)
            self.assertTrue(1 <= len(value) <= limit, where)
            for i, item in enumerate(value):
                self.check_map("%s[%d]" % (where, i), item,
                               [("sku", "id", 32, True), ("qty", ("int", 1, 1000000), None, True)])
        elif kind == "heads":
            self.assertIsInstance(value, list, where)
            self.assertLessEqual(len(value), limit, where)
            for i, head in enumerate(value):
                self.check_map("%s[%d]" % (where, i), head,
                               [("topic", "name", 32, True), ("seq", "uint", None, True)])
        else:
            self.fail("no rule for " + where)

    def check_map(self, where, value, table):
        self.assertIsInstance(value, dict, where)
        keys = [key for key, _, _, _ in table]
        for key in value:
            self.assertIsInstance(key, str, where)
            self.assertIn(key, keys, "%s.%s is in PROTOCOL.md" % (where, key))
        for key, _, _, required in table:
            if required:
                self.assertIn(key, value, "%s.%s is required" % (where, key))
        # written in table order
        present = [key for key in keys if key in value]
        self.assertEqual(list(value), present, where + " keys in order")
        for key, kind, limit, _ in table:
            if key in value:
                self.check_value(("%s.%s" % (where, key)).lstrip("."), kind, limit, value[key])

    def test_every_event_type_is_written(self):
        topics = {topic for topic, _ in self.records}
        self.assertEqual(topics - {t for t in topics if t.startswith("heartbeat.")}, set(EVENTS))
        self.assertTrue(any(t.startswith("heartbeat.") for t in topics))

    def test_envelopes_follow_the_protocol(self):
        for topic, body in self.records:
            with self.subTest(topic=topic):
                event = msgpack.unpackb(body, raw=False)
                self.check_map("", event, ENVELOPE)
                self.assertEqual(event["version"], 1)
                self.assertEqual(event["type"], topic)
                self.assertGreaterEqual(event["seq"], 1)
                self.assertGreaterEqual(event["epoch"], 1)
                self.assertEqual(event["id"], "%s/%s/%d" % (event["producer"], event["type"], event["seq"]))

    def test_data_follows_each_types_table(self):
        for topic, body in self.records:
            with self.subTest(topic=topic):
                event = msgpack.unpackb(body, raw=False)
                if topic.startswith("heartbeat."):
                    owner, table = topic[len("heartbeat."):], HEARTBEAT
                else:
                    owner, table = EVENTS[topic]
                self.assertEqual(event["producer"], owner)
                self.check_map("data", event["data"], table)
                if "order_id" in event["data"]:
                    self.assertEqual(event.get("correlation_id"), event["data"]["order_id"])

    def test_bodies_are_one_map_and_nothing_else(self):
        for topic, body in self.records:
            with self.subTest(topic=topic):
                unpacker = msgpack.Unpacker(raw=False)
                unpacker.feed(body)
                self.assertEqual(len(list(unpacker)), 1)


PLACE = {
    "cmd": "place",
    "request_id": "r-42",
    "customer": "alice@example.com",
    "items": [{"sku": "SKU-1", "qty": 2}, {"sku": "SKU-2", "qty": 1000000}],
    "method": "card",
    "card": "4242424242424242",
}


class Commands(unittest.TestCase):
    def test_accepts_a_place_command_and_echoes_its_fields(self):
        out = run_command(msgpack.packb(PLACE))
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(json.loads(out.stdout), PLACE)

    def test_accepts_keys_in_any_order_and_ints_of_any_width(self):
        # qty 2 as a uint 64 and 1000000 as an int 64, written by hand
        body = bytearray(b"\x85")
        for key in ("method", "items", "customer", "request_id", "cmd"):
            body += msgpack.packb(key)
            if key == "items":
                body += b"\x91\x82" + msgpack.packb("qty") + b"\xcf" + (2).to_bytes(8, "big")
                body += msgpack.packb("sku") + msgpack.packb("SKU-1")
            else:
                body += msgpack.packb(PLACE[key])
        out = run_command(bytes(body))
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn(b'"items":[{"sku":"SKU-1","qty":2}]', out.stdout)

    def test_rejects_qty_as_a_string_naming_the_field(self):
        request = dict(PLACE, items=[{"sku": "SKU-1", "qty": "2"}])
        out = run_command(msgpack.packb(request))
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"items[0].qty", out.stdout)
        self.assertIn(b"wrong type", out.stdout)

    def test_rejects_an_unknown_key_naming_it(self):
        out = run_command(msgpack.packb(dict(PLACE, coupon="FREE")))
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"coupon", out.stdout)
        self.assertIn(b"unknown field", out.stdout)

    def test_rejects_a_float(self):
        request = dict(PLACE, items=[{"sku": "SKU-1", "qty": 2.0}])
        out = run_command(msgpack.packb(request))
        self.assertEqual(out.returncode, 1)
        self.assertIn(b"items[0].qty", out.stdout)

    def test_accepts_every_command_with_its_keys(self):
        requests = [
            {"cmd": "cancel", "order_id": "o-1"},
            {"cmd": "get", "order_id": "o-1"},
            {"cmd": "stock.set", "sku": "SKU-1", "qty": 10, "price_cents": 1999},
            {"cmd": "stock.get", "sku": "SKU-1"},
            {"cmd": "wallet.credit", "customer": "alice", "amount_cents": 5000},
            {"cmd": "wallet.get", "customer": "alice"},
            {"cmd": "notifications", "customer": "alice"},
            {"cmd": "channel.set", "customer": "alice", "channel": "sms"},
            {"cmd": "replay", "topic": "order.placed", "from": 1, "max": 4096},
            {"cmd": "status"},
            {"cmd": "position.set", "topic": "stock.reserved", "seq": 7},
        ]
        for request in requests:
            with self.subTest(cmd=request["cmd"]):
                out = run_command(msgpack.packb(request))
                self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
                self.assertEqual(json.loads(out.stdout), request)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    HELPER = sys.argv.pop(1)
    unittest.main()
