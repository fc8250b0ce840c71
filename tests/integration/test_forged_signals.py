#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Forged signals change nothing. Any user may unicast a signal to the
broker's connection; the bus delivers it whatever the broker's match rules
say, and sd-bus lets a match on a well-known sender pass any unique sender.
So a NameOwnerChanged claiming that another user's connection left must not
make the broker abandon that user's pending call: only the bus driver's own
notice (sender exactly org.freedesktop.DBus) counts. The JobRemoved case of
the systemd strategy is in test_systemd_forged_job.py. See docs/security.md,
"Forged signals"."""

import time
import unittest

import brokertest as bt

from test_interactive import TtyAgent

DRIVER_PATH = "/org/freedesktop/DBus"
DRIVER_IFACE = "org.freedesktop.DBus"


def start_pending_setup():
    """carol's interactive SetupCgroupRoot, waiting at her own agent (a
    pkttyagent on a pty nobody types into). Returns (call, agent)."""
    carol = bt.call_async(bt.CAROL, "SetupCgroupRoot", interactive=True, timeout=120, start=False)
    agent = TtyAgent(carol.pid)
    try:
        carol.start(carol.request)
        bt.wait_until(lambda: "dev.locald.broker.setup-cgroup" in agent.read() or carol.done(),
                      what="polkitd to hand carol's check to her agent")
    except BaseException:
        agent.stop()
        raise
    return carol, agent


class ForgedNameOwnerChanged(unittest.TestCase):
    def setUp(self):
        bt.remove_cgroup_root()

    def forge_departure(self, forger, victim, broker):
        """FORGER tells BROKER that VICTIM's connection left the bus."""
        r = bt.emit_signal(forger, broker, DRIVER_PATH, DRIVER_IFACE, "NameOwnerChanged", "sss",
                           victim, victim, "")
        self.assertTrue(r.ok, r)

    def test_forged_departure_does_not_cancel_a_pending_call(self):
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
        broker = bt.unique_name_of()
        self.assertTrue(broker and broker.startswith(":"), broker)
        uid = bt.uid_of(bt.CAROL)

        carol, agent = start_pending_setup()
        try:
            self.assertFalse(carol.done(), "carol's call ended before any forgery")
            # A denied user, a granted one, and one as a different
            # signal name the driver also uses.
            self.forge_departure(bt.MALLORY, carol.unique_name, broker)
            self.forge_departure(bt.ALICE, carol.unique_name, broker)
            self.forge_departure(bt.MALLORY, carol.unique_name, bt.BUS_NAME)
            # The broker has read the forgeries once it answered a call sent
            # after them (and a little time for a cancellation to land).
            self.assertTrue(bt.call(bt.MALLORY, "SelfCheck").error == bt.E_ACCESS_DENIED)
            self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
            time.sleep(0.5)
            self.assertFalse(carol.done(), "a forged NameOwnerChanged ended carol's pending call: %r"
                             % (carol.result(0) if carol.done() else None,))
            self.assertFalse([l for l in bt.audit_lines(method="SetupCgroupRoot", uid=uid)
                              if "disconnected" in l["line"]])
        finally:
            agent.stop()

        # Her agent went away without an answer: an ordinary refusal, not a
        # "caller disconnected" one.
        r = carol.result(bt.NO_HANG)
        self.assertFalse(r.ok, r)
        self.assertEqual(r.error, bt.E_ACCESS_DENIED, r)
        self.assertNotIn("disconnected", r.message)

    def test_real_departure_still_cancels(self):
        """The check that keeps forgeries out lets the driver's notice in."""
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
        uid = bt.uid_of(bt.CAROL)
        carol, agent = start_pending_setup()
        try:
            carol.kill()
            bt.wait_until(lambda: [l for l in bt.audit_lines(method="SetupCgroupRoot", uid=uid)
                                   if "disconnected" in l["line"]],
                          what="the broker to give up on carol's check")
        finally:
            agent.stop()
        self.assertFalse(bt.audit_lines(method="SetupCgroupRoot", uid=uid, result="ok"))


if __name__ == "__main__":
    bt.main()
