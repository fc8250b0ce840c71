#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bus activation of locald-brokerd and its properties."""

import os
import unittest

import brokertest as bt


def _pids():
    return {int(p) for p in os.listdir("/proc") if p.isdigit()}


def _cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]


def _uid(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return None


class Activation(unittest.TestCase):
    def test_1_first_call_activates_broker(self):
        self.assertFalse(bt.name_has_owner(), "dev.locald.Broker1 has an owner before any call")
        self.assertIsNone(bt.broker_pid())
        before = _pids()

        r = bt.call(bt.ALICE, "SelfCheck")
        self.assertTrue(r.ok, r)

        self.assertTrue(bt.name_has_owner(), "no owner of dev.locald.Broker1 after the call")
        pid = bt.broker_pid()
        self.assertIsNotNone(pid)
        self.assertNotIn(pid, before, "the owner is not a process started by the call")
        self.assertTrue(bt.pid_alive(pid))
        argv = _cmdline(pid)
        # Under valgrind (make check-valgrind) the process is valgrind's
        # tool, which runs the broker: the broker's argv follows its own.
        argv = argv[next((i for i, a in enumerate(argv) if "locald-brokerd" in os.path.basename(a)), 0):]
        self.assertIn("locald-brokerd", os.path.basename(argv[0]), argv)
        self.assertIn("--cgroup-root=" + bt.cgroup_root_rel(), argv)
        self.assertEqual(_uid(pid), [0, 0, 0, 0], "the broker does not run as root")

    def test_2_second_call_reuses_instance(self):
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
        pid = bt.broker_pid()
        r = bt.call(bt.BOB, "SelfCheck")
        self.assertTrue(r.ok, r)
        self.assertEqual(bt.broker_pid(), pid)

    def test_3_properties(self):
        props = {}
        for name in ("Version", "ApiVersion", "Strategy", "CgroupRoot"):
            r = bt.get_property(bt.CAROL, name)
            self.assertTrue(r.ok, "%s: %r" % (name, r))
            props[name] = r.value
        self.assertIsInstance(props["Version"], str)
        self.assertTrue(props["Version"])
        self.assertEqual(props["ApiVersion"], 1)
        self.assertEqual(props["Strategy"], "direct")
        self.assertEqual(props["CgroupRoot"], "/" + bt.cgroup_root_rel())


if __name__ == "__main__":
    bt.main()
