#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A caller polkit refuses (ldt-mallory) gets AccessDenied and nothing happens;
malformed input is refused with InvalidArgs."""

import os
import pwd
import subprocess
import unittest

import brokertest as bt


def as_user(user, argv, **kw):
    pw = pwd.getpwnam(user)
    return subprocess.Popen(argv, user=pw.pw_uid, group=pw.pw_gid,
                            extra_groups=os.getgrouplist(user, pw.pw_gid), **kw)


def make_tree(user, base):
    """BASE/.locald/tmp/{file,sub/file} owned by USER; returns the tmp path."""
    pw = pwd.getpwnam(user)
    target = os.path.join(base, ".locald", "tmp")
    os.makedirs(os.path.join(target, "sub"))
    for d in (base, os.path.join(base, ".locald"), target, os.path.join(target, "sub")):
        os.chown(d, pw.pw_uid, pw.pw_gid)
    for f in ("file", "sub/file"):
        with open(os.path.join(target, f), "w") as fh:
            fh.write("x\n")
    return target


class Denied(unittest.TestCase):
    def setUp(self):
        self.uid = bt.uid_of(bt.MALLORY)
        self.home = bt.home_of(bt.MALLORY)

    def assert_denied(self, r):
        self.assertFalse(r.ok, r)
        self.assertEqual(r.error, bt.E_ACCESS_DENIED, r)
        self.assertTrue(r.message, "AccessDenied without a message")

    def assert_audited_denied(self, method):
        lines = bt.wait_for_audit(method=method, uid=self.uid)
        self.assertTrue(lines, "no audit line for mallory's %s" % method)
        self.assertEqual({l["result"] for l in lines}, {"denied"}, lines)
        for l in lines:
            self.assertTrue(l.get("sender", "").startswith(":"), l)

    def test_self_check_denied(self):
        self.assert_denied(bt.call(bt.MALLORY, "SelfCheck"))

    def test_setup_denied_creates_nothing(self):
        bt.remove_cgroup_root()
        self.assert_denied(bt.call(bt.MALLORY, "SetupCgroupRoot"))
        self.assert_denied(bt.call(bt.MALLORY, "SetupCgroupRoot", interactive=True))
        self.assertFalse(os.path.exists(bt.cgroup_root_path()), "setup created the cgroup root")
        self.assert_audited_denied("SetupCgroupRoot")

    def test_kill_denied_kills_nothing(self):
        # An admin delegated a subtree to mallory by hand; a service runs in it.
        bt.remove_cgroup_root()
        svc = os.path.join(bt.user_cgroup_path(bt.MALLORY), "svc")
        os.makedirs(svc)
        proc = as_user(bt.MALLORY, ["sleep", "300"])
        try:
            with open(os.path.join(svc, "cgroup.procs"), "w") as f:
                f.write(str(proc.pid))
            self.assert_denied(bt.call(bt.MALLORY, "KillCgroup", "svc"))
            self.assertIsNone(proc.poll(), "mallory's process was killed")
            self.assertTrue(os.path.isdir(svc), "the cgroup was removed")
            self.assert_audited_denied("KillCgroup")
        finally:
            proc.kill()
            proc.wait()
            bt.remove_cgroup_root()

    def test_cleanup_denied_removes_nothing(self):
        target = make_tree(bt.MALLORY, os.path.join(self.home, "proj-denied"))
        self.assert_denied(bt.call(bt.MALLORY, "CleanupPath", target))
        self.assertTrue(os.path.exists(os.path.join(target, "file")))
        self.assertTrue(os.path.exists(os.path.join(target, "sub", "file")))
        self.assert_audited_denied("CleanupPath")
        lines = bt.audit_lines(method="CleanupPath", uid=self.uid)
        self.assertTrue(any(target in l["line"] for l in lines),
                        "the audit line does not name the argument: %r" % lines)

    def test_granted_user_is_not_denied(self):
        # Same calls from alice go through: the refusal above is polkit's.
        r = bt.call(bt.ALICE, "SelfCheck")
        self.assertTrue(r.ok, r)
        target = make_tree(bt.ALICE, os.path.join(bt.home_of(bt.ALICE), "proj-granted"))
        r = bt.call(bt.ALICE, "CleanupPath", target)
        self.assertTrue(r.ok, r)
        self.assertGreaterEqual(r.value[0], 3, r)
        self.assertFalse(os.path.exists(target))
        self.assertTrue(os.path.isdir(os.path.dirname(target)), ".locald itself was removed")

    def test_rule_added_at_runtime_takes_effect(self):
        # The broker asks polkit on every call; it caches no answer.
        self.assertTrue(bt.call(bt.CAROL, "SelfCheck").ok)
        bt.add_rule("60-deny-carol", """
polkit.addRule(function(action, subject) {
    if (action.id == "dev.locald.broker.self-check" && subject.user == "ldt-carol")
        return polkit.Result.NO;
});
""")
        try:
            self.assert_denied(bt.call(bt.CAROL, "SelfCheck"))
            self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
        finally:
            bt.remove_rule("60-deny-carol")
        r = bt.call(bt.CAROL, "SelfCheck")
        self.assertTrue(r.ok, r)


class InvalidInput(unittest.TestCase):
    def assert_invalid(self, r):
        self.assertFalse(r.ok, r)
        self.assertEqual(r.error, bt.E_INVALID_ARGS, r)
        self.assertTrue(r.message)

    def test_kill_bad_paths(self):
        for bad in ("", "/abs", "../x", "svc/../..", "a//b"):
            with self.subTest(cgroup=bad):
                self.assert_invalid(bt.call(bt.ALICE, "KillCgroup", bad))

    def test_cleanup_bad_paths(self):
        for bad in ("", "relative/.locald/x", "/tmp/../etc/.locald/x"):
            with self.subTest(path=bad):
                self.assert_invalid(bt.call(bt.ALICE, "CleanupPath", bad))


if __name__ == "__main__":
    bt.main()
