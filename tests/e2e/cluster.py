"""A local oms cluster for end-to-end tests.

Each Cluster has its own home directory, its own free loopback ports and its
own configuration file, and is started and stopped through scripts/oms-up and
scripts/oms-down (and driven with scripts/oms-ctl), so the scripts are under
test too. Everything the tests observe goes through the oms CLI.

Programs are taken from $OMS_BIN_DIR, else $OMS_BUILD_DIR, else <repo>/build.
Set OMS_E2E_KEEP=1 to keep the homes (logs and stores) of stopped clusters.
"""

import atexit
import json
import os
import pty
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("OMS_SOURCE_DIR") or Path(__file__).resolve().parents[2])
BIN_DIR = Path(os.environ.get("OMS_BIN_DIR") or os.environ.get("OMS_BUILD_DIR")
               or SOURCE_DIR / "build").resolve()
SCRIPTS = SOURCE_DIR / "scripts"
CLI = BIN_DIR / "cli" / "oms"

SERVICES = ("order", "inventory", "payment", "notification")
TERMINAL = ("CONFIRMED", "CANCELLED")
IN_FLIGHT = ("PENDING", "RESERVED")

#  Cards by their last digits (see the payment service's card method).
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"
CARD_NO_FUNDS = "4000000000009995"

#  What a sanitizer build writes to a process's log when it finds a bug.
SANITIZER_REPORT = re.compile(r"ERROR: \w+Sanitizer|runtime error:")

#  How long a saga or a catalog update may take on a loaded machine.
SETTLE_S = 15
KNOWN_SKU_S = 5
CLI_TIMEOUT_S = 30
#  What `oms load` gives each of its SKUs (cli_load.c STOCK_QTY).
LOAD_STOCK = 1000000000


def uid():
    """A short unique suffix for the SKUs, customers and request ids of one test."""
    return uuid.uuid4().hex[:8]


def poll(fn, timeout, what, interval=0.05):
    """Calls fn until it returns a true value, and returns that value.

    An AssertionError raised by fn means "not yet". After `timeout` seconds
    raises AssertionError naming `what` and the last thing fn reported.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = fn()
            if value:
                return value
            last = f"got {value!r}"
        except AssertionError as e:
            last = str(e)
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}"
                                 + (f"; last: {last}" if last else ""))
        time.sleep(interval)


def run_on_terminal(args, env, terminal="stdout", timeout=120):
    """Runs `args` with its `terminal` stream ("stdout" or "stderr") on a
    pseudo-terminal and the other one piped; returns (exit code, the piped
    text, everything the terminal received)."""
    primary, secondary = pty.openpty()
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, terminal: secondary}
    proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, **streams)
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the program closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    piped = (proc.stderr if terminal == "stdout" else proc.stdout).read().decode()
    proc.wait(timeout=timeout)
    os.close(primary)
    return proc.returncode, piped, seen.decode(errors="replace")


def free_ports(count):
    """`count` distinct loopback ports that were free a moment ago."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def zpl(keys):
    """Renders {"a/b/c": value} as a ZPL document (czmq zconfig format)."""
    tree = {}
    for path, value in keys.items():
        node = tree
        *sections, leaf = path.split("/")
        for section in sections:
            node = node.setdefault(section, {})
        node[leaf] = str(value)

    lines = []

    def emit(node, depth):
        for name, value in node.items():
            pad = " " * (4 * depth)
            if isinstance(value, dict):
                lines.append(f"{pad}{name}")
                emit(value, depth + 1)
            else:
                assert '"' not in value, value
                lines.append(f'{pad}{name} = "{value}"')

    emit(tree, 0)
    return "\n".join(lines) + "\n"


def alive(pid):
    """Whether pid is a running process (a zombie is not)."""
    try:
        return bool(Path(f"/proc/{pid}/cmdline").read_bytes())
    except OSError:
        return False


def _tail_file(path, lines):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"({e})\n"


_live = []


def _stop_live(*_):
    for cluster in list(_live):
        cluster.stop()


def _on_term(signum, _frame):
    _stop_live()
    os._exit(128 + signum)


atexit.register(_stop_live)


class Cluster:
    """One local cluster: a context manager that starts it and always stops it.

    saga_timeout_ms, heartbeat_ms: order/saga_timeout_ms, runtime/heartbeat_ms.
    brokers: broker/count; broker I > 0 gets brokers/I/frontend and backend
    on free ports (and is called broker.I, as broker 0 is broker.0).
    config: further keys, {"path/of/key": value}.
    """

    def __init__(self, name="oms", saga_timeout_ms=None, heartbeat_ms=None, config=None,
                 brokers=1):
        self.name = name
        self.brokers = brokers
        self.overrides = {}
        if saga_timeout_ms is not None:
            self.overrides["order/saga_timeout_ms"] = saga_timeout_ms
        if heartbeat_ms is not None:
            self.overrides["runtime/heartbeat_ms"] = heartbeat_ms
        self.overrides.update(config or {})
        self.keys = {}      #  the whole configuration, once started
        self.home = None
        self.initial = {}   #  sku -> available + reserved + sold after stock_set
        self.orders = []    #  every order placed through this object
        self.failed = False

    # -- lifetime ------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, _exc, _tb):
        if exc_type is not None:
            self.failed = True
        self.stop(check=exc_type is None)
        return False

    def start(self):
        """Prepares the home and configuration, then runs scripts/oms-up."""
        self.prepare()
        try:
            self.script("oms-up", timeout=120)
        except BaseException:
            self.failed = True
            self.stop()
            raise

    def prepare(self):
        """Makes the home, picks the ports and writes the configuration; stop()
        cleans up from here on."""
        missing = [p for p in self._programs() if not os.access(p, os.X_OK)]
        if missing:
            raise AssertionError("programs not built: " + ", ".join(map(str, missing)))
        self.home = Path(tempfile.mkdtemp(prefix=f"oms-e2e-{self.name}-"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
        self.config = self.home / "oms.cfg"
        self.env.update(OMS_CONFIG=str(self.config), OMS_HOME=str(self.home),
                        OMS_BIN_DIR=str(BIN_DIR))
        _live.append(self)
        frontend, backend, tap, *apis = free_ports(3 + len(SERVICES) + 2 * (self.brokers - 1))
        apis, ports = apis[:len(SERVICES)], apis[len(SERVICES):]
        keys = {
            "home": self.home,
            "broker/frontend": f"tcp://127.0.0.1:{frontend}",
            "broker/backend": f"tcp://127.0.0.1:{backend}",
            "broker/tap": f"tcp://127.0.0.1:{tap}",
            "cli/timeout_ms": 5000,
        }
        for service, port in zip(SERVICES, apis):
            keys[f"services/{service}/api"] = f"tcp://127.0.0.1:{port}"
        if self.brokers > 1:
            keys["broker/count"] = self.brokers
            for index in range(1, self.brokers):
                front, back = ports[2 * (index - 1):2 * index]
                keys[f"brokers/{index}/frontend"] = f"tcp://127.0.0.1:{front}"
                keys[f"brokers/{index}/backend"] = f"tcp://127.0.0.1:{back}"
        keys.update(self.overrides)
        self.keys = keys
        self.config.write_text(zpl(keys))

    def stop(self, check=False):
        """Stops every process (scripts/oms-down); prints the logs' tails if
        something failed; removes the home unless OMS_E2E_KEEP is set. With
        check, a sanitizer report in a log fails (after cleaning up)."""
        if self not in _live:
            return
        _live.remove(self)
        down = None
        try:
            down = subprocess.run([str(SCRIPTS / "oms-down")], env=self.env, capture_output=True,
                                  text=True, timeout=120, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            print(f"oms-down: {e}", file=sys.stderr)
        if down is not None and (down.returncode != 0 or down.stdout or down.stderr):
            self.failed = True
            print(f"oms-down exited {down.returncode}: {down.stdout}{down.stderr}",
                  file=sys.stderr)
        reports = self.sanitizer_reports()
        if self.failed or reports:
            self.print_logs()
        for log, report in reports.items():
            print(f"----- {self.name}: sanitizer report in {log}\n{report}", file=sys.stderr)
        if os.environ.get("OMS_E2E_KEEP"):
            print(f"kept {self.home}", file=sys.stderr)
        else:
            shutil.rmtree(self.home, ignore_errors=True)
        if reports and check:
            raise AssertionError(f"sanitizer reports in {sorted(reports)} (printed above)")

    def logs(self):
        return sorted((self.home / "log").glob("*.log"))

    def sanitizer_reports(self):
        """{log name: text from the first sanitizer report on}."""
        reports = {}
        for log in self.logs():
            text = log.read_text(errors="replace")
            found = SANITIZER_REPORT.search(text)
            if found:
                reports[log.name] = text[text.rfind("\n", 0, found.start()) + 1:][:20000]
        return reports

    def print_logs(self, lines=40):
        for log in self.logs():
            print(f"----- {self.name}: last {lines} lines of {log}", file=sys.stderr)
            print(_tail_file(log, lines), end="", file=sys.stderr)

    def pids(self):
        """{name: pid} of the pid files under the home's run/."""
        return {p.stem: int(p.read_text()) for p in (self.home / "run").glob("*.pid")}

    @staticmethod
    def _programs():
        return [BIN_DIR / "broker" / "oms-broker", CLI] + [
            BIN_DIR / "services" / s / f"oms-{s}" for s in SERVICES]

    # -- running things --------------------------------------------------------

    def script(self, name, *args, timeout=60):
        cmd = [str(SCRIPTS / name), *map(str, args)]
        r = subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise AssertionError(f"`{' '.join(cmd)}` exited {r.returncode}:\n{r.stdout}{r.stderr}")
        return r

    def ctl(self, action, name):
        """scripts/oms-ctl ACTION NAME on this cluster."""
        return self.script("oms-ctl", action, name)

    def endpoint(self, service):
        """The api endpoint of a service, or a broker key such as "broker/backend"."""
        return self.keys[service if "/" in service else f"services/{service}/api"]

    def cmd(self, *args):
        return [str(CLI), *map(str, args), "--config", str(self.config)]

    def oms(self, *args, check=True, timeout=CLI_TIMEOUT_S):
        """Runs the oms CLI on this cluster; with check, a non-zero exit fails."""
        r = subprocess.run(self.cmd(*args), env=self.env, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError(f"`oms {' '.join(map(str, args))}` exited {r.returncode}: "
                                 f"{r.stderr.strip()}")
        return r

    def json(self, *args):
        """Runs `oms ARGS --json` and returns the parsed output."""
        r = self.oms(*args, "--json")
        try:
            return json.loads(r.stdout)
        except ValueError as e:
            raise AssertionError(f"`oms {' '.join(map(str, args))} --json` printed "
                                 f"no JSON ({e}): {r.stdout!r}") from None

    def dead_letter_a_refund(self, sku, wallet_limit):
        """Makes payment dead-letter a refund: a wallet order of one `sku`
        (priced 500) is confirmed, the wallet topped up to `wallet_limit`
        (payment's limits/wallet_cents), then the order cancelled, so its
        refund would pass the limit. Returns (customer, order id, the new
        dead letter)."""
        customer = f"c-{uid()}"
        self.credit(customer, wallet_limit - 1000)
        first = self.place(customer, [(sku, 1)], "wallet")
        if self.wait(first) != "CONFIRMED":
            raise AssertionError(f"{first} was not confirmed")
        if self.credit(customer, 1500) != wallet_limit:
            raise AssertionError(f"{customer}'s wallet is not at its limit")
        before = {d["id"] for d in self.json("dlq", "list", "payment")}
        self.oms("cancel", first)

        def dead_letter():
            new = [d for d in self.json("dlq", "list", "payment") if d["id"] not in before]
            if len(new) != 1:
                raise AssertionError(f"new dead letters: {new}")
            return new[0]
        return customer, first, poll(dead_letter, SETTLE_S,
                                     "the refund to land in payment's dead letters")

    def load_in_background(self, orders, rate, skus):
        """Starts `oms load --json` with a card, wallet and cod mix; returns the
        process (its stdout is the report)."""
        return subprocess.Popen(
            self.cmd("load", "--orders", orders, "--rate", rate, "--skus", skus,
                     "--pay", "card:50,wallet:25,cod:25", "--json"),
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def count_load_stock(self, report, skus):
        """Counts the SKUs a finished `oms load` set up in what assert_conserved checks."""
        for k in range(skus):
            self.initial[f"load-{report['run']}-{k}"] = LOAD_STOCK

    def poll(self, fn, deadline, what):
        """Polls fn for `deadline` seconds; see poll()."""
        return poll(fn, deadline, what)

    # -- the contract, as helpers ------------------------------------------------

    def stock_set(self, sku, qty, price=None):
        """Sets a SKU's stock and remembers its total for assert_conserved."""
        args = ["stock", "set", sku, qty] + (["--price", price] if price is not None else [])
        self.oms(*args)
        stock = self.stock(sku)
        self.initial[sku] = stock["available"] + stock["reserved"] + stock["sold"]
        return stock

    def ensure_sku(self, sku, qty, price):
        """stock_set for a new SKU. The order service learns it from inventory's
        events a moment later; place() waits for that."""
        return self.stock_set(sku, qty, price)

    def stock(self, sku):
        return self.json("stock", "get", sku)

    def credit(self, customer, cents):
        self.oms("wallet", "credit", customer, cents)
        return self.balance(customer)

    def balance(self, customer):
        return self.json("wallet", "get", customer)["balance_cents"]

    def get(self, order_id):
        return self.json("get", order_id)

    def notifications(self, order=None, customer=None):
        if order is not None:
            return self.json("notifications", "--order", order)
        return self.json("notifications", "--customer", customer)

    @staticmethod
    def place_args(customer, items, pay, card=None, request_id=None):
        """The arguments of `oms place`; items are (sku, qty) pairs."""
        args = ["place"]
        if customer is not None:
            args += ["--customer", customer]
        for sku, qty in items:
            args += ["--item", f"{sku}:{qty}"]
        args += ["--pay", pay]
        if card is not None:
            args += ["--card", card]
        if request_id is not None:
            args += ["--request-id", request_id]
        return args

    def place(self, customer, items, pay, card=None, request_id=None):
        """Places an order and returns its id, once the order service knows the SKUs."""
        return self.place_when_known(self.place_args(customer, items, pay, card, request_id),
                                     [sku for sku, _ in items])

    def place_when_known(self, args, skus):
        """Runs `oms ARGS` (a place) and returns the order id it prints.

        The order service learns SKUs from inventory's catalog.updated events, so
        right after stock_set it may still answer "unknown sku": for SKUs this
        cluster has set, that is retried for KNOWN_SKU_S seconds.
        """
        retry = all(sku in self.initial for sku in skus)

        def attempt():
            r = self.oms(*args, check=False)
            if r.returncode == 0:
                order_id = r.stdout.strip()
                if not order_id or len(order_id.split()) != 1:
                    raise AssertionError(f"`oms place` printed {r.stdout!r}, not an order id")
                return order_id
            message = f"`oms {' '.join(args)}` exited {r.returncode}: {r.stderr.strip()}"
            if retry and "unknown sku" in r.stderr.lower():
                raise AssertionError(message)
            raise RuntimeError(message)

        try:
            order_id = poll(attempt, KNOWN_SKU_S, f"the order service to know {skus}")
        except RuntimeError as e:
            raise AssertionError(str(e)) from None
        if order_id not in self.orders:
            self.orders.append(order_id)
        return order_id

    def wait(self, order_id, timeout=SETTLE_S):
        """`oms wait`: returns CONFIRMED or CANCELLED; a timeout fails."""
        r = self.oms("wait", order_id, "--timeout", timeout, check=False,
                     timeout=timeout + CLI_TIMEOUT_S)
        status = r.stdout.strip()
        expected = {0: "CONFIRMED", 2: "CANCELLED"}.get(r.returncode)
        if expected is None:
            now = self.oms("get", order_id, check=False)
            raise AssertionError(f"`oms wait {order_id}` exited {r.returncode} ({r.stderr.strip()}); "
                                 f"the order is now: {now.stdout.strip()}{now.stderr.strip()}")
        if status != expected:
            raise AssertionError(f"`oms wait {order_id}` exited {r.returncode} but printed {status!r}")
        return status

    def status(self, service):
        """`oms status SERVICE --json`: the service's entry (a list of one, or the object)."""
        answer = self.json("status", service)
        if isinstance(answer, list):
            entries = [e for e in answer if service in (e.get("service"), e.get("name"))]
            if len(entries) != 1:
                raise AssertionError(f"`oms status {service} --json` printed {answer!r}")
            return entries[0]
        return answer

    def tail(self):
        """An `oms tail --json` of every topic, running once it has seen an event."""
        tail = Tail(self, ["tail", "--json"])
        try:
            tail.wait_for(lambda e: True, SETTLE_S, "the first event (a heartbeat) on `oms tail`")
        except BaseException:
            tail.close()
            raise
        return tail

    # -- invariants --------------------------------------------------------------

    def quiet(self):
        """Fails unless every order placed here is CONFIRMED or CANCELLED."""
        for order_id in self.orders:
            status = self.get(order_id)["status"]
            if status not in TERMINAL:
                raise AssertionError(f"order {order_id} is still {status}")
        return True

    def assert_conserved(self, timeout=SETTLE_S):
        """Once the saga is quiet, every SKU set here has initial == available +
        reserved + sold, with nothing negative and nothing left reserved."""
        def conserved():
            self.quiet()
            for sku, initial in self.initial.items():
                s = self.stock(sku)
                levels = {k: s[k] for k in ("available", "reserved", "sold")}
                if any(v < 0 for v in levels.values()):
                    raise AssertionError(f"{sku}: negative level {levels}")
                if sum(levels.values()) != initial:
                    raise AssertionError(f"{sku}: {levels} does not add up to {initial}")
                if levels["reserved"]:
                    raise AssertionError(f"{sku}: {levels} keeps a reservation")
            return True
        poll(conserved, timeout, "stock to be conserved with the saga quiet")


class Tail:
    """`oms ARGS` (a tail with --json) in the background; a thread collects the
    events it prints, one JSON object a line."""

    def __init__(self, cluster, args):
        self.proc = subprocess.Popen(cluster.cmd(*args), env=cluster.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.events = []
        self.bad = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            with self.lock:
                if isinstance(event, dict):
                    self.events.append(event)
                else:
                    self.bad.append(line)

    def snapshot(self):
        with self.lock:
            if self.bad:
                raise RuntimeError(f"`oms tail --json` printed a line that is not a JSON "
                                   f"object: {self.bad[0]!r}")
            return list(self.events)

    def matching(self, pred):
        return [e for e in self.snapshot() if pred(e)]

    def wait_for(self, pred, timeout, what):
        """Waits until some event satisfies pred; returns all that do."""
        def found():
            hits = self.matching(pred)
            if not hits and self.proc.poll() is not None:
                raise RuntimeError(f"`oms tail` exited {self.proc.returncode}: "
                                   f"{self.proc.stderr.read().strip()}")
            return hits
        try:
            return poll(found, timeout, what)
        except RuntimeError as e:
            raise AssertionError(str(e)) from None

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()
        return False


class ClusterTest(unittest.TestCase):
    """A test case class with a cluster of its own (self.cluster), started
    before its first test and stopped after its last; CLUSTER holds the
    Cluster's options. After every test that passed, assert_conserved()."""

    CLUSTER = {}
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(name=cls.__name__.lower(), **cls.CLUSTER)
        cls.cluster.start()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop(check=True)

    def _problems(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return 0
        return len(result.errors) + len(result.failures)

    def setUp(self):
        self._problems_before = self._problems()

    def tearDown(self):
        if self._problems() > self._problems_before:
            self.cluster.failed = True
            return
        try:
            self.cluster.assert_conserved()
        except AssertionError:
            self.cluster.failed = True
            raise


def run():
    """Runs the unittest main of the calling test file; a SIGTERM (a test
    runner's timeout) still stops every cluster."""
    signal.signal(signal.SIGTERM, _on_term)
    unittest.main(module="__main__", verbosity=2)
