#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""locald's flow end to end on the sandbox (direct strategy), as an
unprivileged user through the client library: set up once (granted by the
shipped example rule for group "locald"), join, start services, kill them,
clean up root-owned leftovers; then a later session is ready at once. The
same lane runs under real systemd in tests/systemd-box/."""

import grp
import os
import pwd
import subprocess
import sys
import unittest

import brokertest as bt

SRCDIR = os.path.abspath(os.environ.get("top_srcdir", "."))
BUILDDIR = os.path.abspath(os.environ.get("top_builddir", "."))
sys.path.insert(0, os.path.join(SRCDIR, "tests", "flow"))
import flowdriver  # noqa: E402

FLOW = os.path.join(SRCDIR, "tests", "flow", "locald-flow.py")
EXAMPLE_RULES = os.path.join(SRCDIR, "polkit", "50-locald-broker.rules.example")
# carol has only the policy defaults: setup (auth_admin_keep) is hers only
# through the example rule, once she is in group "locald".
USER = bt.CAROL


def user_env(user):
    pw = pwd.getpwnam(user)
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": pw.pw_dir, "USER": user,
            "DBUS_SYSTEM_BUS_ADDRESS": bt.env("DBUS_SYSTEM_BUS_ADDRESS"),
            "GI_TYPELIB_PATH": os.path.join(BUILDDIR, "client"),
            "LD_LIBRARY_PATH": os.path.join(BUILDDIR, "client", ".libs")}


class SandboxHost:
    cgroup_mount = None

    def __init__(self):
        self.cgroup_mount = bt.cgroup_mount()
        self.root_processes = []

    def run_root(self, argv):
        return subprocess.run(argv, capture_output=True, text=True, timeout=bt.NO_HANG)

    def _user_kw(self, user):
        pw = pwd.getpwnam(user)
        return dict(env=user_env(user), user=pw.pw_uid, group=pw.pw_gid,
                    extra_groups=os.getgrouplist(user, pw.pw_gid), cwd=pw.pw_dir)

    def run_user(self, user, argv):
        return subprocess.run(argv, capture_output=True, text=True, timeout=bt.NO_HANG, **self._user_kw(user))

    def spawn_flow(self, user):
        return subprocess.Popen([bt.gi_python() or "/usr/bin/python3", FLOW], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, **self._user_kw(user))

    def start_root_process(self, cgroup_dir):
        p = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        with open(os.path.join(cgroup_dir, "cgroup.procs"), "w") as f:
            f.write("%d" % p.pid)
        self.root_processes.append(p)
        return p.pid

    def uid_of(self, user):
        return bt.uid_of(user)

    def home_of(self, user):
        return bt.home_of(user)


class LocaldFlow(unittest.TestCase):
    created_group = False

    @classmethod
    def setUpClass(cls):
        bt.remove_cgroup_root()
        try:
            grp.getgrnam("locald")
        except KeyError:
            subprocess.run(["groupadd", "--system", "locald"], check=True)
            cls.created_group = True
        try:
            subprocess.run(["gpasswd", "-a", USER, "locald"], check=True, capture_output=True)
            with open(EXAMPLE_RULES) as f:
                bt.add_rule("50-locald-broker", f.read())
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        bt.remove_rule("50-locald-broker")
        subprocess.run(["gpasswd", "-d", USER, "locald"], capture_output=True)
        if cls.created_group:
            subprocess.run(["groupdel", "locald"], check=True)
        bt.remove_cgroup_root()

    def test_flow_direct_strategy(self):
        subtree = flowdriver.run_locald_flow(self, SandboxHost(), USER, "direct")
        self.assertEqual(subtree, "/%s/user-%d" % (bt.cgroup_root_rel(), bt.uid_of(USER)))
        # KillCgroup of the user's own cgroups runs on the library's fast path
        # (cgroup.kill as the delegatee) and needs no broker call to audit.
        for method in ("SetupCgroupRoot", "JoinCgroup", "CleanupPath"):
            self.assertTrue(bt.wait_for_audit(method=method, uid=bt.uid_of(USER), result="ok"),
                            "no audit entry for %s" % method)

    def test_without_the_rule_setup_is_refused(self):
        other = bt.MALLORY  # denied everything by the sandbox's rules
        host = SandboxHost()
        flow = flowdriver.Flow(host.spawn_flow(other))
        try:
            a = flow.ask("acquire")
            self.assertFalse(a["ok"], a)
        finally:
            flow.close()
        self.assertFalse(os.path.exists(bt.user_cgroup_path(other)))


if __name__ == "__main__":
    bt.main()
