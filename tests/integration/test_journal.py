#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Audit entries reach the journal as structured entries.

These machines run no journald, so the test stands in for it at the protocol
level: inside the sandbox's mount namespace it puts a tmpfs on /run/systemd
and listens on /run/systemd/journal/socket, the datagram socket
sd_journal_send() writes to. The broker (activated afresh, so it sees the
socket) then sends its real entries there, and the test decodes journald's
native protocol and checks the fields: who, what, the argument and the
result, for an allowed call and for a refusal."""

import os
import socket
import struct
import subprocess
import unittest

import brokertest as bt

RUN_SYSTEMD = "/run/systemd"
SOCKET = RUN_SYSTEMD + "/journal/socket"


def parse_native(datagram):
    """journald's native protocol: KEY=VALUE lines, or KEY\\n + 64-bit LE
    length + raw value + \\n for values that contain newlines."""
    fields, i = {}, 0
    while i < len(datagram):
        nl = datagram.index(b"\n", i)
        line = datagram[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            i = nl + 1
        else:
            key = line
            (length,) = struct.unpack_from("<Q", datagram, nl + 1)
            start = nl + 1 + 8
            value = datagram[start:start + length]
            i = start + length + 1
        fields[key.decode()] = value.decode(errors="replace")
    return fields


class Journal(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        bt.broker_stop()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", RUN_SYSTEMD], check=True)
        os.makedirs(os.path.dirname(SOCKET))
        cls.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        cls.sock.bind(SOCKET)
        os.chmod(SOCKET, 0o666)
        cls.sock.settimeout(0.2)

    @classmethod
    def tearDownClass(cls):
        cls.sock.close()
        bt.broker_stop()
        subprocess.run(["umount", RUN_SYSTEMD], check=True)

    def entries(self, **match):
        """Audit entries received so far (drains the socket)."""
        while True:
            try:
                self.received.append(parse_native(self.sock.recv(1 << 20)))
            except socket.timeout:
                break
        return [e for e in self.received
                if e.get("LOCALD_METHOD") and all(e.get(k) == v for k, v in match.items())]

    def setUp(self):
        self.received = []

    def test_allowed_and_refused_calls_are_structured_entries(self):
        alice, mallory = bt.uid_of(bt.ALICE), bt.uid_of(bt.MALLORY)
        self.assertTrue(bt.call(bt.ALICE, "KillCgroup", "no/such/cgroup").ok)
        r = bt.call(bt.MALLORY, "KillCgroup", "svc")
        self.assertEqual(r.error, bt.E_ACCESS_DENIED, r)
        r = bt.call(bt.ALICE, "KillCgroup", "../escape\nFORGED=1")
        self.assertEqual(r.error, "org.freedesktop.DBus.Error.InvalidArgs", r)

        ok = bt.wait_until(lambda: self.entries(LOCALD_METHOD="KillCgroup", LOCALD_RESULT="ok"),
                           what="the journal entry of alice's call")[0]
        self.assertEqual(ok["LOCALD_CALLER_UID"], str(alice))
        self.assertEqual(ok["LOCALD_ARGUMENT"], "no/such/cgroup")
        self.assertTrue(ok["LOCALD_SENDER"].startswith(":"))
        self.assertIn("MESSAGE_ID", ok)
        self.assertIn("KillCgroup", ok["MESSAGE"])
        self.assertEqual(ok["PRIORITY"], "6")

        denied = bt.wait_until(lambda: self.entries(LOCALD_RESULT="denied"),
                               what="the journal entry of mallory's refusal")[0]
        self.assertEqual(denied["LOCALD_CALLER_UID"], str(mallory))
        self.assertEqual(denied["LOCALD_METHOD"], "KillCgroup")

        # The argument travels as one field value; the newline in it forges
        # no field of its own.
        refused = bt.wait_until(lambda: self.entries(LOCALD_RESULT="refused"),
                                what="the journal entry of the malformed call")[0]
        self.assertEqual(refused["LOCALD_ARGUMENT"], "../escape\nFORGED=1")
        self.assertNotIn("FORGED", refused)
        # With a journal, nothing is written to stderr instead.
        self.assertFalse(bt.audit_lines(method="KillCgroup"))


if __name__ == "__main__":
    bt.main()
