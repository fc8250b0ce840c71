#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The broker's systemd strategy end to end, in the sandbox: the real broker
started with --strategy=systemd on the sandbox's bus (real bus policy, real
polkitd), called by real unprivileged users, talking to the systemd manager
API over D-Bus.

systemd is MOCKED: PID 1 is not systemd on the test machines and systemd
cannot run as PID 1 here, so tests/unit/systemd-manager-mock.py owns
org.freedesktop.systemd1 instead (root only, allowed by the test-only
tests/sandbox/systemd-mock.conf). The mock does the cgroup work systemd would
(creates the scope below the sandbox's scratch cgroup, moves the PIDs in,
chowns the delegated files to User=) and records every call, so the tests
check both what the broker asked for and what came of it.

The broker's cgroup root is <scratch>/locald.slice (--cgroup-root), so the
delegated subtree of uid U is /<scratch>/locald.slice/locald-user-U.scope.
"""

import json
import os
import pwd
import signal
import subprocess
import time
import unittest

import brokertest as bt

MOCK = os.path.join(bt.SRCDIR, "tests", "unit", "systemd-manager-mock.py")
SYSTEMD = "org.freedesktop.systemd1"
E_FAILED = "dev.locald.Broker1.Error.Failed"
E_PREFIX = "dev.locald.Broker1.Error."


# ------------------------------------------------------------ layout

def scratch_rel():
    return os.path.relpath(bt.env("LOCALD_SANDBOX_CGROUP_SCRATCH"), bt.cgroup_mount())


def slice_rel():
    """The broker's --cgroup-root in this suite: <scratch>/locald.slice."""
    return scratch_rel() + "/locald.slice"


def slice_dir():
    return os.path.join(bt.cgroup_mount(), slice_rel())


def elsewhere_dir():
    """Where the misplacing mock puts scopes: not where the broker looks."""
    return os.path.join(bt.env("LOCALD_SANDBOX_CGROUP_SCRATCH"), "elsewhere.slice")


def unit_of(user):
    return "locald-user-%d.scope" % bt.uid_of(user)


def scope_cgroup(user):
    """ControlGroup (relative to the mount) the broker must return for USER."""
    return "/%s/%s" % (slice_rel(), unit_of(user))


def scope_dir(user):
    return os.path.join(bt.cgroup_mount(), scope_cgroup(user).lstrip("/"))


# ------------------------------------------------------------ cgroup helpers

cgroup_of = bt.cgroup_of


def procs_of(cgroup_dir):
    with open(os.path.join(cgroup_dir, "cgroup.procs")) as f:
        return {int(x) for x in f.read().split()}


def move(pid, cgroup_dir):
    with open(os.path.join(cgroup_dir, "cgroup.procs"), "w") as f:
        f.write(str(pid))


def keeper_of(user):
    """The keeper process in USER's scope (<scope>/.keeper), or None."""
    try:
        pids = procs_of(os.path.join(scope_dir(user), ".keeper"))
    except FileNotFoundError:
        return None
    return pids.pop() if len(pids) == 1 else None


def destroy_cgroup(path):
    """Kills everything below PATH, waits until empty, rmdirs bottom-up."""
    if not os.path.isdir(path):
        return
    with open(os.path.join(path, "cgroup.kill"), "w") as f:
        f.write("1")

    def empty():
        with open(os.path.join(path, "cgroup.events")) as f:
            return "populated 0" in f.read().splitlines()
    bt.wait_until(empty, what="%s to be empty" % path)
    for dirpath, _, _ in sorted(os.walk(path), key=lambda t: -t[0].count("/")):
        os.rmdir(dirpath)


def as_user(user, argv, **kw):
    pw = pwd.getpwnam(user)
    return subprocess.Popen(argv, user=pw.pw_uid, group=pw.pw_gid,
                            extra_groups=os.getgrouplist(user, pw.pw_gid), **kw)


def mkdir_as(user, path):
    r = subprocess.run(["runuser", "-u", user, "--", "mkdir", "-p", path],
                       capture_output=True, text=True, timeout=bt.NO_HANG)
    if r.returncode != 0:
        raise AssertionError("mkdir %s as %s failed: %s" % (path, user, r.stderr))


# ------------------------------------------------------------ the mock

class MockManager:
    """tests/unit/systemd-manager-mock.py as root on the sandbox's bus."""

    def __init__(self, *extra):
        d = bt.env("LOCALD_SANDBOX_DIR")
        self.record = os.path.join(d, "systemd-mock-calls.json")
        self.ready = os.path.join(d, "systemd-mock.ready")
        self.log = os.path.join(d, "systemd-mock.log")
        for p in (self.record, self.ready):
            if os.path.exists(p):
                os.unlink(p)
        python = bt.gi_python()
        if not python:
            raise unittest.SkipTest("no python3 with PyGObject for the systemd mock")
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [python, MOCK, "--record", self.record, "--record-format", "json",
                 "--ready", self.ready, "--slice-dir", slice_dir()] + list(extra),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            bt.wait_until(lambda: os.path.exists(self.ready) or self.proc.poll() is not None,
                          what="the systemd mock to own %s" % SYSTEMD)
            if self.proc.poll() is not None:
                with open(self.log) as f:
                    raise AssertionError("the systemd mock exited (%s): %s"
                                         % (self.proc.returncode, f.read()[-2000:]))
        except BaseException:
            self.stop()
            raise

    def calls(self, method=None):
        try:
            with open(self.record) as f:
                calls = [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []
        return [c for c in calls if method is None or c["method"] == method]

    def freeze(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        bt.wait_until(lambda: not bt.name_has_owner(SYSTEMD), what="%s to be released" % SYSTEMD)


# ------------------------------------------------------------ module fixture

def setUpModule():
    bt.broker_args("--strategy=systemd", "--cgroup-root=%s" % slice_rel())
    bt.broker_stop()


def tearDownModule():
    bt.broker_args()
    bt.broker_stop()
    destroy_cgroup(slice_dir())
    destroy_cgroup(elsewhere_dir())


class Base(unittest.TestCase):
    MOCK_ARGS = ()

    def setUp(self):
        destroy_cgroup(slice_dir())
        destroy_cgroup(elsewhere_dir())
        self.procs = []
        self.mock = MockManager(*self.MOCK_ARGS) if self.MOCK_ARGS is not None else None

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        if self.mock is not None:
            self.mock.stop()
        destroy_cgroup(slice_dir())
        destroy_cgroup(elsewhere_dir())

    def setup_from_new_process(self, user):
        """SetupCgroupRoot as USER from a fresh process (its pid is what the
        broker hands to systemd as PIDs=, and what gets moved into the
        scope, so the suite's long-lived per-user caller stays out of it).
        Returns (reply, caller pid, caller's cgroup after the reply); the
        caller exits afterwards."""
        h = bt.call_async(user, "SetupCgroupRoot", start=False)
        try:
            h.start(h.request)
            r = h.worker.receive(bt.NO_HANG + 5)
            where = cgroup_of(h.pid) if bt.pid_alive(h.pid) else None
            alive = bt.pid_alive(h.pid)
        finally:
            h.worker.close()
        self.assertTrue(alive, "the calling process died during SetupCgroupRoot")
        return r, h.pid, where

    def spawn(self, user, cgroup_dir):
        p = as_user(user, ["sleep", "300"]) if user != "root" else subprocess.Popen(["sleep", "300"])
        self.procs.append(p)
        move(p.pid, cgroup_dir)
        return p


# ------------------------------------------------------------ strategy reporting

class Reporting(Base):
    MOCK_ARGS = None  # needs no manager: nothing here talks to systemd

    def test_selfcheck_reports_systemd(self):
        r = bt.call(bt.ALICE, "SelfCheck")
        self.assertTrue(r.ok, r)
        strategy, reason, mode, problems, facts = r.value
        self.assertEqual(strategy, "systemd")
        self.assertTrue(reason, "no strategy reason")
        self.assertIn("--strategy=systemd", reason)
        self.assertEqual(facts.get("strategy"), "systemd", facts)
        self.assertEqual(facts.get("cgroup_root"), "/" + slice_rel(), facts)
        # Nothing created by a self-check.
        self.assertFalse(os.path.exists(slice_dir()), "SelfCheck created the slice")

    def test_properties(self):
        r = bt.get_property(bt.ALICE, "Strategy")
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value, "systemd")
        r = bt.get_property(bt.ALICE, "CgroupRoot")
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value, "/" + slice_rel())


# ------------------------------------------------------------ a well-behaved manager

class Setup(Base):
    def test_setup_creates_delegated_scope(self):
        uid = bt.uid_of(bt.ALICE)
        r, caller, where = self.setup_from_new_process(bt.ALICE)
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value, [scope_cgroup(bt.ALICE)])

        # What the broker asked systemd for.
        starts = self.mock.calls("StartTransientUnit")
        self.assertEqual(len(starts), 1, starts)
        call = starts[0]
        self.assertEqual(call["name"], unit_of(bt.ALICE))
        self.assertEqual(call["mode"], "fail")
        self.assertEqual(call["outcome"], "created")
        # From the broker (it talks to systemd on a connection of its own).
        self.assertEqual((call["sender_uid"], call["sender_pid"]), (0, bt.broker_pid()),
                         "not the broker's call")
        props = call["properties"]
        self.assertEqual(props.get("Slice"), "locald.slice", props)
        self.assertIs(props.get("Delegate"), True, props)
        # The scope starts with a keeper of its own, not with the caller
        # (which exits right away: systemd would then remove the scope).
        keeper = keeper_of(bt.ALICE)
        self.assertIsNotNone(keeper, "no keeper in the scope")
        self.assertEqual(props.get("PIDs"), [keeper], props)
        self.assertNotEqual(keeper, caller)
        self.assertEqual(props.get("User"), str(uid), props)
        self.assertTrue(props.get("Description"), props)
        self.assertEqual([c["name"] for c in self.mock.calls("GetUnit")], [unit_of(bt.ALICE)])

        # What came of it: a real scope cgroup, delegated to alice, holding the caller.
        d = scope_dir(bt.ALICE)
        self.assertTrue(os.path.isdir(d), d)
        self.assertNotEqual(where, scope_cgroup(bt.ALICE), "the caller was moved into its scope")
        self.assertEqual(procs_of(d), set(), "processes in the scope's top")
        self.assertEqual(os.stat(os.path.join(d, ".keeper")).st_uid, 0)
        for name in ("", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"):
            with self.subTest(file=name or "."):
                self.assertEqual(os.stat(os.path.join(d, name)).st_uid, uid)
        self.assertEqual(os.stat(os.path.join(d, "cgroup.kill")).st_uid, 0)
        self.assertEqual(os.stat(slice_dir()).st_uid, 0)
        self.assertTrue(bt.wait_for_audit(method="SetupCgroupRoot", uid=uid, result="ok"),
                        "no audit line for alice's SetupCgroupRoot")

        # SelfCheck now finds alice's subtree delegated.
        r = bt.call(bt.ALICE, "SelfCheck")
        self.assertTrue(r.ok, r)
        ids = {p[0]: p for p in r.value[3]}
        self.assertNotIn("cgroup.user_delegated", ids)
        self.assertEqual(r.value[4].get("user_cgroup"), scope_cgroup(bt.ALICE))

        # Idempotent: the scope is kept alive, so only its place is asked for.
        inode = os.stat(d).st_ino
        r = bt.call(bt.ALICE, "SetupCgroupRoot")
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value, [scope_cgroup(bt.ALICE)])
        starts = self.mock.calls("StartTransientUnit")
        self.assertEqual([c["outcome"] for c in starts], ["created"])
        self.assertEqual(len(self.mock.calls("GetUnit")), 2)
        self.assertEqual(keeper_of(bt.ALICE), keeper)
        self.assertEqual(os.stat(d).st_ino, inode, "the scope was recreated")
        self.assertNotIn(bt.worker(bt.ALICE).pid, procs_of(d),
                         "an existing scope took in the second caller")

    def test_users_get_their_own_scopes(self):
        a, _, _ = self.setup_from_new_process(bt.ALICE)
        b, _, _ = self.setup_from_new_process(bt.BOB)
        self.assertTrue(a.ok and b.ok, (a, b))
        self.assertEqual(b.value, [scope_cgroup(bt.BOB)])
        self.assertNotEqual(a.value, b.value)
        self.assertEqual(os.stat(scope_dir(bt.BOB)).st_uid, bt.uid_of(bt.BOB))
        # bob cannot create cgroups in alice's scope.
        r = subprocess.run(["runuser", "-u", bt.BOB, "--", "mkdir",
                            os.path.join(scope_dir(bt.ALICE), "intruder")],
                           capture_output=True, text=True, timeout=bt.NO_HANG)
        self.assertNotEqual(r.returncode, 0)

    def test_denied_user_reaches_no_manager(self):
        r = bt.call(bt.MALLORY, "SetupCgroupRoot")
        self.assertEqual(r.error, bt.E_ACCESS_DENIED, r)
        self.assertEqual(self.mock.calls(), [], "the broker called systemd for a denied caller")
        self.assertFalse(os.path.exists(slice_dir()))

    def test_only_root_may_use_the_manager_name(self):
        # The test-only bus policy grants the mock's name to root alone.
        for user in (bt.ALICE, bt.MALLORY):
            with self.subTest(user=user):
                r = bt.worker(user).request({
                    "op": "raw", "dest": SYSTEMD, "path": "/org/freedesktop/systemd1",
                    "interface": "org.freedesktop.systemd1.Manager", "method": "GetUnit",
                    "signature": "s", "args": [unit_of(bt.ALICE)]})
                self.assertEqual(r.error, bt.E_ACCESS_DENIED, r)
                r = bt.bus_call("RequestName", "su", "org.freedesktop.systemd1", 4, user=user)
                self.assertEqual(r.error, bt.E_ACCESS_DENIED, r)
        self.assertEqual(self.mock.calls(), [])


class Kill(Base):
    def test_kill_in_scope(self):
        r, _, _ = self.setup_from_new_process(bt.ALICE)
        self.assertTrue(r.ok, r)
        d = scope_dir(bt.ALICE)
        # alice builds her own tree in the delegated scope, unprivileged.
        svc = os.path.join(d, "svc")
        web = os.path.join(svc, "web")
        other = os.path.join(d, "other")
        for path in (web, other):
            mkdir_as(bt.ALICE, path)
        victims = [self.spawn(bt.ALICE, svc), self.spawn(bt.ALICE, web),
                   self.spawn(bt.ALICE, web), self.spawn("root", web)]
        bystander = self.spawn(bt.ALICE, other)

        r = bt.call(bt.ALICE, "KillCgroup", "svc")
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value, [len(victims)])
        for p in victims:
            self.assertEqual(p.wait(timeout=5), -signal.SIGKILL)
        self.assertFalse(os.path.exists(web), "svc/web was not removed")
        self.assertFalse(os.path.exists(svc), "svc was not removed")
        self.assertIsNone(bystander.poll(), "a process outside svc was killed")
        self.assertTrue(os.path.isdir(d), "the scope itself was removed")
        # The kill went through the cgroup tree, not through systemd.
        self.assertEqual(self.mock.calls("StartTransientUnit")[-1]["outcome"], "created")
        self.assertEqual(len(self.mock.calls()), 2, self.mock.calls())

        # bob names the same relative path: it resolves in his own (absent) scope.
        victim = self.spawn(bt.ALICE, other)
        r = bt.call(bt.BOB, "KillCgroup", "other")
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value, [0])
        r = bt.call(bt.BOB, "KillCgroup", "../%s/other" % unit_of(bt.ALICE))
        self.assertEqual(r.error, bt.E_INVALID_ARGS, r)
        self.assertIsNone(victim.poll())
        self.assertIsNone(bystander.poll())


# ------------------------------------------------------------ a manager that misplaces the scope

class Misplaced(Base):
    @property
    def MOCK_ARGS(self):
        return ("--misplace-into", elsewhere_dir())

    def test_scope_elsewhere_is_refused(self):
        uid = bt.uid_of(bt.ALICE)
        misplaced = "/%s/elsewhere.slice/%s" % (scratch_rel(), unit_of(bt.ALICE))
        r, caller, where = self.setup_from_new_process(bt.ALICE)
        self.assertFalse(r.ok, r)
        self.assertEqual(r.error, E_FAILED, r)
        self.assertIn(misplaced, r.message)
        self.assertIn(scope_cgroup(bt.ALICE), r.message)
        # The "systemd" did its part (scope created there, the keeper moved
        # in); the broker created nothing, and took its keeper back.
        self.assertEqual(self.mock.calls("StartTransientUnit")[0]["outcome"], "created")
        self.assertNotEqual(where, misplaced)
        misplaced_procs = os.path.join(bt.cgroup_mount(), misplaced.lstrip("/"))
        bt.wait_until(lambda: not any(bt.pid_alive(p) for p in procs_of(misplaced_procs)),
                      what="the keeper of the refused scope to be killed")
        self.assertFalse(os.path.exists(slice_dir()), "the broker created the slice anyway")
        self.assertTrue(bt.wait_for_audit(method="SetupCgroupRoot", uid=uid, result="error"),
                        "no audit line for the refused setup")

        # KillCgroup does not reach into the misplaced scope either.
        misplaced_dir = os.path.join(bt.cgroup_mount(), misplaced.lstrip("/"))
        svc = os.path.join(misplaced_dir, "svc")
        os.mkdir(svc)
        p = self.spawn(bt.ALICE, svc)
        r = bt.call(bt.ALICE, "KillCgroup", "svc")
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value, [0])
        self.assertIsNone(p.poll(), "a process in the misplaced scope was killed")
        self.assertTrue(os.path.isdir(svc))

        # The second call (UnitExists, then GetUnit) is refused the same way.
        r = bt.call(bt.ALICE, "SetupCgroupRoot")
        self.assertEqual(r.error, E_FAILED, r)
        self.assertIn(misplaced, r.message)
        self.assertEqual([c["outcome"] for c in self.mock.calls("StartTransientUnit")],
                         ["created", "exists"])
        self.assertFalse(os.path.exists(slice_dir()))


# ------------------------------------------------------------ no manager, or a stuck one

class NoManager(Base):
    MOCK_ARGS = None

    def test_absent_manager_fails_fast(self):
        self.assertFalse(bt.name_has_owner(SYSTEMD))
        t0 = time.monotonic()
        r = bt.call(bt.ALICE, "SetupCgroupRoot")
        elapsed = time.monotonic() - t0
        self.assertFalse(r.ok, r)
        self.assertTrue(r.error.startswith(E_PREFIX), r)
        self.assertIn(SYSTEMD, r.message)
        self.assertIn(unit_of(bt.ALICE), r.message)
        self.assertLess(elapsed, 5.0, "an absent systemd took %.1f s to report" % elapsed)
        self.assertFalse(os.path.exists(slice_dir()))
        # The broker still serves.
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)

    def test_stuck_manager_is_bounded(self):
        mock = MockManager()
        try:
            mock.freeze()
            t0 = time.monotonic()
            h = bt.call_async(bt.ALICE, "SetupCgroupRoot", timeout=30)
            # Other callers are not held up meanwhile.
            time.sleep(0.3)
            t1 = time.monotonic()
            self.assertTrue(bt.call(bt.BOB, "SelfCheck").ok)
            self.assertLess(time.monotonic() - t1, 5.0, "SelfCheck waited for the stuck setup")
            r = h.result()
            elapsed = time.monotonic() - t0
            # (Checked before the mock resumes: it then serves the stale
            # request, as a systemd that was only slow would.)
            self.assertFalse(os.path.exists(slice_dir()))
        finally:
            mock.stop()
        self.assertFalse(r.ok, r)
        self.assertTrue(r.error.startswith(E_PREFIX), r)
        self.assertIn(unit_of(bt.ALICE), r.message)
        self.assertLess(elapsed, 20.0, "SetupCgroupRoot hung on a stuck systemd (%.1f s)" % elapsed)


if __name__ == "__main__":
    bt.main()
