#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""BindPort and SyncHosts on a real systemd host, through the installed
helper units: a socket that localdctl bind got from the broker serves a
connection on the box's loopback, SyncHosts changes the box's real
/etc/hosts (and the resolver sees it), and each helper runs under its own
unit with exactly its documented capabilities."""

import re
import threading
import time
import unittest

import boxtest
from boxtest import ALICE, MALLORY

NET_UNIT = "locald-brokerd-net.service"
HOSTS_UNIT = "locald-brokerd-hosts.service"
CAP_NET_BIND_SERVICE = 10
MAX_EXPOSURE = 2.0

SERVER = r"""
import os, socket
assert int(os.environ["LISTEN_PID"]) == os.getpid() and os.environ["LISTEN_FDS"] == "1"
s = socket.socket(fileno=3)
c, _ = s.accept()
c.sendall(b"hello from the box, pid %d\n" % os.getpid())
c.close()
"""

CLIENT = r"""
import socket, sys, time
deadline = time.monotonic() + 30
while True:
    try:
        c = socket.create_connection(("127.0.0.1", 80), timeout=5)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.1)
sys.stdout.write(c.recv(200).decode())
"""


def helper_status(unit):
    pid = int(boxtest.unit_show(unit, "MainPID")["MainPID"])
    if pid == 0:
        return None
    return boxtest.proc_status(pid)


class Helpers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # localdctl acquires the capability, which needs the setup done once
        # (the installed example rule lets the locald group do it).
        r = boxtest.run_user(ALICE, "localdctl", "--no-ask-password", "setup", check=False)
        assert r.rc == 0, r.describe()

    def test_1_bind_serves_on_loopback(self):
        result = {}

        def serve():
            result["server"] = boxtest.run_user(ALICE, "localdctl", "--no-ask-password", "bind", "127.0.0.1",
                                                "80", "--", "/usr/bin/python3", "-c", SERVER, check=False)

        t = threading.Thread(target=serve)
        t.start()
        try:
            client = boxtest.run_root("/usr/bin/python3", "-c", CLIENT, check=False)
        finally:
            t.join(timeout=90)
        self.assertEqual(client.rc, 0, client.describe())
        self.assertTrue(re.match(r"hello from the box, pid \d+\n$", client.out), client.out)
        self.assertEqual(result["server"].rc, 0, result["server"].describe())

        # The helper ran under its own unit, with one capability.
        props = boxtest.unit_show(NET_UNIT, "ControlGroup", "CapabilityBoundingSet", "Result")
        self.assertEqual(props["CapabilityBoundingSet"], "cap_net_bind_service", props)
        status = helper_status(NET_UNIT)
        if status is not None:  # it may have exited idle already
            for field in ("CapEff", "CapPrm", "CapBnd"):
                self.assertEqual(int(status[field], 16), 1 << CAP_NET_BIND_SERVICE, (field, status[field]))
            self.assertEqual(status["NoNewPrivs"], "1")

    def test_2_public_needs_admin_and_unprivileged_is_refused(self):
        def bind(address, port):
            return boxtest.run_user(ALICE, "busctl", "--allow-interactive-authorization=no", "call",
                                    boxtest.BUS_NAME, boxtest.OBJECT_PATH, boxtest.INTERFACE, "BindPort", "sq",
                                    address, str(port), check=False)

        r = bind("0.0.0.0", 81)
        self.assertNotEqual(r.rc, 0)
        self.assertIn("needs authentication", r.err + r.out)
        r = bind("127.0.0.1", 8080)
        self.assertNotEqual(r.rc, 0)
        self.assertIn("bind it yourself", r.err + r.out)

    def test_3_sync_hosts_changes_the_real_file(self):
        before = boxtest.run_root("cat", "/etc/hosts").out
        uid = boxtest.run_user(ALICE, "id", "-u").out.strip()
        r = boxtest.run_user(ALICE, "localdctl", "--no-ask-password", "hosts", "sync", "web.localhost",
                             "api.test", check=False)
        self.assertEqual((r.rc, r.out), (0, "2\n"), r.describe())
        after = boxtest.run_root("cat", "/etc/hosts").out
        block = ("# BEGIN locald uid=%s\n127.0.0.1 web.localhost\n::1 web.localhost\n"
                 "127.0.0.1 api.test\n::1 api.test\n# END locald uid=%s\n" % (uid, uid))
        sep = "" if before == "" or before.endswith("\n") else "\n"
        self.assertEqual(after, before + sep + block)
        # gethostbyname, not getaddrinfo: the box has loopback only, and
        # AI_ADDRCONFIG ignores loopback addresses.
        resolved = boxtest.run_root("getent", "hosts", "api.test").out
        self.assertRegex(resolved, r"^(127\.0\.0\.1|::1)\s+api\.test")
        listed = boxtest.run_user(ALICE, "localdctl", "hosts", "list").out
        self.assertEqual(listed, "web.localhost\napi.test\n")

        # Refusals change nothing, under the real unit too.
        for user, names in ((MALLORY, ["web.localhost"]), (ALICE, ["evil.example"]),
                            (ALICE, ["a\nb.test"])):
            r = boxtest.run_user(user, "localdctl", "--no-ask-password", "hosts", "sync", *names, check=False)
            self.assertNotEqual(r.rc, 0, r.describe())
        self.assertEqual(boxtest.run_root("cat", "/etc/hosts").out, after)

        props = boxtest.unit_show(HOSTS_UNIT, "CapabilityBoundingSet", "Result")
        self.assertEqual(props["CapabilityBoundingSet"], "", props)
        status = helper_status(HOSTS_UNIT)
        if status is not None:
            self.assertEqual(int(status["CapEff"], 16), 0, status["CapEff"])

        r = boxtest.run_user(ALICE, "localdctl", "--no-ask-password", "hosts", "clear", check=False)
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(boxtest.run_root("cat", "/etc/hosts").out, before + sep)

    def test_4_helper_units_exposure(self):
        for unit in (NET_UNIT, HOSTS_UNIT):
            with self.subTest(unit=unit):
                out = boxtest.run_root("systemd-analyze", "security", "--no-pager", unit).out
                m = re.search(r"Overall exposure level for %s: ([0-9.]+)" % re.escape(unit), out)
                self.assertIsNotNone(m, out[-2000:])
                self.assertLessEqual(float(m.group(1)), MAX_EXPOSURE, out[-2000:])


if __name__ == "__main__":
    boxtest.main()
