"""scripts/oms-deploy over real ssh, to three machines made of network namespaces.

Namespaces alpha (broker.0, order, inventory), beta (broker.1) and gamma
(payment, notification) each run Debian's sshd (`ip netns exec NS
/usr/sbin/sshd -D -e -f <its sshd_config>`) on their own address, port 22,
with a host key and a user key the test makes; root logs in with the key
only (no PAM, StrictModes off for the test's directory). A fourth namespace,
client, is the deploying machine: oms-deploy runs there with its default ssh
command, which finds the key and the known host keys through an ssh
configuration the test writes, passed as OMS_SSH_OPTS="-F FILE" (ssh reads
~/.ssh from the password database, not HOME). The test deploys the cluster
with two brokers (init), checks `status`, settles orders from the client,
cuts beta's link while a stream of orders is placed and checks each of them
completes through broker.0, then `down`. Every sshd is killed by its pid
file and the namespaces removed, whether the test passes or not.

Needs root, iproute2 and openssh-server (scripts/bootstrap); skips only
without root or `ip netns`. OMS_E2E_KEEP=1 keeps the run's directory.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import BIN_DIR, CARD_OK, CLI, SANITIZER_REPORT, SCRIPTS, SERVICES, poll, zpl  # noqa: E402
from test_netns import IP, Network, run  # noqa: E402

SSHD = "/usr/sbin/sshd"
HOSTS = {"alpha": 10, "beta": 11, "gamma": 12, "client": 20}
PLACE = {"broker.0": "alpha", "broker.1": "beta", "order": "alpha", "inventory": "alpha",
         "payment": "gamma", "notification": "gamma"}
PORTS = {"order": 7410, "inventory": 7411, "payment": 7412, "notification": 7413}
CUT_S = 3               #  how long beta's link stays cut while orders are placed
READY_S = 20            #  for an sshd to accept a login


class SshTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root to make network namespaces and run sshd")
        if shutil.which(IP) is None:
            raise unittest.SkipTest(f"no `{IP}` command (iproute2)")
        for program in (SSHD, shutil.which("ssh"), shutil.which("ssh-keygen")):
            if not program or not os.access(program, os.X_OK):
                raise AssertionError("openssh-server and openssh-client are needed "
                                     "(scripts/bootstrap installs them)")
        self.dir = Path(tempfile.mkdtemp(prefix="oms-e2e-ssh-"))
        self.addCleanup(self.remove_dir)
        self.network = Network(HOSTS, "10.232.0")
        self.addCleanup(self.destroy_network)
        self.failed = True          #  until the test ends well: then logs are not shown
        self.network.create()       #  skips when namespaces cannot be made
        self.sshds = {}
        self.addCleanup(self.stop_sshds)
        self.start_sshds()
        self.write_config()
        self.addCleanup(self.deploy_down)

    # -- ssh -------------------------------------------------------------------

    def keygen(self, path):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", path])
        return path.with_suffix(".pub").read_text().strip()

    def start_sshds(self):
        ssh = self.dir / "ssh"
        ssh.mkdir()
        user_key = self.keygen(ssh / "id_ed25519")
        (ssh / "authorized_keys").write_text(user_key + "\n")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation
        known = []
        for host in ("alpha", "beta", "gamma"):
            d = ssh / host
            d.mkdir()
            address = self.network.address(host)
            known.append(f"{address} {self.keygen(d / 'host_ed25519')}")
            (d / "sshd_config").write_text(
                f"ListenAddress {address}:22\n"
                f"HostKey {d / 'host_ed25519'}\n"
                f"PidFile {d / 'sshd.pid'}\n"
                f"AuthorizedKeysFile {ssh / 'authorized_keys'}\n"
                "PermitRootLogin prohibit-password\n"
                "PubkeyAuthentication yes\n"
                "PasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\n"
                "UsePAM no\n"
                "StrictModes no\n")
            run([SSHD, "-t", "-f", d / "sshd_config"])
            log = open(d / "sshd.log", "w")
            self.sshds[host] = subprocess.Popen(
                [self.network.ip, "netns", "exec", self.network.ns(host), SSHD, "-D", "-e",
                 "-f", d / "sshd_config"], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            log.close()
        (ssh / "known_hosts").write_text("\n".join(known) + "\n")
        self.ssh_config = ssh / "config"
        self.ssh_config.write_text(
            "Host *\n"
            "    User root\n"
            f"    IdentityFile {ssh / 'id_ed25519'}\n"
            "    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {ssh / 'known_hosts'}\n"
            "    GlobalKnownHostsFile /dev/null\n"
            "    StrictHostKeyChecking yes\n"
            "    ConnectTimeout 3\n")
        for host in self.sshds:
            address = self.network.address(host)

            def login():
                if self.sshds[host].poll() is not None:
                    raise AssertionError(f"sshd on {host} exited: "
                                         f"{(ssh / host / 'sshd.log').read_text()}")
                r = run(self.in_ns("client", "ssh", "-F", self.ssh_config, "-o",
                                   "BatchMode=yes", address, "true"), check=False)
                assert r.returncode == 0, r.stderr
                return True
            poll(login, READY_S, f"sshd on {host} ({address}) to accept the key")

    def stop_sshds(self):
        """Kills every sshd this test started, by its pid file and by its process."""
        for host, proc in self.sshds.items():
            pidfile = self.dir / "ssh" / host / "sshd.pid"
            try:
                os.kill(int(pidfile.read_text()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.sshds = {}

    def destroy_network(self):
        for problem in self.network.destroy():
            print(f"cleanup: {problem}", file=sys.stderr)

    def remove_dir(self):
        logs = sorted((self.dir / "home" / "log").glob("*.log"))
        reports = [log.name for log in logs
                   if SANITIZER_REPORT.search(log.read_text(errors="replace"))]
        if self.failed or reports:
            for log in logs + sorted(self.dir.glob("ssh/*/sshd.log")):
                lines = log.read_text(errors="replace").splitlines()[-40:]
                print(f"----- last lines of {log}", *lines, sep="\n", file=sys.stderr)
        if os.environ.get("OMS_E2E_KEEP"):
            print(f"kept {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if reports:
            raise AssertionError(f"sanitizer reports in {reports} (printed above)")

    # -- the cluster -----------------------------------------------------------

    def address(self, name):
        return self.network.address(PLACE[name])

    def write_config(self):
        keys = {
            "home": self.dir / "home",
            "broker/count": 2,
            "broker/frontend": f"tcp://{self.address('broker.0')}:7400",
            "broker/backend": f"tcp://{self.address('broker.0')}:7401",
            "brokers/1/frontend": f"tcp://{self.address('broker.1')}:7400",
            "brokers/1/backend": f"tcp://{self.address('broker.1')}:7401",
            "broker/hwm": 1000,
            "runtime/heartbeat_ms": 200,
            "runtime/replay_timeout_ms": 500,
            "order/saga_timeout_ms": 600000,
            "cli/timeout_ms": 10000,
        }
        for service in SERVICES:
            keys[f"services/{service}/host"] = self.address(service)
            keys[f"services/{service}/api"] = f"tcp://{self.address(service)}:{PORTS[service]}"
            keys[f"services/{service}/store"] = self.dir / "hosts" / service / "store"
        self.config = self.dir / "oms.cfg"
        self.config.write_text("#   oms.cfg: two brokers and four services on three hosts\n"
                               + zpl(keys))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
        #  No OMS_SSH: oms-deploy's own `ssh -o BatchMode=yes`, with this run's config.
        self.deploy_env = dict(self.env, OMS_SSH_OPTS=f"-F {self.ssh_config}",
                               OMS_DEPLOY_BIN=str(BIN_DIR))
        self.deployed = False

    def in_ns(self, host, *cmd):
        return [self.network.ip, "netns", "exec", self.network.ns(host), *map(str, cmd)]

    def deploy(self, action, check=True):
        return run(self.in_ns("client", SCRIPTS / "oms-deploy", self.config, action),
                   check=check, timeout=120, env=self.deploy_env)

    def deploy_down(self):
        if self.deployed:
            self.deploy("down", check=False)

    def oms(self, *args, check=True):
        return run(self.in_ns("client", CLI, *args, "--config", self.config), check=check,
                   env=self.env)

    def place(self, sku, pay, card=None):
        args = ["place", "--customer", self.customer, "--item", f"{sku}:1", "--pay", pay,
                "--request-id", f"req-{uuid.uuid4().hex}"] + (["--card", card] if card else [])

        def attempt():
            r = self.oms(*args, check=False)
            assert r.returncode == 0, f"`oms {' '.join(args)}` exited {r.returncode}: {r.stderr}"
            return r.stdout.strip()
        return poll(attempt, 10, f"the order service to take an order for {sku}")

    def wait_confirmed(self, order_id):
        r = self.oms("wait", order_id, "--timeout", 30, check=False)
        self.assertEqual(r.stdout.strip(), "CONFIRMED", f"oms wait {order_id}: {r.stderr}")

    def status_lines(self):
        r = self.deploy("status", check=False)
        return r.returncode, {line.split()[1].rstrip(":"): line for line in r.stdout.splitlines()}

    # -- the test --------------------------------------------------------------

    def test_deploy_over_ssh_with_two_brokers(self):
        self.deployed = True
        self.deploy("init")
        rc, lines = self.status_lines()
        self.assertEqual(rc, 0, lines)
        self.assertEqual(sorted(lines), sorted(PLACE), lines)
        for name, line in lines.items():
            self.assertTrue(line.startswith(self.address(name)), line)
            self.assertIn(f"{name}: up (pid ", line)
        poll(lambda: self.oms("status", check=False).returncode == 0, 30,
             "every service to answer the CLI across the bridge")

        sku, self.customer = f"S{uuid.uuid4().hex[:6]}", f"c-{uuid.uuid4().hex[:6]}"
        self.oms("stock", "set", sku, 10000, "--price", 100)
        for pay, card in (("cod", None), ("card", CARD_OK)):
            self.wait_confirmed(self.place(sku, pay, card))

        #  broker.1 cut off: deploy sees it unreachable; orders go through broker.0.
        self.network.link("beta", "down")
        try:
            rc, lines = self.status_lines()
            self.assertNotEqual(rc, 0, "oms-deploy status with broker.1's host cut off")
            self.assertIn("broker.1: unreachable", lines.get("broker.1", ""), lines)
            placed = []
            end = time.monotonic() + CUT_S
            while time.monotonic() < end or len(placed) < 10:
                placed.append(self.place(sku, "cod"))
            for order_id in placed:
                self.wait_confirmed(order_id)
        finally:
            self.network.link("beta", "up")
        print(f"{len(placed)} orders completed while broker.1's link was cut", flush=True)
        poll(lambda: self.status_lines()[0] == 0, 30, "oms-deploy status to see broker.1 again")

        self.deploy("down")
        self.deployed = False
        rc, lines = self.status_lines()
        self.assertEqual(rc, 1, lines)
        for name in PLACE:
            self.assertIn(f"{name}: down", lines[name])
        self.stop_sshds()
        for host in HOSTS:
            left = run([self.network.ip, "netns", "pids", self.network.ns(host)]).stdout.split()
            self.assertEqual(left, [], f"processes left in {host}'s namespace")
        self.failed = False


class DeployConfigTest(unittest.TestCase):
    """What oms-deploy refuses in a configuration of several brokers, before any ssh."""

    def refused(self, text, *, env=None):
        with tempfile.TemporaryDirectory(prefix="oms-e2e-ssh-cfg-") as d:
            config = Path(d) / "oms.cfg"
            config.write_text(text)
            r = run([SCRIPTS / "oms-deploy", config, "status"], check=False,
                    env=dict(os.environ, OMS_SSH="false", **(env or {})))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        return r.stderr

    def test_broker_count_out_of_range(self):
        for count in ("0", "9", "two"):
            self.assertIn(f"broker/count must be from 1 to 8, not '{count}'",
                          self.refused(f"broker/count = {count}\n"))

    def test_broker_without_a_host(self):
        self.assertIn("cannot tell broker 1's host from brokers/1/frontend = tcp://*:7400",
                      self.refused('broker/count = 2\nbrokers/1/frontend = "tcp://*:7400"\n'))

    def test_systemd_with_two_brokers(self):
        self.assertIn("OMS_DEPLOY_SYSTEMD=1 runs one broker",
                      self.refused("broker/count = 2\n", env={"OMS_DEPLOY_SYSTEMD": "1"}))


def _on_term(signum, _frame):
    raise SystemExit(128 + signum)  # unittest runs the cleanups


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _on_term)
    unittest.main(module="__main__", verbosity=2)
