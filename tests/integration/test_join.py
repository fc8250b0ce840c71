#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""JoinCgroup on the sandbox (direct strategy), as real users: the calling
process, and only it, lands in the named cgroup below its own subtree;
missing directories are created and delegated; a caller that is denied,
not set up, or names anything outside its subtree changes nothing."""

import os
import unittest

import brokertest as bt
from test_localdctl import localdctl


def join_from_new_process(user, cgroup):
    """JoinCgroup from a fresh process of USER; returns (reply, pid, cgroup of
    that process afterwards). The process exits afterwards."""
    w = bt.Worker(user)
    try:
        r = w.request(bt._call_request("JoinCgroup", (cgroup,), None, False, bt.NO_HANG))
        where = bt.cgroup_of(w.pid) if bt.pid_alive(w.pid) else None
        return r, w.pid, where
    finally:
        w.close()


def subtree_rel(user):
    return "/%s/user-%d" % (bt.cgroup_root_rel(), bt.uid_of(user))


def tree(path):
    if not os.path.isdir(path):
        return None
    return sorted(os.path.relpath(d, path) for d, _, _ in os.walk(path))


class Join(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        bt.remove_cgroup_root()

    def setUp(self):
        self.bystander = bt.worker(bt.ALICE)  # the suite's own caller stays where it is
        self.bystander_cgroup = bt.cgroup_of(self.bystander.pid)

    def tearDown(self):
        self.assertEqual(bt.cgroup_of(self.bystander.pid), self.bystander_cgroup,
                         "a process other than the caller was moved")

    def test_1_not_set_up(self):
        r, pid, where = join_from_new_process(bt.ALICE, "svc/web")
        self.assertFalse(r.ok, r)
        self.assertEqual(r.error, "dev.locald.Broker1.Error.NotSetUp", r)
        self.assertIn("localdctl setup", r.message)
        self.assertFalse(os.path.exists(bt.user_cgroup_path(bt.ALICE)))

    def test_2_joins_and_delegates(self):
        self.assertTrue(bt.call(bt.ALICE, "SetupCgroupRoot").ok)
        uid = bt.uid_of(bt.ALICE)
        r, pid, where = join_from_new_process(bt.ALICE, "svc/web")
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value, [subtree_rel(bt.ALICE) + "/svc/web"])
        self.assertEqual(where, subtree_rel(bt.ALICE) + "/svc/web", "the caller is not where the reply says")
        for rel in ("svc", "svc/web", "svc/web/cgroup.procs", "svc/web/cgroup.subtree_control",
                    "svc/web/cgroup.threads"):
            with self.subTest(path=rel):
                self.assertEqual(os.stat(os.path.join(bt.user_cgroup_path(bt.ALICE), rel)).st_uid, uid)
        self.assertEqual(os.stat(os.path.join(bt.user_cgroup_path(bt.ALICE), "svc/web/cgroup.kill")).st_uid, 0)
        self.assertTrue(bt.wait_for_audit(method="JoinCgroup", uid=uid, result="ok"))

        # An existing cgroup is joined as it is, and the call is idempotent.
        r, pid, where = join_from_new_process(bt.ALICE, "svc/web")
        self.assertTrue(r.ok, r)
        self.assertEqual(where, subtree_rel(bt.ALICE) + "/svc/web")

    def test_3_hostile_names_change_nothing(self):
        self.assertTrue(bt.call(bt.BOB, "SetupCgroupRoot").ok)
        self.assertTrue(bt.call(bt.ALICE, "SetupCgroupRoot").ok)
        before = {u: tree(bt.user_cgroup_path(u)) for u in (bt.ALICE, bt.BOB)}
        bob = "user-%d" % bt.uid_of(bt.BOB)
        for bad in ("../" + bob, "/abs", "svc/../../" + bob, ".keeper", "svc/.x", "cgroup.procs", "",
                    "svc/", "a//b", "a\nb", "x" * 300, "a/" * 2100, "svc/cgroup.kill"):
            with self.subTest(cgroup=bad[:40]):
                r, pid, where = join_from_new_process(bt.ALICE, bad)
                self.assertFalse(r.ok, r)
                self.assertEqual(r.error, "org.freedesktop.DBus.Error.InvalidArgs", r)
        self.assertEqual({u: tree(bt.user_cgroup_path(u)) for u in (bt.ALICE, bt.BOB)}, before)

    def test_4_denied_changes_nothing(self):
        r, pid, where = join_from_new_process(bt.MALLORY, "svc/web")
        self.assertFalse(r.ok, r)
        self.assertEqual(r.error, "org.freedesktop.DBus.Error.AccessDenied", r)
        self.assertFalse(os.path.exists(bt.user_cgroup_path(bt.MALLORY)))

    def test_5_a_file_in_the_way(self):
        self.assertTrue(bt.call(bt.ALICE, "SetupCgroupRoot").ok)
        # An interface file where a directory is expected: refused, not followed.
        r, pid, where = join_from_new_process(bt.ALICE, "svc/cpu.stat/x")
        self.assertFalse(r.ok, r)
        self.assertEqual(r.error, "dev.locald.Broker1.Error.UnsafePath", r)
        self.assertNotEqual(where, subtree_rel(bt.ALICE) + "/svc/cpu.stat/x")


class LocaldctlRun(unittest.TestCase):
    """localdctl run CGROUP -- CMD: joins, then CMD runs in its place."""

    @classmethod
    def setUpClass(cls):
        bt.remove_cgroup_root()
        assert bt.call(bt.ALICE, "SetupCgroupRoot").ok

    def test_command_runs_inside(self):
        # (grep: a hybrid host lists its v1 hierarchies too)
        r = localdctl(bt.ALICE, "run", "svc/cli", "--", "grep", "^0::", "/proc/self/cgroup")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "0::%s/svc/cli\n" % subtree_rel(bt.ALICE))
        # Its children are born there too.
        r = localdctl(bt.ALICE, "run", "svc/cli", "--", "sh", "-c", "grep ^0:: /proc/self/cgroup")
        self.assertEqual(r.stdout, "0::%s/svc/cli\n" % subtree_rel(bt.ALICE))

    def test_exit_status_is_the_commands(self):
        self.assertEqual(localdctl(bt.ALICE, "run", "svc/cli", "--", "sh", "-c", "exit 7").returncode, 7)
        r = localdctl(bt.ALICE, "run", "svc/cli", "--", "/nonexistent/command")
        self.assertEqual(r.returncode, 127, r.stderr)
        self.assertIn("/nonexistent/command", r.stderr)

    def test_not_set_up_says_what_to_do(self):
        r = localdctl(bt.CAROL, "run", "svc/cli", "--", "true")
        self.assertEqual(r.returncode, 4, r.stderr)  # not ready: the report with the fix
        self.assertIn("setup", r.stdout + r.stderr)
        self.assertFalse(os.path.exists(bt.user_cgroup_path(bt.CAROL)))

    def test_hostile_and_denied(self):
        r = localdctl(bt.ALICE, "run", "../x", "--", "true")
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(bt.cgroup_root_path(), "x")))
        r = localdctl(bt.MALLORY, "run", "svc/cli", "--", "true")
        self.assertIn(r.returncode, (3, 4), r.stderr)
        self.assertEqual(localdctl(bt.ALICE, "run", "svc/cli").returncode, 2)  # no command: usage


if __name__ == "__main__":
    bt.main()
