"""End-to-end: a cluster with security/curve on. The saga works; keys that
are not listed, and clients without CURVE, reach nothing; a listed process
cannot publish another's topics or run commands that change state.

Every certificate is made with `oms keygen` in the cluster's home: one per
process and one for the CLI, listed in certs/; one more, "mallory", kept out
of the list. Hostile clients are python3-zmq sockets; a socket monitor tells
when the server has refused their handshake.
"""

import os
import shutil
import sys
import time
import urllib.request

import msgpack
import zmq
import zmq.auth
from zmq.utils.monitor import recv_monitor_message

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import (CARD_DECLINED, CARD_OK, SERVICES, SETTLE_S, Cluster,  # noqa: E402
                     ClusterTest, Tail, free_ports, poll, run, uid, zpl)
from omsapi import Api, ApiError  # noqa: E402

IDENTITIES = ("broker",) + SERVICES + ("cli",)
HANDSHAKE_S = 10
FORGER = "forger"   #  the customer of every forged event
HANDSHAKE_EVENTS = (zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
                    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)


class SecureCluster(Cluster):
    """A Cluster whose every process and CLI has a certificate, all listed,
    plus an unlisted one; broker metrics are served for the refusal count."""

    def prepare(self):
        super().prepare()
        self.keys_dir = self.home / "keys"
        self.certs_dir = self.home / "certs"
        self.outsider_dir = self.home / "outsider"
        for name in IDENTITIES:
            self.oms("keygen", name, "--dir", self.keys_dir)
        self.oms("keygen", "mallory", "--dir", self.outsider_dir)
        self.certs_dir.mkdir()
        for cert in self.keys_dir.glob("*.cert"):
            shutil.copy(cert, self.certs_dir / cert.name)
        (metrics,) = free_ports(1)
        self.keys.update({
            "security/curve": "true",
            "security/certs": self.certs_dir,
            "security/keys": self.keys_dir,
            "broker/metrics": f"127.0.0.1:{metrics}",
        })
        self.config.write_text(zpl(self.keys))

    def keypair(self, name):
        """(public, secret) of a listed identity, or of "mallory"."""
        folder = self.outsider_dir if name == "mallory" else self.keys_dir
        return zmq.auth.load_certificate(str(folder / f"{name}.cert_secret"))

    def server_key(self, name):
        return zmq.auth.load_certificate(str(self.certs_dir / f"{name}.cert"))[0]

    def broker_refused(self):
        """oms_broker_refused_total from the broker's metrics (refreshed each heartbeat)."""
        url = f"http://{self.keys['broker/metrics']}/metrics"
        with urllib.request.urlopen(url, timeout=5) as answer:
            for line in answer.read().decode().splitlines():
                if line.startswith("oms_broker_refused_total{"):
                    return int(float(line.split()[-1]))
        raise AssertionError("the broker's metrics have no oms_broker_refused_total")


class SecureApi(Api):
    """omsapi.Api over CURVE, as identity `keys` (a (public, secret) pair)."""

    def __init__(self, cluster, keys, timeout_ms=5000):
        super().__init__({s: cluster.endpoint(s) for s in SERVICES}, timeout_ms)
        self.cluster = cluster
        self.keypair = keys

    def _socket(self, service):
        sock = self.sockets.get(service)
        if sock is None:
            sock = self.context.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.curve_publickey, sock.curve_secretkey = self.keypair
            sock.curve_serverkey = self.cluster.server_key(service)
            sock.connect(self.endpoints[service])
            self.sockets[service] = sock
        return sock


class Peer:
    """One python3-zmq socket to `endpoint`, as `keys` (None: no CURVE at
    all) towards `server`, with a monitor to learn how its handshake ended."""

    def __init__(self, cluster, kind, endpoint, server, keys):
        self.context = zmq.Context()
        self.sock = self.context.socket(kind)
        self.sock.setsockopt(zmq.LINGER, 0)
        if kind == zmq.SUB:
            self.sock.setsockopt(zmq.SUBSCRIBE, b"")
        if keys is not None:
            self.sock.curve_publickey, self.sock.curve_secretkey = keys
            self.sock.curve_serverkey = cluster.server_key(server)
        self.monitor = self.sock.get_monitor_socket(HANDSHAKE_EVENTS)
        self.sock.connect(endpoint)

    def handshake(self, timeout=HANDSHAKE_S):
        """The first handshake event (a zmq.EVENT_HANDSHAKE_* value)."""
        if not self.monitor.poll(timeout * 1000):
            raise AssertionError(f"no handshake within {timeout}s")
        return recv_monitor_message(self.monitor)["event"]

    def close(self):
        self.sock.disable_monitor()
        self.monitor.close()
        self.sock.close()
        self.context.term()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()
        return False


def event_body(topic, producer, seq, data):
    """An event body as PROTOCOL.md has it, for forgeries."""
    return msgpack.packb({
        "version": 1, "id": f"{producer}/{topic}/{seq}", "type": topic, "producer": producer,
        "seq": seq, "ts_ns": time.time_ns(), "correlation_id": data.get("order_id", ""),
        "data": data})


class SecureCase(ClusterTest):
    """A ClusterTest on a SecureCluster."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = SecureCluster(name=cls.__name__.lower(), **cls.CLUSTER)
        cls.cluster.start()
        cls.api = SecureApi(cls.cluster, cls.cluster.keypair("cli"))

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        super().tearDownClass()

    def sku(self, qty=100, price=100):
        sku = f"SKU-{uid()}"
        self.cluster.stock_set(sku, qty, price)
        return sku

    def customer(self):
        return f"cust-{uid()}"

    def confirmed_order(self):
        """Places an order that confirms; returns its id."""
        order_id = self.cluster.place(self.customer(), [(self.sku(), 1)], "card", CARD_OK)
        self.assertEqual(self.cluster.wait(order_id), "CONFIRMED")
        return order_id

    def kinds(self, order_id):
        return sorted(n["kind"] for n in self.cluster.notifications(order=order_id))

    def await_kinds(self, order_id, kinds):
        def arrived():
            got = self.kinds(order_id)
            if got != sorted(kinds):
                raise AssertionError(f"notifications of {order_id}: {got}")
            return True
        poll(arrived, SETTLE_S, f"notifications {sorted(kinds)} for {order_id}")

    def tail(self, *prefixes):
        """An `oms tail --json` of `prefixes` (as the cli identity), once it
        has seen a heartbeat: its subscription is then in place."""
        tail = Tail(self.cluster, ["tail", *prefixes, "heartbeat.", "--json"])
        self.addCleanup(tail.close)
        tail.wait_for(lambda e: e["topic"].startswith("heartbeat."), SETTLE_S,
                      "a heartbeat on `oms tail`")
        return tail

    def forge_confirmed(self, order_id):
        """An order.confirmed for `order_id` with the next seq of the order
        service's order.confirmed: were it forwarded, notification would
        apply it (and then drop the real event of that seq as a duplicate)."""
        heads = {h["topic"]: h["seq"] for h in self.api.call("order", "status")["heads"]}
        seq = heads["order.confirmed"] + 1
        return seq, [b"order.confirmed", event_body("order.confirmed", "order", seq, {
            "order_id": order_id, "customer": FORGER, "amount_cents": 1})]

    def assert_forgery_had_no_effect(self, tail, order_id, kinds):
        """After a refused forgery for `order_id`: the next real order.confirmed
        (which has the forged seq) is seen and applied, the forgery never."""
        marker = self.confirmed_order()
        tail.wait_for(lambda e: e["topic"] == "order.confirmed"
                      and e["data"]["order_id"] == marker, SETTLE_S, f"{marker} on the tail")
        self.await_kinds(marker, ["confirmed"])
        self.assertEqual(tail.matching(lambda e: e["data"].get("customer") == FORGER), [])
        self.assertEqual(self.kinds(order_id), sorted(kinds))


class Saga(SecureCase):
    def test_orders_confirm_and_cancel(self):
        sku = self.sku(10, 250)
        customer = self.customer()
        self.assertEqual(self.cluster.credit(customer, 10000), 10000)
        paid = self.cluster.place(customer, [(sku, 2)], "wallet")
        declined = self.cluster.place(customer, [(sku, 1)], "card", CARD_DECLINED)
        self.assertEqual(self.cluster.wait(paid), "CONFIRMED")
        self.assertEqual(self.cluster.wait(declined), "CANCELLED")
        self.assertEqual(self.cluster.balance(customer), 10000 - 500)
        self.await_kinds(paid, ["confirmed"])
        self.await_kinds(declined, ["cancelled", "payment_failed"])
        self.cluster.oms("cancel", paid)
        poll(lambda: self.cluster.balance(customer) == 10000, SETTLE_S, "the refund")
        self.assertEqual(self.cluster.get(paid)["status"], "CANCELLED")

    def test_a_restarted_service_catches_up_by_replay(self):
        self.cluster.ctl("stop", "notification")
        try:
            order_id = self.confirmed_order()
        finally:
            self.cluster.ctl("start", "notification")
        #  notification fetches what it missed from order's api, over CURVE.
        self.await_kinds(order_id, ["confirmed"])


class Outsiders(SecureCase):
    """An unlisted key and a client without CURVE reach nothing."""

    def test_unlisted_key_cannot_subscribe(self):
        tail = self.tail("order.confirmed")
        for endpoint in ("broker/backend", "broker/tap"):
            with Peer(self.cluster, zmq.SUB, self.cluster.endpoint(endpoint), "broker",
                      self.cluster.keypair("mallory")) as peer:
                self.assertEqual(peer.handshake(), zmq.EVENT_HANDSHAKE_FAILED_AUTH, endpoint)
                order_id = self.confirmed_order()
                tail.wait_for(lambda e: e["data"].get("order_id") == order_id, SETTLE_S,
                              f"{order_id} on the listed tail")
                self.assertEqual(peer.sock.poll(0), 0, f"an unlisted key received on {endpoint}")

    def test_unlisted_key_cannot_publish(self):
        tail = self.tail("order.confirmed")
        target = self.confirmed_order()
        refused = self.cluster.broker_refused()
        with Peer(self.cluster, zmq.PUB, self.cluster.endpoint("broker/frontend"), "broker",
                  self.cluster.keypair("mallory")) as peer:
            _, frames = self.forge_confirmed(target)
            peer.sock.send_multipart(frames)
            self.assertEqual(peer.handshake(), zmq.EVENT_HANDSHAKE_FAILED_AUTH)
            peer.sock.send_multipart(frames)
        self.assert_forgery_had_no_effect(tail, target, ["confirmed"])
        #  Refused at the handshake: the broker never saw an event to count.
        self.assertEqual(self.cluster.broker_refused(), refused)

    def test_unlisted_key_cannot_place_or_fetch_replay(self):
        request_id = f"r-{uid()}"
        sku = self.sku()
        requests = {
            "order": {"cmd": "place", "request_id": request_id, "customer": "mallory",
                      "items": [{"sku": sku, "qty": 1}], "method": "card",
                      "card": CARD_OK},
            "inventory": {"cmd": "replay", "topic": "stock.updated", "from": 1, "max": 10},
        }
        for service, request in requests.items():
            with Peer(self.cluster, zmq.DEALER, self.cluster.endpoint(service), service,
                      self.cluster.keypair("mallory")) as peer:
                peer.sock.send_multipart([b"", msgpack.packb(request)])
                self.assertEqual(peer.handshake(), zmq.EVENT_HANDSHAKE_FAILED_AUTH, service)
                self.assertEqual(peer.sock.poll(0), 0, f"{service} answered an unlisted key")
        #  The place never arrived: the same request id is new to the service
        #  (once the service knows the SKU, which it learns from an event).
        request = dict(requests["order"], customer=self.customer())
        del request["cmd"]

        def place():
            try:
                return self.api.call("order", "place", **request)
            except ApiError as e:
                raise AssertionError(str(e)) from None
        reply = poll(place, SETTLE_S, "a place with the same request id")
        self.assertTrue(reply["created"], "the unlisted key's place was stored")
        self.cluster.orders.append(reply["order_id"])

    def test_unlisted_cli_identity_gets_no_answer(self):
        r = self.cluster.oms("get", "o-1", "--set", "cli/identity=mallory",
                             "--set", f"security/keys={self.cluster.outsider_dir}",
                             "--set", "cli/timeout_ms=1000", check=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("did not answer", r.stderr)
        r = self.cluster.oms("get", "o-1", "--set", "cli/identity=nobody", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("nobody.cert_secret", r.stderr)

    def test_client_without_curve_is_refused(self):
        targets = [(zmq.DEALER, self.cluster.endpoint("order"), "order"),
                   (zmq.SUB, self.cluster.endpoint("broker/backend"), "broker"),
                   (zmq.PUB, self.cluster.endpoint("broker/frontend"), "broker")]
        for kind, endpoint, server in targets:
            with Peer(self.cluster, kind, endpoint, server, None) as peer:
                if kind == zmq.DEALER:
                    peer.sock.send_multipart([b"", msgpack.packb({"cmd": "status"})])
                self.assertNotEqual(peer.handshake(), zmq.EVENT_HANDSHAKE_SUCCEEDED, endpoint)
                if kind != zmq.PUB:
                    self.assertEqual(peer.sock.poll(0), 0, f"{endpoint} answered without CURVE")


class Authorisation(SecureCase):
    """Listed processes may do only what their role needs."""

    def test_a_service_cannot_publish_another_services_topic(self):
        tail = self.tail("order.confirmed")
        target = self.cluster.place(self.customer(), [(self.sku(), 1)], "card", CARD_DECLINED)
        self.assertEqual(self.cluster.wait(target), "CANCELLED")
        self.await_kinds(target, ["cancelled", "payment_failed"])
        before = {s: self.cluster.stock(s) for s in self.cluster.initial}
        refused = self.cluster.broker_refused()
        with Peer(self.cluster, zmq.PUB, self.cluster.endpoint("broker/frontend"), "broker",
                  self.cluster.keypair("payment")) as peer:
            self.assertEqual(peer.handshake(), zmq.EVENT_HANDSHAKE_SUCCEEDED)
            _, frames = self.forge_confirmed(target)

            def counted():
                #  A PUB sends only once the broker's subscriptions reached
                #  it: publish until the broker has counted one.
                peer.sock.send_multipart(frames)
                return self.cluster.broker_refused() > refused
            poll(counted, SETTLE_S, "the broker to count the forged order.confirmed")
        self.assert_forgery_had_no_effect(tail, target, ["cancelled", "payment_failed"])
        self.assertEqual(self.cluster.get(target)["status"], "CANCELLED")
        self.assertEqual({s: self.cluster.stock(s) for s in before}, before)
        broker_log = (self.cluster.home / "log" / "broker.log").read_text()
        self.assertIn("dropped topic=order.confirmed from payment: not its owner", broker_log)

    def test_a_service_identity_cannot_change_state(self):
        order_id = self.confirmed_order()
        denied = self.api.call("order", "status")["counters"]["commands_denied"]
        as_payment = ("--set", "cli/identity=payment")
        args = self.cluster.place_args(self.customer(), [(self.sku(), 1)], "card", CARD_OK)
        r = self.cluster.oms(*args, *as_payment, check=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("denied: payment may not run place", r.stderr)
        r = self.cluster.oms("cancel", order_id, *as_payment, check=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("denied", r.stderr)
        self.assertEqual(self.api.call("order", "status")["counters"]["commands_denied"],
                         denied + 2)
        #  Reading is allowed to every listed key.
        r = self.cluster.oms("get", order_id, "--json", *as_payment)
        self.assertIn('"CONFIRMED"', r.stdout)
        self.assertEqual(self.cluster.get(order_id)["status"], "CONFIRMED")

    def test_a_service_may_read_but_not_run_operator_commands(self):
        api = SecureApi(self.cluster, self.cluster.keypair("notification"))
        try:
            self.confirmed_order()
            reply = api.call("order", "replay", topic="order.confirmed", max=1, **{"from": 1})
            self.assertEqual(len(reply["events"]), 1)
            with self.assertRaisesRegex(ApiError, "denied: notification may not run dlq.drop"):
                api.call("payment", "dlq.drop", id=424242)
        finally:
            api.close()


if __name__ == "__main__":
    run()
