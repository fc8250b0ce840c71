#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A flood of calls from one hostile user neither takes the broker down nor
locks other users out: calls beyond the per-connection and per-uid limits are
refused at once with dev.locald.Broker1.Error.Busy, and the broker keeps its
bus connection (it holds one NameOwnerChanged subscription, not one per
call, so the bus's per-connection match quota cannot be exhausted)."""

import os
import pwd
import subprocess
import unittest

import brokertest as bt

# Runs as the flooding user: N calls that expect no reply, sent as fast as
# the connection takes them, then a few normal calls to see how they end.
FLOOD = r"""
import sys
from gi.repository import Gio, GLib
n = int(sys.argv[1])
conn = Gio.DBusConnection.new_for_address_sync(
    sys.argv[2], Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
    None, None)
for i in range(n):
    msg = Gio.DBusMessage.new_method_call("dev.locald.Broker1", "/dev/locald/Broker1", "dev.locald.Broker1",
                                          "CleanupPath")
    msg.set_body(GLib.Variant("(s)", ("/nonexistent/.locald/x%d" % i,)))
    msg.set_flags(Gio.DBusMessageFlags.NO_REPLY_EXPECTED)
    conn.send_message(msg, Gio.DBusSendMessageFlags.NONE)
conn.flush_sync(None)
busy = 0
for i in range(40):
    try:
        conn.call_sync("dev.locald.Broker1", "/dev/locald/Broker1", "dev.locald.Broker1", "SelfCheck",
                       None, None, Gio.DBusCallFlags.NONE, 30000, None)
    except GLib.Error as e:
        if "Error.Busy" in e.message:
            busy += 1
print(busy)
"""


class Flood(unittest.TestCase):
    def test_flood_does_not_take_the_broker_down(self):
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
        broker = bt.broker_pid()
        pw = pwd.getpwnam(bt.MALLORY)
        flood = subprocess.Popen(
            [bt.gi_python(), "-c", FLOOD, "3000", bt.env("DBUS_SYSTEM_BUS_ADDRESS")],
            user=pw.pw_uid, group=pw.pw_gid, extra_groups=os.getgrouplist(bt.MALLORY, pw.pw_gid),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # While the flood runs, another user is still served by the same broker.
        for _ in range(5):
            r = bt.call(bt.ALICE, "SelfCheck")
            self.assertTrue(r.ok, r)
        out, err = flood.communicate(timeout=bt.NO_HANG * 4)
        self.assertEqual(flood.returncode, 0, err)

        self.assertEqual(bt.broker_pid(), broker, "the broker lost its bus connection or was restarted")
        self.assertTrue(bt.pid_alive(broker))
        self.assertNotIn("Lost the bus connection", bt.broker_log())
        self.assertNotIn("not allowed to add more match rules", bt.broker_log())
        busy = bt.audit_lines(result="refused")
        self.assertTrue(any("too many calls" in l["line"] or "Too many calls" in l["line"] for l in busy),
                        "no call was refused as Busy")
        r = bt.call(bt.ALICE, "SelfCheck")
        self.assertTrue(r.ok, r)


if __name__ == "__main__":
    bt.main()
