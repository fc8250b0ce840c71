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

    def phase_of_idle_timer(self):
        """The sub-second phase on which this broker's idle timer fires,
        from one observed release of its name."""
        r = bt.call(bt.ALICE, "SelfCheck")
        self.assertTrue(r.ok, r)
        bt.wait_until(lambda: not bt.name_has_owner(), interval=0.01,
                      what="the broker to release its name")
        return time.monotonic() % 1.0

    @staticmethod
    def sleep_until(when):
        time.sleep(max(0, when - time.monotonic()))

    def test_2_no_call_lost_around_the_boundary(self):
        # The idle timer is GLib's seconds timer: it fires anywhere from a
        # quarter second before to 0.75 s after the timeout, on a phase fixed
        # for the process. Learn the phase, then aim each call just before,
        # at and just after the moment the timer armed by the previous reply
        # fires. Each must be answered.
        phase = self.phase_of_idle_timer()
        pids = set()
        for delta in (-0.1, -0.03, -0.01, 0, 0.01, 0.03, 0.1, 0.5):
            r = bt.call(bt.ALICE, "SelfCheck")
            self.assertTrue(r.ok, r)
            armed = time.monotonic()
            pids.add(bt.broker_pid())
            self.sleep_until(bt.glib_seconds_timer(armed, IDLE, phase) + delta)
            r = bt.call(bt.ALICE, "SelfCheck")
            self.assertTrue(r.ok, "call %+.2f s from the idle boundary: %r" % (delta, r))
            pids.add(bt.broker_pid())

        # Several fresh connections at once, connected ahead so only the
        # call itself lands on the boundary.
        for delta in (-0.02, 0, 0.02):
            self.assertTrue(bt.call(bt.BOB, "SelfCheck").ok)
            armed = time.monotonic()
            handles = [bt.call_async(u, "SelfCheck", start=False)
                       for u in (bt.ALICE, bt.BOB, bt.CAROL)]
            self.sleep_until(bt.glib_seconds_timer(armed, IDLE, phase) + delta)
            for h in handles:
                h.start(h.request)
            for h in handles:
                r = h.result()
                self.assertTrue(r.ok, "call %+.2f s from the idle boundary: %r" % (delta, r))
        pids.discard(None)
        print("# %d broker instances answered the calls aimed at the boundary" % len(pids))
        # The pauses did cross the boundary: the broker was re-activated.
        self.assertGreaterEqual(len(pids), 2, "the broker never went idle: %r" % pids)

if __name__ == "__main__":
    bt.main()
