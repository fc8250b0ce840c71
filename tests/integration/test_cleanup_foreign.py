#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""CleanupPath removes only entries owned by root or by the caller. A .locald
the caller owns may still hold other users' entries (a shared project
directory, a sticky world-writable one like /tmp/.locald); the broker runs as
root and could remove them, so it refuses: another user's entry anywhere in
the tree fails the call with NotOwner naming that entry, before anything is
removed. See docs/security.md, "CleanupPath removed other users' files"."""

import os
import unittest

import brokertest as bt
import test_cleanup_ops as ops

E_NOT_OWNER = ops.E_NOT_OWNER


class ForeignEntries(ops.Base):
    def test_other_users_file_in_the_tree_survives(self):
        tree = ops.make_root_tree(os.path.join(self.locald, "tmp", "build"))
        theirs = os.path.join(tree, "sub0", "sub1", "bobs-notes.txt")
        ops.write(theirs, "bob's\n")
        ops.chown_to(theirs, bt.BOB)
        before = ops.snapshot(self.locald)

        r = bt.call(self.user, "CleanupPath", tree)
        self.assert_error(r, E_NOT_OWNER)
        rel = os.path.relpath(theirs, self.locald)
        self.assertIn(rel, r.message)
        self.assertIn("uid %d" % bt.uid_of(bt.BOB), r.message)
        self.assertIn("nothing was removed", r.message)
        # Checked before removing: root's leftovers are all still there too.
        self.assertEqual(ops.snapshot(self.locald), before)
        lines = bt.wait_for_audit(method="CleanupPath", uid=bt.uid_of(self.user), result="error")
        self.assertTrue(any(rel in l["line"] for l in lines), lines)

        # Once bob took his file away, the rest goes.
        os.unlink(theirs)
        n = ops.count_entries(tree)
        self.assertEqual(self.cleanup_ok(tree), n)
        self.assertFalse(os.path.lexists(tree))

    def test_other_users_directory_and_link(self):
        d = os.path.join(self.locald, "mixed")
        os.makedirs(os.path.join(d, "bobsdir"))
        ops.write(os.path.join(d, "bobsdir", "inside"))
        ops.chown_to(os.path.join(d, "bobsdir"), bt.BOB)
        os.symlink("/etc/passwd", os.path.join(d, "carols-link"))
        ops.chown_to(os.path.join(d, "carols-link"), bt.CAROL)
        before = ops.snapshot(self.locald)
        r = bt.call(self.user, "CleanupPath", d)
        self.assert_error(r, E_NOT_OWNER)
        self.assertEqual(ops.snapshot(self.locald), before)
        # Named as the target, and reached through: refused the same way.
        for target in (os.path.join(d, "bobsdir"), os.path.join(d, "bobsdir", "inside"),
                       os.path.join(d, "carols-link")):
            with self.subTest(target=target):
                r = bt.call(self.user, "CleanupPath", target)
                self.assert_error(r, E_NOT_OWNER)
                self.assertEqual(ops.snapshot(self.locald), before)

    def test_sticky_shared_locald(self):
        """A world-writable sticky .locald of alice's: bob's entry stays,
        root's leftover next to it goes."""
        os.chmod(self.locald, 0o1777)
        theirs = os.path.join(self.locald, "bobs-socket-dir")
        os.mkdir(theirs)
        ops.chown_to(theirs, bt.BOB)
        leftover = ops.make_root_tree(os.path.join(self.locald, "leftover"), depth=1)
        n = ops.count_entries(leftover)
        r = bt.call(self.user, "CleanupPath", theirs)
        self.assert_error(r, E_NOT_OWNER)
        self.assertIn("bobs-socket-dir", r.message)
        self.assertTrue(os.path.isdir(theirs))
        self.assertEqual(self.cleanup_ok(leftover), n)
        self.assertTrue(os.path.isdir(theirs))


if __name__ == "__main__":
    bt.main()
