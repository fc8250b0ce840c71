#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every method of the interface, once, as an unprivileged user in a real
login session, against the broker running under its installed hardened
unit: the unit's system call filter, its read-only file system and its
capability set must not break any of them. The running process must show
that confinement while it serves them (seccomp filter mode, no new
privileges, the documented capabilities).
(The exposure score and the capability sets: test_systemd_box.py; locald's
whole lane through the client library: test_flow.py.)"""

import os
import re
import unittest
import xml.etree.ElementTree as ET

import boxtest
from boxtest import ALICE, MALLORY, UNIT

JOIN = """
import gi
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib
bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
bus.call_sync("%s", "%s", "%s", "JoinCgroup", GLib.Variant("(s)", ("svc",)), None,
              Gio.DBusCallFlags.NONE, 15000, None)
print([l for l in open("/proc/self/cgroup").read().splitlines() if l.startswith("0::")][0])
""" % (boxtest.BUS_NAME, boxtest.OBJECT_PATH, boxtest.INTERFACE)
KEPT_MASK = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5)


def interface_methods():
    root = ET.parse(os.path.join(boxtest.SRCDIR, "dbus", "dev.locald.Broker1.xml")).getroot()
    return sorted(m.get("name") for i in root.iter("interface") if i.get("name") == boxtest.INTERFACE
                  for m in i.iter("method"))


class MethodsUnderTheUnit(unittest.TestCase):
    def audit(self, method):
        """The broker's audit entries of METHOD in the box's journal."""
        out = boxtest.run_root("journalctl", "--no-pager", "-b", "-u", UNIT, "-o", "cat",
                               "LOCALD_METHOD=" + method, check=False).out
        return out.splitlines()

    def test_each_method_as_a_user(self):
        pid = boxtest.running_broker_pid(ALICE)
        status = boxtest.proc_status(pid)
        self.assertEqual(status["Seccomp"], "2", "the unit's system call filter is not active")
        self.assertEqual(status["NoNewPrivs"], "1")
        self.assertEqual(int(status["CapEff"], 16), KEPT_MASK, status["CapEff"])
        done = set()

        self.assertEqual(boxtest.self_check(ALICE)["strategy"], "systemd")
        done.add("SelfCheck")

        cgroup = boxtest.busctl(ALICE, "SetupCgroupRoot")[0]
        self.assertTrue(cgroup.startswith("/locald.slice/"), cgroup)
        done.add("SetupCgroupRoot")

        # JoinCgroup moves the process that owns the caller's connection:
        # this one, which then reads where it is.
        out = boxtest.run_user(ALICE, "/usr/bin/python3", "-c", JOIN).out
        self.assertTrue(out.strip().endswith("/svc"), out)
        done.add("JoinCgroup")

        killed = boxtest.busctl(ALICE, "KillCgroup", "s", "svc")[0]
        self.assertGreaterEqual(killed, 0)
        done.add("KillCgroup")

        # A root-owned leftover below alice's own .locald.
        home = boxtest.run_root("getent", "passwd", ALICE).out.split(":")[5]
        tree = home + "/unit-methods/.locald/tmp"
        boxtest.sh_user(ALICE, 'mkdir -p "$1"', tree)
        boxtest.sh_root('mkdir -p "$1/left/deep" && echo x > "$1/left/deep/f"', tree)
        removed = boxtest.busctl(ALICE, "CleanupPath", "s", tree)[0]
        self.assertGreaterEqual(removed, 3)
        self.assertEqual(boxtest.present([tree]), [])
        done.add("CleanupPath")

        # The methods this file does not know yet still run once, with an
        # empty argument of the right type: whatever they answer, the answer
        # must be an error of the broker's, not a crash of a filtered call.
        for method in sorted(set(interface_methods()) - done):
            with self.subTest(method=method):
                r = boxtest.busctl(ALICE, method, check=False)
                self.assertNotIn("Connection reset", r.err + r.out)
                done.add(method)

        # The standard interfaces.
        props = boxtest.busctl(MALLORY, "GetAll", "s", boxtest.INTERFACE,
                               interface="org.freedesktop.DBus.Properties")[0]
        self.assertEqual(props["Strategy"]["data"], "systemd")
        xml = boxtest.busctl(MALLORY, "Introspect", interface="org.freedesktop.DBus.Introspectable")[0]
        self.assertIn('interface name="%s"' % boxtest.INTERFACE, xml)
        boxtest.busctl(MALLORY, "Ping", interface="org.freedesktop.DBus.Peer")

        # One process served it all, under the unit, and audited each call.
        self.assertEqual(int(boxtest.unit_show(UNIT, "MainPID")["MainPID"]), pid, "the broker restarted")
        for method in ("SelfCheck", "SetupCgroupRoot", "JoinCgroup", "KillCgroup", "CleanupPath"):
            with self.subTest(audit=method):
                lines = self.audit(method)
                self.assertTrue(any(": ok" in l for l in lines), "%s: %s" % (method, lines))
        log = "\n".join(boxtest.journal(output="cat"))
        self.assertIsNone(re.search(r"Operation not permitted|Function not implemented|Bad system call", log), log)
        self.assertEqual(set(interface_methods()), done & set(interface_methods()))


if __name__ == "__main__":
    boxtest.main()
