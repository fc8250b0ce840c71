#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Idle exit: the broker leaves after --idle-timeout, comes back on the next
call, and no call is lost around that boundary."""

import time
import unittest

import brokertest as bt

IDLE = 2


class Idle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        bt.broker_args("--idle-timeout=%d" % IDLE)
        bt.broker_stop()

    @classmethod
    def tearDownClass(cls):
        bt.broker_args()
        bt.broker_stop()

    def test_1_exits_when_idle_and_reactivates(self):
        r = bt.call(bt.ALICE, "SelfCheck")
        self.assertTrue(r.ok, r)
        first = bt.broker_pid()
        self.assertIsNotNone(first)
        bt.wait_until(lambda: not bt.name_has_owner(), what="the broker to release its name")
        bt.wait_until(lambda: not bt.pid_alive(first), what="the idle broker to exit")

        r = bt.call(bt.ALICE, "SelfCheck")
        self.assertTrue(r.ok, r)
        second = bt.broker_pid()
        self.assertIsNotNone(second)
        self.assertNotEqual(second, first)

    def test_2_no_call_lost_around_the_boundary(self):
        pids = set()
        # Calls spaced just under, at and just over the idle timeout, from a
        # long-lived connection and from fresh ones.
        for gap in (IDLE - 0.1, IDLE - 0.03, IDLE, IDLE + 0.01, IDLE + 0.03, IDLE + 0.1):
            r = bt.call(bt.ALICE, "SelfCheck")
            self.assertTrue(r.ok, "call after a %.2f s pause: %r" % (gap, r))
            pids.add(bt.broker_pid())
            time.sleep(gap)
        r = bt.call(bt.ALICE, "SelfCheck")
        self.assertTrue(r.ok, r)

        for gap in (IDLE - 0.05, IDLE, IDLE + 0.05):
            self.assertTrue(bt.call(bt.BOB, "SelfCheck").ok)
            # Fresh connections, started ahead so only the call is timed.
            handles = [bt.call_async(u, "SelfCheck", start=False)
                       for u in (bt.ALICE, bt.BOB, bt.CAROL)]
            time.sleep(gap)
            for h in handles:
                h.start(h.request)
            for h in handles:
                r = h.result()
                self.assertTrue(r.ok, "call after a %.2f s pause: %r" % (gap, r))
        pids.discard(None)
        self.assertTrue(pids)


if __name__ == "__main__":
    bt.main()
