#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An argument holding a Unicode noncharacter (U+FDD0..U+FDEF, U+xFFFE,
U+xFFFF) is malformed input like any other: InvalidArgs, with a message, and
an audit entry. The bus passes such strings on, but sd-bus refuses to read
them; the broker once returned that read failure as it was, so the caller got
org.freedesktop.DBus.Error.InconsistentMessage and nothing was audited. See
docs/security.md, "Arguments sd-bus cannot read"."""

import os
import unittest

import brokertest as bt

NONCHARACTERS = ["\ufdd0", "\ufdef", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff"]


class NoncharacterArguments(unittest.TestCase):
    def assert_invalid_and_audited(self, user, method, argument):
        r = bt.call(user, method, argument, timeout=10)
        self.assertFalse(r.ok, r)
        self.assertEqual(r.error, bt.E_INVALID_ARGS, r)
        self.assertIn("noncharacter", r.message)
        lines = bt.wait_for_audit(method=method, uid=bt.uid_of(user), result="refused")
        self.assertTrue([l for l in lines if "noncharacter" in l["line"]],
                        "no audit entry for %s's %s" % (user, method))

    def test_kill_cgroup(self):
        for nc in NONCHARACTERS:
            with self.subTest(character="U+%04X" % ord(nc)):
                self.assert_invalid_and_audited(bt.ALICE, "KillCgroup", "svc" + nc)

    def test_cleanup_path(self):
        path = os.path.join(bt.home_of(bt.ALICE), "p", ".locald", "x\ufffey")
        self.assert_invalid_and_audited(bt.ALICE, "CleanupPath", path)

    def test_denied_caller_gets_the_same(self):
        # Input is checked before polkit is asked: mallory learns nothing more.
        self.assert_invalid_and_audited(bt.MALLORY, "KillCgroup", "x\uffff")

    def test_broker_still_serves(self):
        self.assertTrue(bt.call(bt.BOB, "SelfCheck").ok)
        broker = bt.broker_pid()
        for _ in range(20):
            bt.call(bt.BOB, "KillCgroup", "\ufdd0")
        self.assertEqual(bt.broker_pid(), broker)
        self.assertTrue(bt.call(bt.BOB, "SelfCheck").ok)


if __name__ == "__main__":
    bt.main()
