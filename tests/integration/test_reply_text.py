#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every call gets a reply, and every text in it is valid UTF-8 that sd-bus
accepts. Error texts are built from what the caller sent and from names
found in the file system; cut in the middle of a character, or holding bytes
that are not UTF-8 (or Unicode noncharacters, which sd-bus refuses too), they
once made sd-bus refuse the error reply, so the caller got nothing and waited
for its timeout. The broker now escapes such bytes as \\xNN. See
docs/security.md, "Some errors got no reply"."""

import os
import time
import unittest

import brokertest as bt
import test_cleanup_ops as ops

E_NOT_OWNER = ops.E_NOT_OWNER
# Well below the call timeout: an answer, not the bus giving up.
QUICK = 5.0


def timed_call(user, method, *args):
    t0 = time.monotonic()
    r = bt.call(user, method, *args, timeout=QUICK * 4)
    return r, time.monotonic() - t0


class ReplyText(ops.Base):
    def assert_quick_error(self, r, elapsed, name):
        self.assertFalse(r.ok, r)
        self.assertEqual(r.error, name, r)
        self.assertNotIn("NoReply", r.error)
        self.assertLess(elapsed, QUICK, "the error took %.1f s: no reply until the timeout?" % elapsed)
        self.assertTrue(r.message)

    def test_truncated_multibyte_argument(self):
        # A component longer than NAME_MAX: the message quotes its first
        # bytes, and byte 32 falls inside a two-byte character.
        cgroup = "a" + "\u00e9" * 200
        r, elapsed = timed_call(bt.ALICE, "KillCgroup", cgroup)
        self.assert_quick_error(r, elapsed, bt.E_INVALID_ARGS)
        self.assertIn("a" + "\u00e9" * 10, r.message)
        lines = bt.wait_for_audit(method="KillCgroup", uid=bt.uid_of(bt.ALICE), result="refused")
        self.assertTrue(lines, "the refusal was not audited")
        # The broker still serves.
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)

    def foreign_file_named(self, raw_name):
        """A file of bob's called RAW_NAME (bytes) in a root-owned tree inside
        alice's .locald: CleanupPath of the tree fails naming it."""
        tree = os.path.join(self.locald, "tree")
        os.makedirs(os.path.join(tree, "sub"))
        path = os.path.join(os.fsencode(tree), b"sub", raw_name)
        with open(path, "w") as f:
            f.write("bob's\n")
        ops.chown_to(path, bt.BOB)
        return tree, path

    def test_invalid_utf8_file_name(self):
        tree, path = self.foreign_file_named(b"bad-\xff\xfe-\xc3(-name")
        r, elapsed = timed_call(bt.ALICE, "CleanupPath", tree)
        self.assert_quick_error(r, elapsed, E_NOT_OWNER)
        self.assertIn("sub/bad-\\xFF\\xFE-\\xC3(-name", r.message)
        self.assertTrue(os.path.lexists(path))
        self.assertTrue(bt.wait_for_audit(method="CleanupPath", uid=bt.uid_of(bt.ALICE), result="error"))

    def test_noncharacter_file_name(self):
        # Valid UTF-8 that sd-bus refuses to send: U+FFFE and U+FDD0.
        tree, path = self.foreign_file_named("nc-\ufffe-\ufdd0-ok-\u00e9".encode())
        r, elapsed = timed_call(bt.ALICE, "CleanupPath", tree)
        self.assert_quick_error(r, elapsed, E_NOT_OWNER)
        self.assertIn("nc-\\xEF\\xBF\\xBE-\\xEF\\xB7\\x90-ok-\u00e9", r.message)

    def test_control_characters_in_file_name(self):
        # Valid text for the bus, but a terminal showing the error would
        # obey them: escaped all the same.
        tree, path = self.foreign_file_named(b"esc-\x1b[31m-nl-\n-name")
        r, elapsed = timed_call(bt.ALICE, "CleanupPath", tree)
        self.assert_quick_error(r, elapsed, E_NOT_OWNER)
        self.assertIn("esc-\\x1B[31m-nl-\\x0A-name", r.message)
        self.assertNotIn("\x1b", r.message)


if __name__ == "__main__":
    bt.main()
