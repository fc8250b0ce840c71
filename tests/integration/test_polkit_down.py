#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Without polkitd the broker fails closed, quickly, and stays up."""

import os
import unittest

import brokertest as bt


class PolkitDown(unittest.TestCase):
    def tearDown(self):
        bt.polkit_start()

    def assert_unavailable(self, r):
        self.assertFalse(r.ok, r)
        self.assertEqual(r.error, bt.E_AUTH_UNAVAILABLE, r)
        self.assertTrue(r.message)

    def test_running_broker_loses_polkit(self):
        bt.remove_cgroup_root()
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
        broker = bt.broker_pid()
        bt.polkit_stop()

        # No hang: each answer must come well before the D-Bus default timeout.
        self.assert_unavailable(bt.call(bt.ALICE, "SelfCheck", timeout=bt.NO_HANG))
        self.assert_unavailable(bt.call(bt.ALICE, "SetupCgroupRoot", timeout=bt.NO_HANG))
        self.assert_unavailable(bt.call(bt.CAROL, "SetupCgroupRoot", interactive=True,
                                        timeout=bt.NO_HANG))
        self.assertFalse(os.path.exists(bt.cgroup_root_path()), "setup ran without polkit")
        self.assertEqual(bt.broker_pid(), broker, "the broker did not survive")
        self.assertTrue(bt.pid_alive(broker))
        refused = bt.wait_for_audit(method="SetupCgroupRoot", uid=bt.uid_of(bt.ALICE))
        self.assertTrue(refused, "no audit line for the refused setup")
        self.assertNotIn("ok", {l["result"] for l in refused}, refused)

        bt.polkit_start()
        r = bt.call(bt.ALICE, "SetupCgroupRoot")
        self.assertTrue(r.ok, r)
        self.assertEqual(bt.broker_pid(), broker)

    def test_broker_activated_while_polkit_is_down(self):
        bt.broker_stop()
        bt.polkit_stop()
        self.assert_unavailable(bt.call(bt.ALICE, "SelfCheck", timeout=bt.NO_HANG))
        broker = bt.broker_pid()
        self.assertIsNotNone(broker)
        bt.polkit_start()
        r = bt.call(bt.ALICE, "SelfCheck")
        self.assertTrue(r.ok, r)
        self.assertEqual(bt.broker_pid(), broker)


if __name__ == "__main__":
    bt.main()
