#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""SetupCgroupRoot and KillCgroup as real unprivileged users on the real
cgroup2 hierarchy: delegation that works without privilege, kills that leave
nothing behind, and callers who try to reach beyond their own subtree."""

import os
import pwd
import signal
import subprocess
import sys
import time
import unittest

import brokertest as bt

E_BUSY = "dev.locald.Broker1.Error.Busy"


# ------------------------------------------------------------ helpers

def as_user(user, argv, **kw):
    """Starts ARGV with USER's uid, gid and groups (no PAM, no session)."""
    pw = pwd.getpwnam(user)
    return subprocess.Popen(argv, user=pw.pw_uid, group=pw.pw_gid,
                            extra_groups=os.getgrouplist(user, pw.pw_gid), **kw)


def runuser(user, script, **kw):
    """sh -c SCRIPT as USER through runuser(1); returns CompletedProcess."""
    return subprocess.run(["runuser", "-u", user, "--", "sh", "-c", script],
                          capture_output=True, text=True, timeout=bt.NO_HANG, **kw)


def move(pid, cgroup_dir):
    """Moves PID into CGROUP_DIR as root."""
    with open(os.path.join(cgroup_dir, "cgroup.procs"), "w") as f:
        f.write(str(pid))


def procs_of(cgroup_dir):
    with open(os.path.join(cgroup_dir, "cgroup.procs")) as f:
        return {int(x) for x in f.read().split()}


cgroup_of = bt.cgroup_of


def wait_dead(procs, timeout=5.0):
    """Reaps PROCS; returns their exit statuses (negative: killed by signal)."""
    out = []
    for p in procs:
        try:
            out.append(p.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            out.append(None)
    return out


def reap(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def setup_as(user):
    r = bt.call(user, "SetupCgroupRoot")
    if not r.ok:
        raise AssertionError("SetupCgroupRoot as %s failed: %r" % (user, r))
    return r.value[0]


# ------------------------------------------------------------ SetupCgroupRoot

class Setup(unittest.TestCase):
    def setUp(self):
        bt.remove_cgroup_root()

    def tearDown(self):
        bt.remove_cgroup_root()

    def test_setup_delegates_subtree(self):
        uid = bt.uid_of(bt.ALICE)
        expected = "/%s/user-%d" % (bt.cgroup_root_rel(), uid)
        self.assertEqual(setup_as(bt.ALICE), expected)
        d = bt.user_cgroup_path(bt.ALICE)
        self.assertTrue(os.path.isdir(d), d)
        self.assertEqual(os.path.join(bt.cgroup_mount(), expected.lstrip("/")), d)
        # Really a cgroup, not a plain directory.
        self.assertTrue(os.path.exists(os.path.join(d, "cgroup.events")))
        for name in ("", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"):
            with self.subTest(file=name or "."):
                self.assertEqual(os.stat(os.path.join(d, name)).st_uid, uid)
        # Nothing else handed over: the root and the user's cgroup.kill stay root's.
        self.assertEqual(os.stat(bt.cgroup_root_path()).st_uid, 0)
        for name in ("cgroup.kill", "cgroup.freeze", "cgroup.max.depth"):
            p = os.path.join(d, name)
            if os.path.exists(p):
                with self.subTest(file=name):
                    self.assertEqual(os.stat(p).st_uid, 0, "%s was delegated" % name)

    def test_setup_is_idempotent(self):
        first = setup_as(bt.ALICE)
        d = bt.user_cgroup_path(bt.ALICE)
        inode = os.stat(d).st_ino
        self.assertEqual(setup_as(bt.ALICE), first)
        self.assertEqual(os.stat(d).st_ino, inode, "the subtree was recreated")
        # Repairs a broken delegation.
        os.chown(os.path.join(d, "cgroup.procs"), 0, 0)
        self.assertEqual(setup_as(bt.ALICE), first)
        self.assertEqual(os.stat(os.path.join(d, "cgroup.procs")).st_uid, bt.uid_of(bt.ALICE))

    def test_users_get_separate_subtrees(self):
        a = setup_as(bt.ALICE)
        b = setup_as(bt.BOB)
        self.assertNotEqual(a, b)
        self.assertEqual(os.stat(bt.user_cgroup_path(bt.BOB)).st_uid, bt.uid_of(bt.BOB))
        self.assertEqual(os.stat(bt.user_cgroup_path(bt.ALICE)).st_uid, bt.uid_of(bt.ALICE))

    def test_delegation_works_without_privilege(self):
        setup_as(bt.ALICE)
        d = bt.user_cgroup_path(bt.ALICE)
        uid = bt.uid_of(bt.ALICE)
        # alice creates sub-cgroups herself.
        r = subprocess.run(["runuser", "-u", bt.ALICE, "--", "mkdir",
                            os.path.join(d, "a"), os.path.join(d, "b"),
                            os.path.join(d, "b", "nested")],
                           capture_output=True, text=True, timeout=bt.NO_HANG)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.stat(os.path.join(d, "a")).st_uid, uid)
        # A process of alice's (placed in a/ by root, like locald's daemon
        # would be) moves itself into b/nested without privilege.
        script = ('echo $$; read go; echo 0 > "$1/cgroup.procs" && echo moved; '
                  'read done')
        p = subprocess.Popen(["runuser", "-u", bt.ALICE, "--", "sh", "-c", script, "sh",
                              os.path.join(d, "b", "nested")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            shell_pid = int(p.stdout.readline())
            self.assertEqual(pwd.getpwuid(os.stat("/proc/%d" % shell_pid).st_uid).pw_name,
                             bt.ALICE)
            move(shell_pid, os.path.join(d, "a"))
            self.assertEqual(cgroup_of(shell_pid), "/%s/user-%d/a" % (bt.cgroup_root_rel(), uid))
            p.stdin.write("go\n")
            p.stdin.flush()
            line = p.stdout.readline().strip()
            if line != "moved":
                p.kill()
                self.fail("alice could not move her own process: %s" % p.stderr.read())
            self.assertEqual(cgroup_of(shell_pid),
                             "/%s/user-%d/b/nested" % (bt.cgroup_root_rel(), uid))
            self.assertIn(shell_pid, procs_of(os.path.join(d, "b", "nested")))
            # ... but not out of her subtree (no write access above it).
            r = runuser(bt.ALICE, 'echo %d > "%s/cgroup.procs"'
                        % (shell_pid, os.path.join(os.environ["LOCALD_SANDBOX_CGROUP_SCRATCH"], "procs")))
            self.assertNotEqual(r.returncode, 0, "alice moved a process out of her subtree")
        finally:
            p.kill()
            p.wait()

    def test_bob_cannot_touch_alices_subtree(self):
        setup_as(bt.ALICE)
        setup_as(bt.BOB)
        d = bt.user_cgroup_path(bt.ALICE)
        r = runuser(bt.BOB, 'mkdir "%s/intruder"' % d)
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(d, "intruder")))


# ------------------------------------------------------------ KillCgroup

class Kill(unittest.TestCase):
    def setUp(self):
        bt.remove_cgroup_root()
        self.procs = []
        setup_as(bt.ALICE)
        self.user_dir = bt.user_cgroup_path(bt.ALICE)

    def tearDown(self):
        reap(self.procs)
        bt.remove_cgroup_root()

    def mkcg(self, rel, user=bt.ALICE):
        """Creates a cgroup below alice's subtree as USER (alice: unprivileged)."""
        path = os.path.join(self.user_dir, rel)
        if user == "root":
            os.makedirs(path)
        else:
            r = subprocess.run(["runuser", "-u", user, "--", "mkdir", "-p", path],
                               capture_output=True, text=True, timeout=bt.NO_HANG)
            self.assertEqual(r.returncode, 0, r.stderr)
        return path

    def spawn(self, user, cgroup_dir, argv=("sleep", "300")):
        if user == "root":
            p = subprocess.Popen(list(argv))
        else:
            p = as_user(user, list(argv))
        self.procs.append(p)
        move(p.pid, cgroup_dir)
        return p

    def test_kill_nested_tree(self):
        svc = self.mkcg("svc")
        web = self.mkcg("svc/web")
        deep = self.mkcg("svc/web/deep/deeper")
        db = self.mkcg("svc/db")
        victims = [self.spawn(bt.ALICE, svc), self.spawn(bt.ALICE, web),
                   self.spawn(bt.ALICE, web), self.spawn(bt.ALICE, deep),
                   self.spawn(bt.ALICE, db),
                   # root-owned, placed in alice's cgroup by root
                   self.spawn("root", db), self.spawn("root", deep)]
        # A process with children of its own: both are counted and killed.
        # It forks only once it is in web/, so the children start there too.
        forker = as_user(bt.ALICE, ["sh", "-c", "read go; sleep 300 & sleep 300 & wait"],
                         stdin=subprocess.PIPE)
        self.procs.append(forker)
        move(forker.pid, web)
        forker.stdin.write(b"go\n")
        forker.stdin.flush()
        bt.wait_until(lambda: len(procs_of(web)) == 5, what="the forker's children")
        children = procs_of(web) - {p.pid for p in victims} - {forker.pid}
        self.assertEqual(len(children), 2)
        # A sibling outside the killed subtree survives.
        other = self.mkcg("other")
        bystander = self.spawn(bt.ALICE, other)

        r = bt.call(bt.ALICE, "KillCgroup", "svc")
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value[0], len(victims) + 1 + len(children), r)
        statuses = wait_dead(victims + [forker])
        self.assertEqual(statuses, [-9] * len(statuses), "not all were SIGKILLed")
        for pid in [p.pid for p in victims + [forker]] + sorted(children):
            self.assertFalse(bt.pid_alive(pid), "pid %d survived" % pid)
        for path in (deep, os.path.dirname(deep), web, db, svc):
            self.assertFalse(os.path.exists(path), "%s was not removed" % path)
        self.assertIsNone(bystander.poll(), "a process outside the subtree was killed")
        self.assertTrue(os.path.isdir(other))
        self.assertTrue(os.path.isdir(self.user_dir), "the user's subtree was removed")

    def test_kill_nested_path(self):
        leaf = self.mkcg("app/worker/1")
        parent_proc = self.spawn(bt.ALICE, os.path.dirname(leaf))
        p = self.spawn(bt.ALICE, leaf)
        r = bt.call(bt.ALICE, "KillCgroup", "app/worker/1")
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value[0], 1)
        self.assertEqual(wait_dead([p]), [-9])
        self.assertFalse(os.path.exists(leaf))
        self.assertTrue(os.path.isdir(os.path.dirname(leaf)))
        self.assertIsNone(parent_proc.poll())

    def test_kill_empty_cgroup_removes_it(self):
        cg = self.mkcg("empty/child")
        r = bt.call(bt.ALICE, "KillCgroup", "empty")
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value[0], 0)
        self.assertFalse(os.path.exists(cg))
        self.assertFalse(os.path.exists(os.path.dirname(cg)))

    def test_kill_missing_is_zero(self):
        for name in ("nothing-here", "svc/nothing/here"):
            with self.subTest(cgroup=name):
                r = bt.call(bt.ALICE, "KillCgroup", name)
                self.assertTrue(r.ok, r)
                self.assertEqual(r.value[0], 0)
        # carol never ran setup (and cannot: setup needs an admin); kill is
        # allowed by default and finds nothing.
        r = bt.call(bt.CAROL, "KillCgroup", "svc")
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value[0], 0)

    def test_bob_cannot_name_alices_cgroup(self):
        svc = self.mkcg("svc")
        victims = [self.spawn(bt.ALICE, svc), self.spawn("root", svc)]
        setup_as(bt.BOB)
        alice_uid = bt.uid_of(bt.ALICE)
        root = bt.cgroup_root_rel()
        invalid = [
            "/%s/user-%d/svc" % (root, alice_uid),
            "../user-%d/svc" % alice_uid,
            "../../%s/user-%d/svc" % (root.rsplit("/", 1)[-1], alice_uid),
            "svc/../../user-%d/svc" % alice_uid,
            "./../user-%d" % alice_uid,
            "..",
            "/",
            "",
            "svc/",
            "svc//x",
            "./svc",
            "cgroup.procs",
            "svc/cgroup.kill",
            "x" * 300,
            "svc\n../../user-%d/svc" % alice_uid,
        ]
        for bad in invalid:
            with self.subTest(cgroup=bad[:60]):
                r = bt.call(bt.BOB, "KillCgroup", bad)
                self.assertFalse(r.ok, r)
                self.assertEqual(r.error, bt.E_INVALID_ARGS, r)
                self.assertTrue(r.message)
        # Names that are syntactically fine resolve inside bob's own subtree.
        for name in ("svc", "user-%d/svc" % alice_uid):
            with self.subTest(cgroup=name):
                r = bt.call(bt.BOB, "KillCgroup", name)
                self.assertTrue(r.ok, r)
                self.assertEqual(r.value[0], 0)
        for p in victims:
            self.assertIsNone(p.poll(), "bob's call killed alice's process %d" % p.pid)
        self.assertTrue(os.path.isdir(svc))
        self.assertEqual(procs_of(svc), {p.pid for p in victims})

    def test_huge_arguments(self):
        p = self.spawn(bt.ALICE, self.mkcg("svc"))
        pid = bt.broker_pid()
        for bad in ("a/" * 2100 + "a", "x" * (1 << 20)):
            with self.subTest(length=len(bad)):
                r = bt.call(bt.ALICE, "KillCgroup", bad)
                self.assertEqual(r.error, bt.E_INVALID_ARGS, r)
        self.assertIsNone(p.poll())
        r = bt.call(bt.ALICE, "KillCgroup", "svc")
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value[0], 1)
        if pid is not None:
            self.assertEqual(bt.broker_pid(), pid, "the broker restarted")

    def test_mallory_denied(self):
        # An admin delegated a subtree to mallory by hand.
        d = bt.user_cgroup_path(bt.MALLORY)
        os.makedirs(os.path.join(d, "svc"))
        os.chown(d, bt.uid_of(bt.MALLORY), -1)
        p = as_user(bt.MALLORY, ["sleep", "300"])
        self.procs.append(p)
        move(p.pid, os.path.join(d, "svc"))
        # ... and an alice process, which mallory must not reach either.
        alice_svc = self.mkcg("svc")
        q = self.spawn(bt.ALICE, alice_svc)
        for method, args in (("KillCgroup", ("svc",)), ("SetupCgroupRoot", ()),
                             ("KillCgroup", ("../user-%d/svc" % bt.uid_of(bt.ALICE),))):
            with self.subTest(method=method, args=args):
                r = bt.call(bt.MALLORY, method, *args)
                self.assertFalse(r.ok, r)
                # Validation comes before authorization, so the '..' one is InvalidArgs.
                self.assertIn(r.error, (bt.E_ACCESS_DENIED, bt.E_INVALID_ARGS), r)
                if ".." not in "".join(args):
                    self.assertEqual(r.error, bt.E_ACCESS_DENIED, r)
        self.assertIsNone(p.poll(), "mallory's process was killed")
        self.assertIsNone(q.poll(), "alice's process was killed")
        self.assertTrue(os.path.isdir(os.path.join(d, "svc")))
        self.assertEqual(os.stat(os.path.join(d, "cgroup.procs")).st_uid, 0,
                         "denied setup delegated mallory's subtree anyway")

    def test_mallory_setup_creates_nothing(self):
        bt.remove_cgroup_root()
        r = bt.call(bt.MALLORY, "SetupCgroupRoot")
        self.assertEqual(r.error, bt.E_ACCESS_DENIED, r)
        self.assertFalse(os.path.exists(bt.cgroup_root_path()), "setup created the cgroup root")


class KillBusy(unittest.TestCase):
    """A cgroup that will not empty: Busy within the kill timeout, no hang.

    tests/integration/stuck-process leaves a process in alice's cgroup that
    sleeps uninterruptibly (state D) on a pipe lock held by a root helper
    outside her subtree, so no signal can end it until the helper goes.
    (Refilling a cgroup by moving processes in is no substitute: cgroup.kill
    outruns migration and the cgroup empties.)"""

    TIMEOUT_MS = 1500

    @classmethod
    def setUpClass(cls):
        bt.broker_args("--kill-timeout=%d" % cls.TIMEOUT_MS)
        bt.broker_stop()

    @classmethod
    def tearDownClass(cls):
        bt.broker_args()
        bt.broker_stop()

    def setUp(self):
        bt.remove_cgroup_root()
        setup_as(bt.ALICE)
        self.user_dir = bt.user_cgroup_path(bt.ALICE)
        self.busy = os.path.join(self.user_dir, "busy")
        r = subprocess.run(["runuser", "-u", bt.ALICE, "--", "mkdir", self.busy],
                           capture_output=True, text=True, timeout=bt.NO_HANG)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.hold = os.path.join(bt.env("LOCALD_SANDBOX_CGROUP_SCRATCH"), "hold-%d" % os.getpid())
        os.makedirs(self.hold, exist_ok=True)
        self.holder = None

    def tearDown(self):
        self.release()
        bt.remove_cgroup_root()
        if os.path.isdir(self.hold):
            bt.wait_until(lambda: not procs_of(self.hold), what="the holder cgroup to empty")
            os.rmdir(self.hold)

    def release(self):
        if self.holder is not None:
            try:
                os.kill(self.holder, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.holder = None

    def test_cgroup_that_will_not_empty_is_busy(self):
        helper = os.path.join(bt.BUILDDIR, "tests", "integration", "stuck-process")
        r = subprocess.run([helper, self.hold, self.busy], capture_output=True, text=True,
                           timeout=bt.NO_HANG)
        if r.returncode == 77:
            self.skipTest("userfaultfd is not available to build an unkillable process")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.holder, stuck = (int(x) for x in r.stdout.split())
        self.assertIn(stuck, procs_of(self.busy))

        t0 = time.monotonic()
        r = bt.call(bt.ALICE, "KillCgroup", "busy", timeout=30)
        elapsed = time.monotonic() - t0
        self.assertFalse(r.ok, "KillCgroup succeeded on a cgroup that cannot empty: %r" % (r,))
        self.assertEqual(r.error, E_BUSY, r)
        self.assertIn("1 process", r.message)
        self.assertGreaterEqual(elapsed, self.TIMEOUT_MS / 1000.0 * 0.9, "gave up early")
        self.assertLess(elapsed, self.TIMEOUT_MS / 1000.0 + 5.0, "took far longer than the kill timeout")
        self.assertTrue(os.path.isdir(self.busy), "a busy cgroup was removed")
        frozen = os.path.join(self.busy, "cgroup.freeze")
        if os.path.exists(frozen):
            with open(frozen) as f:
                self.assertEqual(f.read().strip(), "0", "Busy left the cgroup frozen")
        # The broker still answers others meanwhile.
        self.assertTrue(bt.call(bt.BOB, "SelfCheck").ok)

        # Once the lock is released the process can die: the same call succeeds.
        self.release()
        r = bt.call(bt.ALICE, "KillCgroup", "busy")
        self.assertTrue(r.ok, r)
        self.assertFalse(os.path.exists(self.busy))
        self.assertFalse(bt.pid_alive(stuck))


if __name__ == "__main__":
    bt.main()
