#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""SelfCheck and SetupCgroupRoot in the sandbox (direct strategy)."""

import os
import pwd
import subprocess
import unittest

import brokertest as bt

SEVERITIES = {"critical", "warning", "info"}


class SelfCheck(unittest.TestCase):
    def self_check(self, user):
        r = bt.call(user, "SelfCheck")
        self.assertTrue(r.ok, r)
        self.assertEqual(len(r.value), 5, r)
        strategy, reason, mode, problems, facts = r.value
        # Shape of the report, whatever the state.
        self.assertEqual(strategy, "direct")
        self.assertTrue(reason, "empty strategy_reason")
        self.assertIn(mode, ("enabled", "degraded"))
        self.assertIsInstance(facts, dict)
        self.assertTrue(facts, "no facts")
        by_id = {}
        for p in problems:
            self.assertEqual(len(p), 5, p)
            pid, severity, summary, evidence, fix = p
            self.assertTrue(pid, p)
            self.assertIn(severity, SEVERITIES, p)
            self.assertTrue(summary, p)
            self.assertIsInstance(evidence, dict, p)
            self.assertTrue(fix, p)
            by_id[pid] = p
        critical = [p for p in problems if p[1] == "critical"]
        self.assertEqual(mode == "degraded", bool(critical),
                         "mode %s does not match critical problems %r" % (mode, critical))
        return mode, by_id, facts

    def assert_problem(self, by_id, pid, severity, fix):
        self.assertIn(pid, by_id, "problem %s missing from %r" % (pid, sorted(by_id)))
        p = by_id[pid]
        self.assertEqual(p[1], severity, p)
        self.assertEqual(p[4], fix, p)
        self.assertTrue(p[3], "problem %s has no evidence" % pid)

    def setup_cgroup(self, user):
        r = bt.call(user, "SetupCgroupRoot")
        self.assertTrue(r.ok, r)
        expected = "/%s/user-%d" % (bt.cgroup_root_rel(), bt.uid_of(user))
        self.assertEqual(r.value, [expected])
        return r.value[0]

    def test_1_degraded_before_setup(self):
        bt.remove_cgroup_root()
        mode, by_id, facts = self.self_check(bt.ALICE)
        self.assertEqual(mode, "degraded")
        self.assert_problem(by_id, "cgroup.root_ready", "critical", "run_admin_setup")
        self.assertNotIn("cgroup.v2", by_id)
        for pid in ("privilege.capabilities", "cgroup.root_writable"):
            if pid in by_id:
                self.assertNotEqual(by_id[pid][1], "critical", by_id[pid])
        # A self-check changes nothing on the host.
        self.assertFalse(os.path.exists(bt.cgroup_root_path()),
                         "SelfCheck created the cgroup root")

    def test_2_enabled_after_setup(self):
        bt.remove_cgroup_root()
        path = self.setup_cgroup(bt.ALICE)
        mnt = bt.cgroup_mount()
        full = mnt + path
        uid = bt.uid_of(bt.ALICE)
        self.assertTrue(os.path.isdir(full))
        for name in ("", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"):
            self.assertEqual(os.stat(os.path.join(full, name)).st_uid, uid,
                             "%s is not delegated to alice" % (name or "the directory"))
        mode, by_id, _ = self.self_check(bt.ALICE)
        self.assertEqual(mode, "enabled", by_id)
        self.assertFalse([p for p in by_id.values() if p[1] == "critical"])
        # Idempotent.
        self.assertEqual(self.setup_cgroup(bt.ALICE), path)
        self.assertTrue(bt.wait_for_audit(method="SetupCgroupRoot", uid=uid, result="ok"),
                        "no audit line for alice's SetupCgroupRoot")

    def test_3_user_delegated_missing_for_other_user(self):
        bt.remove_cgroup_root()
        self.setup_cgroup(bt.ALICE)
        mode, by_id, _ = self.self_check(bt.BOB)
        self.assertEqual(mode, "degraded")
        self.assertNotIn("cgroup.root_ready", by_id)
        self.assert_problem(by_id, "cgroup.user_delegated", "critical", "run_admin_setup")
        self.setup_cgroup(bt.BOB)
        mode, by_id, _ = self.self_check(bt.BOB)
        self.assertEqual(mode, "enabled", by_id)

    def test_4_delegated_subtree_is_usable(self):
        bt.remove_cgroup_root()
        path = self.setup_cgroup(bt.ALICE)
        full = bt.cgroup_mount() + path
        # alice herself can create a child cgroup in her subtree.
        pw = pwd.getpwnam(bt.ALICE)
        subprocess.run(["mkdir", os.path.join(full, "svc")], check=True,
                       user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        self.assertTrue(os.path.isdir(os.path.join(full, "svc")))

if __name__ == "__main__":
    bt.main()
