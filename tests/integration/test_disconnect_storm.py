#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Callers that leave while their calls are being authorized cannot take the
root broker down. Each departure makes the broker cancel the pending polkit
check; when polkitd has already answered or dropped it, libpolkit warns
"Error cancelling authorization check", and the broker's log handler once
logged from inside itself for that message, which GLib treats as recursion
and aborts on (SIGABRT). See docs/security.md, "A caller leaving
mid-authorization aborted the broker"."""

import os
import pwd
import subprocess
import time
import unittest

import brokertest as bt

from test_interactive import TtyAgent

# Runs as the leaving user: ROUNDS connections, each sending CALLS calls that
# want a reply (so each gets a polkit check) and closing at once, some right
# away, some after a short pause so polkitd is mid-answer when they go.
STORM = r"""
import sys, time
from gi.repository import Gio, GLib
address, rounds, calls, interactive = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
flags = Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION
for r in range(rounds):
    conn = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)
    for i in range(calls):
        method, body = (("CleanupPath", GLib.Variant("(s)", ("/tmp/.locald/storm-%d-%d" % (r, i),)))
                        if i % 2 else ("SelfCheck", None))
        msg = Gio.DBusMessage.new_method_call("dev.locald.Broker1", "/dev/locald/Broker1",
                                              "dev.locald.Broker1", method)
        if body is not None:
            msg.set_body(body)
        if interactive:
            msg.set_flags(Gio.DBusMessageFlags.ALLOW_INTERACTIVE_AUTHORIZATION)
        conn.send_message(msg, Gio.DBusSendMessageFlags.NONE)
    conn.flush_sync(None)
    if r % 3 == 1:
        time.sleep(0.001 * (r % 7))
    conn.close_sync(None)
print("done")
"""


def run_storm(user, rounds, calls, interactive=False):
    pw = pwd.getpwnam(user)
    p = subprocess.run(
        [bt.gi_python(), "-c", STORM, bt.env("DBUS_SYSTEM_BUS_ADDRESS"), str(rounds), str(calls),
         "1" if interactive else "0"],
        user=pw.pw_uid, group=pw.pw_gid, extra_groups=os.getgrouplist(user, pw.pw_gid),
        capture_output=True, text=True, timeout=bt.NO_HANG * 6)
    if p.returncode != 0:
        raise AssertionError("the storm as %s failed: %s" % (user, p.stderr[-2000:]))


class DisconnectStorm(unittest.TestCase):
    def assert_same_broker_serving(self, broker):
        # Give an abort in a late callback (a cancelled check finishing) time to land.
        time.sleep(0.5)
        self.assertTrue(bt.pid_alive(broker), "the broker died: %s" % bt.broker_log()[-3000:])
        self.assertEqual(bt.broker_pid(), broker, "the broker was replaced")
        self.assertNotIn("GLib-FATAL", bt.broker_log())
        self.assertNotIn("recursion", bt.broker_log())
        for _ in range(5):
            r = bt.call(bt.ALICE, "SelfCheck")
            self.assertTrue(r.ok, r)

    def test_denied_callers_leaving_mid_check(self):
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
        broker = bt.broker_pid()
        for _ in range(3):
            run_storm(bt.MALLORY, rounds=60, calls=12)
            run_storm(bt.MALLORY, rounds=30, calls=12, interactive=True)
            self.assertTrue(bt.pid_alive(broker), "the broker died: %s" % bt.broker_log()[-3000:])
        self.assert_same_broker_serving(broker)
        # The departures were audited as refusals, none as work done.
        uid = bt.uid_of(bt.MALLORY)
        self.assertFalse(bt.audit_lines(uid=uid, result="ok"))

    def test_callers_leaving_a_pending_prompt(self):
        """carol's interactive setups wait at her agent (nobody types); she
        leaves, and her agent with her, many times over."""
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
        broker = bt.broker_pid()
        uid = bt.uid_of(bt.CAROL)
        for _ in range(6):
            pending = []
            for _ in range(3):
                carol = bt.call_async(bt.CAROL, "SetupCgroupRoot", interactive=True, timeout=120,
                                      start=False)
                agent = TtyAgent(carol.pid)
                carol.start(carol.request)
                pending.append((carol, agent))
            bt.wait_until(lambda: all("dev.locald.broker.setup-cgroup" in a.read() or c.done()
                                      for c, a in pending),
                          what="polkitd to hand carol's checks to her agents")
            # Leave in both orders: caller first, agent first.
            for i, (carol, agent) in enumerate(pending):
                if i % 2:
                    agent.stop()
                    carol.kill()
                else:
                    carol.kill()
                    agent.stop()
        bt.wait_until(lambda: len([l for l in bt.audit_lines(method="SetupCgroupRoot", uid=uid)]) >= 18,
                      what="the broker to give up on all of carol's checks")
        self.assertFalse(bt.audit_lines(method="SetupCgroupRoot", uid=uid, result="ok"))
        self.assertFalse(os.path.exists(bt.user_cgroup_path(bt.CAROL)))
        self.assert_same_broker_serving(broker)


if __name__ == "__main__":
    bt.main()
