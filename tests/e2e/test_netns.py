"""End-to-end across machines, made of network namespaces on this one.

The broker, each service and the CLI each get a namespace of their own,
joined by veth pairs to a bridge in one more namespace, on private addresses
(10.231.0.0/24) that exist only inside them. One cluster configuration names
every process's host address; scripts/oms-deploy starts each process in its
namespace through an `ip netns exec` runner standing in for ssh. The saga
runs from the CLI's namespace; then inventory's link, and later payment's, is
cut while orders keep coming, and restored: everything must catch up, with
nothing lost and nothing applied twice.

Needs root and iproute2; skips (exit 0) where namespaces cannot be made.
OMS_E2E_IP names the `ip` program (default: `ip` on PATH); OMS_E2E_IP=false
makes `ip netns add` fail, which shows the skip. OMS_E2E_KEEP=1 keeps the
run's directory (configuration, logs, stores).
"""

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import (BIN_DIR, CARD_DECLINED, CARD_OK, CLI, SANITIZER_REPORT,  # noqa: E402
                     SCRIPTS, SERVICES, TERMINAL, poll, zpl)

IP = os.environ.get("OMS_E2E_IP", "ip")
SUBNET = "10.231.0"
HOSTS = {"broker": 10, "order": 11, "inventory": 12, "payment": 13, "notification": 14,
         "cli": 20}
PORTS = {"order": 7410, "inventory": 7411, "payment": 7412, "notification": 7413}
CUT_S = 3               #  how long a link stays cut while orders are placed
PRICE, QTY = 250, 3     #  every order for the plentiful SKU costs PRICE * QTY
SETTLE_S = 120          #  for the cluster to catch up once links are back
COMMAND_S = 60          #  for one command to return


def run(cmd, check=True, timeout=COMMAND_S, env=None, input=None):
    """Runs cmd; with check, a non-zero exit fails, showing its output."""
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                       env=env, input=input, stdin=None if input else subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise AssertionError(f"`{' '.join(map(str, cmd))}` exited {r.returncode}:\n"
                             f"{r.stdout}{r.stderr}")
    return r


class Network:
    """Namespaces <prefix>-<host> for every host and <prefix>-net for the bridge,
    unique to this run; destroy() removes them and whatever runs in them.
    hosts maps each host to the last byte of its address on subnet."""

    def __init__(self, hosts=HOSTS, subnet=SUBNET):
        self.hosts, self.subnet = hosts, subnet
        self.ip = shutil.which(IP)
        self.prefix = f"oms{uuid.uuid4().hex[:6]}"
        self.made = []
        self.net = f"{self.prefix}-net"

    def ns(self, host):
        return f"{self.prefix}-{host}"

    def address(self, host):
        return f"{self.subnet}.{self.hosts[host]}"

    def veth(self, host):
        """The bridge's end of host's link (interface names have 15 bytes at most)."""
        return f"{self.prefix}{host[0]}"

    def _ip(self, *args, check=True):
        return run([self.ip, *args], check=check)

    def add_namespace(self, name):
        r = self._ip("netns", "add", name, check=False)
        if r.returncode != 0:
            raise unittest.SkipTest(f"cannot make network namespaces: `{IP} netns add {name}` "
                                    f"exited {r.returncode}: {r.stderr.strip() or 'no message'}")
        self.made.append(name)
        self._ip("-n", name, "link", "set", "lo", "up")

    def create(self):
        self.add_namespace(self.net)
        r = self._ip("-n", self.net, "link", "add", "br0", "type", "bridge", check=False)
        if r.returncode != 0:
            raise unittest.SkipTest(f"cannot make a bridge: {r.stderr.strip()}")
        self._ip("-n", self.net, "link", "set", "br0", "up")
        for host in self.hosts:
            ns = self.ns(host)
            self.add_namespace(ns)
            r = self._ip("-n", self.net, "link", "add", self.veth(host), "type", "veth",
                         "peer", "name", "eth0", "netns", ns, check=False)
            if r.returncode != 0:
                raise unittest.SkipTest(f"cannot make a veth pair: {r.stderr.strip()}")
            self._ip("-n", self.net, "link", "set", self.veth(host), "master", "br0", "up")
            self._ip("-n", ns, "addr", "add", f"{self.address(host)}/24", "dev", "eth0")
            self._ip("-n", ns, "link", "set", "eth0", "up")

    def link(self, host, state):
        """Sets host's link "down" (cut) or "up"."""
        self._ip("-n", self.net, "link", "set", self.veth(host), state)

    def runner(self, path):
        """Writes an OMS_SSH stand-in: `runner HOST COMMAND` runs COMMAND with sh in
        the namespace of HOST's address, in a clean environment as ssh would."""
        cases = "".join(f"    {self.address(h)}) ns={self.ns(h)} ;;\n" for h in self.hosts)
        path.write_text(
            "#!/bin/sh\n"
            "#  oms-deploy's ssh: runs a command in the namespace that owns the host's address.\n"
            "case $1 in\n"
            f"{cases}"
            '    *) echo "no namespace has host $1" >&2; exit 255 ;;\n'
            "esac\n"
            "shift\n"
            f'exec {self.ip} netns exec "$ns" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin '
            'sh -c "$*"\n')
        path.chmod(0o755)
        return path

    def destroy(self):
        """Kills what still runs in the namespaces, then deletes them (their veth
        pairs and the bridge go with them). Returns what could not be undone."""
        problems = []
        for ns in self.made:
            r = self._ip("netns", "pids", ns, check=False)
            for pid in r.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
        for ns in reversed(self.made):
            r = self._ip("netns", "del", ns, check=False)
            if r.returncode != 0:
                problems.append(f"`{IP} netns del {ns}`: {r.stderr.strip()}")
        self.made = []
        return problems


#  Test classes whose namespaces exist: torn down at exit and on SIGTERM too.
_live = []


def _destroy_all():
    for test_class in list(_live):
        test_class.teardown()


class NetnsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root to make network namespaces")
        if shutil.which(IP) is None:
            raise unittest.SkipTest(f"no `{IP}` command (iproute2)")
        programs = [BIN_DIR / "broker" / "oms-broker", CLI] + [
            BIN_DIR / "services" / s / f"oms-{s}" for s in SERVICES]
        missing = [str(p) for p in programs if not os.access(p, os.X_OK)]
        if missing:
            raise AssertionError("programs not built: " + ", ".join(missing))
        cls.dir = Path(tempfile.mkdtemp(prefix="oms-e2e-netns-"))
        cls.network = Network()
        cls.failed = False
        _live.append(cls)
        try:
            cls.network.create()
            cls.deploy_up()
        except BaseException:
            cls.failed = not isinstance(sys.exc_info()[1], unittest.SkipTest)
            cls.teardown()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.teardown()

    @classmethod
    def deploy_up(cls):
        net = cls.network
        keys = {
            "home": cls.dir / "home",
            "broker/frontend": f"tcp://{net.address('broker')}:7400",
            "broker/backend": f"tcp://{net.address('broker')}:7401",
            "broker/hwm": 10,
            "runtime/hwm": 10,
            "runtime/heartbeat_ms": 200,
            "runtime/replay_timeout_ms": 500,
            "order/saga_timeout_ms": 600000,
            "cli/timeout_ms": 10000,
        }
        for service in SERVICES:
            keys[f"services/{service}/host"] = net.address(service)
            keys[f"services/{service}/api"] = f"tcp://{net.address(service)}:{PORTS[service]}"
            keys[f"services/{service}/store"] = cls.dir / "hosts" / service / "store"
        cls.config = cls.dir / "oms.cfg"
        cls.config.write_text("#   oms.cfg: one broker and four services, each in its own "
                              "network namespace\n" + zpl(keys))
        cls.deployed = cls.dir / "home" / "oms.cfg"
        cls.env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
        cls.deploy_env = dict(cls.env, OMS_SSH=str(net.runner(cls.dir / "runner")),
                              OMS_DEPLOY_BIN=str(BIN_DIR))
        #  `up` never makes a store: on hosts that have none, the services
        #  refuse to start and say why; `init` makes them.
        refused = cls.deploy("up", check=False)
        cls.refused = refused.stdout + refused.stderr
        if refused.returncode == 0 or "no store at" not in cls.refused:
            raise AssertionError(f"oms-deploy up made stores (exit {refused.returncode}): "
                                 f"{cls.refused}")
        cls.deploy("down")
        cls.deploy("init")

    @classmethod
    def deploy(cls, action, check=True):
        return run([SCRIPTS / "oms-deploy", cls.config, action], check=check, timeout=120,
                   env=cls.deploy_env)

    @classmethod
    def teardown(cls):
        if cls not in _live:
            return
        _live.remove(cls)
        problems = []
        if hasattr(cls, "deploy_env"):
            try:
                down = cls.deploy("down", check=False)
                if down.returncode != 0:
                    problems.append(f"oms-deploy down exited {down.returncode}: {down.stderr}")
            except subprocess.TimeoutExpired as e:
                problems.append(f"oms-deploy down: {e}")
        problems += cls.network.destroy()
        logs = sorted((cls.dir / "home" / "log").glob("*.log"))
        reports = [log.name for log in logs
                   if SANITIZER_REPORT.search(log.read_text(errors="replace"))]
        if cls.failed or problems or reports:
            for log in logs:
                lines = log.read_text(errors="replace").splitlines()[-40:]
                print(f"----- last lines of {log}", *lines, sep="\n", file=sys.stderr)
        for problem in problems:
            print(f"cleanup: {problem}", file=sys.stderr)
        if os.environ.get("OMS_E2E_KEEP"):
            print(f"kept {cls.dir}", file=sys.stderr)
        else:
            shutil.rmtree(cls.dir, ignore_errors=True)
        if reports:
            raise AssertionError(f"sanitizer reports in {reports} (printed above)")

    # -- the CLI, in its namespace -----------------------------------------------

    def in_ns(self, host, *cmd):
        return [self.network.ip, "netns", "exec", self.network.ns(host), *map(str, cmd)]

    def oms(self, *args, check=True, timeout=COMMAND_S):
        return run(self.in_ns("cli", CLI, *args, "--config", self.deployed), check=check,
                   timeout=timeout, env=self.env)

    def json(self, *args):
        return json.loads(self.oms(*args, "--json").stdout)

    def place(self, customer, sku, qty, pay, card=None):
        """Places an order; right after `stock set` the order service may not
        know the SKU yet, which is retried for a while."""
        args = ["place", "--customer", customer, "--item", f"{sku}:{qty}", "--pay", pay]
        args += ["--card", card] if card else []
        args += ["--request-id", f"req-{uuid.uuid4().hex}"]

        def attempt():
            r = self.oms(*args, check=False)
            if r.returncode == 0:
                return r.stdout.strip()
            if "unknown sku" in r.stderr.lower():
                raise AssertionError(r.stderr.strip())
            raise RuntimeError(f"`oms {' '.join(args)}` exited {r.returncode}: {r.stderr}")

        order_id = poll(attempt, 10, f"the order service to know {sku}")
        self.orders[order_id] = (customer, pay, card, sku)
        return order_id

    def status(self, order_id):
        return self.json("get", order_id)["status"]

    def audit(self):
        """What the services' api endpoints say, read from the CLI's namespace."""
        request = {"endpoints": {s: f"tcp://{self.network.address(s)}:{PORTS[s]}"
                                 for s in SERVICES},
                   "orders": sorted(self.orders), "skus": sorted(self.initial),
                   "customers": sorted(self.credits)}
        r = run(self.in_ns("cli", sys.executable, os.path.abspath(__file__), "--audit"),
                input=json.dumps(request), env=self.env)
        return json.loads(r.stdout)

    # -- the test ------------------------------------------------------------------

    def test_saga_across_namespaces_survives_cut_links(self):
        try:
            self.saga_and_cuts()
        except BaseException:
            type(self).failed = True
            raise

    def saga_and_cuts(self):
        self.orders, self.initial, self.credits, self.cancelled = {}, {}, {}, set()
        poll(lambda: self.oms("status", check=False).returncode == 0, 30,
             "every service to answer the CLI across the bridge")

        tag = uuid.uuid4().hex[:6]
        plenty, scarce = f"N{tag}-plenty", f"N{tag}-scarce"
        for sku, qty in ((plenty, 10000), (scarce, 4)):
            self.oms("stock", "set", sku, qty, "--price", PRICE)
            self.initial[sku] = qty
        rich, poor = f"rich-{tag}", f"poor-{tag}"
        for customer, cents in ((rich, 10 ** 9), (poor, PRICE * QTY - 1)):
            self.oms("wallet", "credit", customer, cents)
            self.credits[customer] = cents

        #  Every method and outcome across the namespaces, one at a time.
        kinds = [(rich, "card", CARD_OK), (rich, "card", CARD_DECLINED), (rich, "wallet", None),
                 (poor, "wallet", None), (rich, "upi", None), (rich, "cod", None)]
        for customer, pay, card in kinds:
            order_id = self.place(customer, plenty, QTY, pay, card)
            r = self.oms("wait", order_id, "--timeout", 30, check=False, timeout=90)
            self.assertIn(r.returncode, (0, 2), f"oms wait {order_id}: {r.stderr}")
            self.assertEqual(r.stdout.strip(), self.expected(order_id), order_id)
            self.assertEqual(self.json("get", order_id)["status"], self.expected(order_id))
        #  A customer cancels a confirmed order: the charge comes back.
        regret = next(o for o, (_, pay, card, _) in self.orders.items() if card == CARD_OK)
        self.assertEqual(self.json("cancel", regret)["status"], "CANCELLED")
        self.cancelled.add(regret)
        scarce_order = self.place(rich, scarce, 10, "cod")
        self.assertEqual(self.oms("wait", scarce_order, "--timeout", 30, check=False,
                                  timeout=90).stdout.strip(), "CANCELLED")

        #  Inventory cut off: orders are accepted but none can be reserved.
        self.cut("inventory", kinds, plenty, scarce, ("PENDING",))
        #  Payment cut off: orders are reserved but none can be charged.
        self.cut("payment", kinds, plenty, None, ("PENDING", "RESERVED"))

        #  Both links are back: every order settles, as its method decides.
        def settled():
            seen = self.audit()
            for order_id in self.orders:
                status = seen["orders"][order_id]["status"]
                assert status in TERMINAL, f"{order_id} is still {status}"
            return seen
        seen = poll(settled, SETTLE_S, "every order to be CONFIRMED or CANCELLED", interval=0.5)
        for order_id, (_, _, _, sku) in self.orders.items():
            if sku == plenty:
                self.assertEqual(seen["orders"][order_id]["status"], self.expected(order_id),
                                 order_id)
        poll(lambda: self.books_balance(self.audit()), 30, "the books to balance", interval=0.5)

    def cut(self, service, kinds, plenty, scarce, stuck):
        """Cuts service's link for CUT_S seconds while placing orders of every
        kind (and some for a scarce SKU); before the link is restored, each of
        them must still be in one of the `stuck` statuses."""
        placed = []
        self.network.link(service, "down")
        try:
            #  A short wait suffices to show it does not answer; every other
            #  command keeps the patient default, as a loaded machine may stall.
            probe = self.oms("status", service, "--set", "cli/timeout_ms=2000", check=False)
            self.assertNotEqual(probe.returncode, 0, f"{service} answers across a cut link")
            end = time.monotonic() + CUT_S
            while time.monotonic() < end or len(placed) < 2 * len(kinds):
                customer, pay, card = kinds[len(placed) % len(kinds)]
                sku = scarce if scarce and len(placed) % 5 == 4 else plenty
                placed.append(self.place(customer, sku, 1 if sku == scarce else QTY, pay, card))
            for order_id in placed:
                self.assertIn(self.status(order_id), stuck, f"{order_id}, {service} cut off")
        finally:
            self.network.link(service, "up")
        print(f"placed {len(placed)} orders while {service}'s link was cut", flush=True)

    def expected(self, order_id):
        """How an order for the plentiful SKU ends: its method and customer decide."""
        customer, pay, card, _ = self.orders[order_id]
        declined = pay == "card" and card != CARD_OK
        short = pay == "wallet" and self.credits[customer] < PRICE * QTY
        return "CANCELLED" if declined or short or order_id in self.cancelled else "CONFIRMED"

    def books_balance(self, seen):
        orders = seen["orders"]
        for order_id in self.orders:
            assert orders[order_id]["status"] in TERMINAL, f"{order_id}: {orders[order_id]}"
        for sku, initial in self.initial.items():
            s = seen["stock"][sku]
            levels = (s["available"], s["reserved"], s["sold"])
            assert min(levels) >= 0 and s["reserved"] == 0 and sum(levels) == initial, \
                f"{sku}: (available, reserved, sold) = {levels}, initially {initial}"
        charged, refunded = Counter(seen["charged"]), Counter(seen["refunded"])
        sent = Counter(tuple(k) for k in seen["sent"])
        for order_id, order in orders.items():
            assert charged[order_id] <= 1 and refunded[order_id] <= 1, f"{order_id} twice"
            if order["status"] == "CONFIRMED":
                assert charged[order_id] == 1 and not refunded[order_id], \
                    f"{order_id} confirmed: charged {charged[order_id]} times, refunded " \
                    f"{refunded[order_id]}"
                assert sent[(order_id, "confirmed")] == 1, f"{order_id}: one confirmed notification"
            else:
                assert refunded[order_id] == charged[order_id], f"{order_id}: refund a charge"
                assert sent[(order_id, "cancelled")] == 1, f"{order_id}: one cancelled notification"
        assert all(n == 1 for n in sent.values()), "a notification sent twice"
        for customer, credit in self.credits.items():
            spent = sum(o["total_cents"] for o in orders.values() if o["customer"] == customer
                        and o["method"] == "wallet" and o["status"] == "CONFIRMED")
            assert seen["wallets"][customer] == credit - spent, \
                f"{customer}'s wallet: {seen['wallets'][customer]}, expected {credit - spent}"
        self.assertEqual(seen["dead"], 0, "no event ended in a dead-letter log")
        print(f"orders={len(orders)} confirmed="
              f"{sum(o['status'] == 'CONFIRMED' for o in orders.values())} "
              f"charged={sum(charged.values())} refunded={sum(refunded.values())} "
              f"gaps={seen['gaps']} replays={seen['replays']}", flush=True)
        return True


def audit():
    """Run in the CLI's namespace: reads a request (JSON on stdin) and prints what
    the services hold, from their api endpoints and outboxes (JSON)."""
    from omsapi import Api

    request = json.load(sys.stdin)
    api = Api(request["endpoints"])
    try:
        def per_order(service, topic):
            return [e["data"]["order_id"] for e in api.outbox(service, topic)]

        counters = Counter()
        for service in SERVICES:
            counters.update(api.call(service, "status")["counters"])
        seen = {
            "orders": {o: api.call("order", "get", order_id=o) for o in request["orders"]},
            "stock": {s: api.call("inventory", "stock.get", sku=s) for s in request["skus"]},
            "wallets": {c: api.call("payment", "wallet.get", customer=c)["balance_cents"]
                        for c in request["customers"]},
            "charged": per_order("payment", "payment.completed"),
            "refunded": per_order("payment", "payment.refunded"),
            "sent": [(e["data"]["order_id"], e["data"]["kind"])
                     for e in api.outbox("notification", "notification.sent")],
            "dead": counters["events_dead"],
            "gaps": counters["events_gap"],
            "replays": counters["replays_requested"],
        }
    finally:
        api.close()
    json.dump(seen, sys.stdout)


def _on_term(signum, _frame):
    _destroy_all()
    os._exit(128 + signum)


if __name__ == "__main__":
    if sys.argv[1:] == ["--audit"]:
        audit()
    else:
        signal.signal(signal.SIGTERM, _on_term)
        atexit.register(_destroy_all)
        unittest.main(module="__main__", verbosity=2)
