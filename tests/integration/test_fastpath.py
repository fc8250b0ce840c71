#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The fast path of LocaldPrivileged (try, then delegate): kill and cleanup
done by the calling user where the kernel lets it, the broker asked only for
the rest. Each case runs the same input twice, fast path on and off, as a
real test user through GObject Introspection, and checks that results,
error names, messages and counts are the same, and which path ran."""

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import textwrap
import time
import unittest

import brokertest as bt

BUILDDIR = os.path.abspath(os.environ.get("top_builddir", "."))
E_UNSAFE_PATH = "dev.locald.Broker1.Error.UnsafePath"

# A capability held by a long-lived process of the user; one JSON request
# per line: {"op": "kill"|"cleanup", "arg": ..., "fast": bool, "async": bool}.
DRIVER = textwrap.dedent("""
    import json, sys, gi
    gi.require_version("LocaldBroker", "1")
    from gi.repository import GLib, LocaldBroker
    cap = LocaldBroker.Privileged.acquire(LocaldBroker.AcquireFlags.NO_INTERACTIVE_AUTHORIZATION, None)[0]
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        cap.set_fast_path(req["fast"])
        out = {}
        try:
            if req.get("async"):
                loop = GLib.MainLoop()
                box = {}
                def done(source, result, _):
                    box["path"] = cap.get_operation_path(result).value_nick
                    try:
                        if req["op"] == "kill":
                            box["value"] = cap.kill_cgroup_finish(result)[1]
                        else:
                            box["value"] = cap.cleanup_path_finish(result)[1]
                    except GLib.Error as e:
                        box["error"] = e
                    loop.quit()
                if req["op"] == "kill":
                    cap.kill_cgroup_async(req["arg"], None, done, None)
                else:
                    cap.cleanup_path_async(req["arg"], None, done, None)
                loop.run()
                out["result_path"] = box["path"]
                if "error" in box:
                    raise box["error"]
                out.update(ok=True, value=box["value"])
            elif req["op"] == "kill":
                out.update(ok=True, value=cap.kill_cgroup(req["arg"], None)[1])
            else:
                out.update(ok=True, value=cap.cleanup_path(req["arg"], None)[1])
        except GLib.Error as e:
            out.update(ok=False, code=e.code, message=e.message,
                       dbus_name=LocaldBroker.error_get_dbus_name(e))
        out["path"] = cap.get_last_path().value_nick
        print(json.dumps(out), flush=True)
""")


class Driver:
    def __init__(self, user):
        pw = pwd.getpwnam(user)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": pw.pw_dir, "USER": user,
               "DBUS_SYSTEM_BUS_ADDRESS": bt.env("DBUS_SYSTEM_BUS_ADDRESS"),
               "GI_TYPELIB_PATH": os.path.join(BUILDDIR, "client"),
               "LD_LIBRARY_PATH": os.path.join(BUILDDIR, "client", ".libs")}
        self.proc = subprocess.Popen([bt.gi_python() or "/usr/bin/python3", "-c", DRIVER], env=env,
                                     user=pw.pw_uid, group=pw.pw_gid,
                                     extra_groups=os.getgrouplist(user, pw.pw_gid), cwd=pw.pw_dir,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        hello = self.proc.stdout.readline()
        if not hello or not json.loads(hello).get("ready"):
            raise AssertionError("the driver did not acquire a capability: %r" % hello)

    def run(self, op, arg, fast, use_async=False):
        self.proc.stdin.write(json.dumps({"op": op, "arg": arg, "fast": fast, "async": use_async}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("the driver died (status %r)" % self.proc.wait())
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=bt.NO_HANG)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def runuser(user, *argv):
    r = subprocess.run(["runuser", "-u", user, "--"] + list(argv), capture_output=True, text=True,
                       timeout=bt.NO_HANG)
    if r.returncode != 0:
        raise AssertionError("%r as %s failed: %s" % (argv, user, r.stderr))


def outcome(r):
    """What must be the same on both paths."""
    if r["ok"]:
        return ("ok", r["value"])
    return ("error", r["dbus_name"], r["code"], r["message"])


class Base(unittest.TestCase):
    user = bt.ALICE

    @classmethod
    def setUpClass(cls):
        r = bt.call(cls.user, "SetupCgroupRoot")
        if not r.ok:
            raise AssertionError("SetupCgroupRoot: %r" % r)
        cls.driver = Driver(cls.user)

    @classmethod
    def tearDownClass(cls):
        cls.driver.close()

    def both(self, op, make, arg_of, use_async=False):
        """Runs OP on a fresh input from MAKE() with the fast path on, then
        on another fresh one with it off. Returns (fast, broker)."""
        results = []
        for fast in (True, False):
            made = make()
            results.append(self.driver.run(op, arg_of(made), fast, use_async))
        self.assertEqual(outcome(results[0]), outcome(results[1]), results)
        self.assertEqual(results[1]["path"], "broker", results)
        if use_async:
            for r in results:
                self.assertEqual(r["result_path"], r["path"], r)
        return results


# ------------------------------------------------------------ KillCgroup

class Kill(Base):
    def setUp(self):
        self.procs = []
        self.n = 0

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()

    def subtree(self):
        return bt.user_cgroup_path(self.user)

    def user_cgroup(self, n_user, n_root=0, owner=None):
        """A cgroup of the subtree with N_USER sleeping processes of the user
        and N_ROOT of root, created by OWNER (the user unless "root")."""
        self.n += 1
        name = "fp-%d-%d" % (os.getpid(), self.n)
        d = os.path.join(self.subtree(), name)
        if owner == "root":
            os.mkdir(d)
        else:
            runuser(self.user, "mkdir", d)
        pw = pwd.getpwnam(self.user)
        for i in range(n_user + n_root):
            kw = {} if i >= n_user else dict(user=pw.pw_uid, group=pw.pw_gid)
            p = subprocess.Popen(["sleep", "600"], **kw)
            self.procs.append(p)
            with open(os.path.join(d, "cgroup.procs"), "w") as f:
                f.write(str(p.pid))
        return name

    def assert_gone(self, name):
        self.assertFalse(os.path.exists(os.path.join(self.subtree(), name)))

    def test_user_cgroup_is_killed_by_the_caller(self):
        fast, broker = self.both("kill", lambda: self.user_cgroup(3), lambda n: n)
        self.assertEqual(fast["path"], "fast", fast)
        self.assertEqual(fast["value"], 3)
        for p in self.procs:
            self.assertEqual(p.wait(timeout=5), -9)

    def test_root_process_inside_dies_on_the_fast_path(self):
        # cgroup.kill of a cgroup the user created kills root's processes too.
        fast, broker = self.both("kill", lambda: self.user_cgroup(1, n_root=1), lambda n: n)
        self.assertEqual(fast["path"], "fast", fast)
        self.assertEqual(fast["value"], 2)
        for p in self.procs:
            self.assertEqual(p.wait(timeout=5), -9)

    def test_nested_cgroups(self):
        def make():
            name = self.user_cgroup(1)
            runuser(self.user, "mkdir", os.path.join(self.subtree(), name, "child"))
            p = subprocess.Popen(["sleep", "600"])
            self.procs.append(p)
            with open(os.path.join(self.subtree(), name, "child", "cgroup.procs"), "w") as f:
                f.write(str(p.pid))
            return name
        fast, broker = self.both("kill", make, lambda n: n)
        self.assertEqual(fast["path"], "fast", fast)
        self.assertEqual(fast["value"], 2)

    def test_root_made_cgroup_goes_to_the_broker(self):
        # Its cgroup.kill is root's: the caller cannot, the broker does it all.
        fast, broker = self.both("kill", lambda: self.user_cgroup(2, owner="root"), lambda n: n)
        self.assertEqual(fast["path"], "broker", fast)
        self.assertEqual(fast["value"], 2)

    def test_async_variant(self):
        fast, broker = self.both("kill", lambda: self.user_cgroup(2), lambda n: n, use_async=True)
        self.assertEqual(fast["path"], "fast", fast)

    def test_missing_cgroup(self):
        fast, broker = self.both("kill", lambda: "fp-missing/none", lambda n: n)
        self.assertEqual(fast, dict(broker, path="fast"))
        self.assertEqual(fast["value"], 0)

    def test_hostile_names_refused_identically(self):
        for arg in ("../user-0", "/etc", "a//b", "a/", ".", "x/..", "cgroup.procs", "a/cgroup.kill",
                    ".keeper", "a/.b", "", "x" * 300, "a\nb"):
            with self.subTest(arg=arg):
                fast, broker = self.both("kill", lambda: arg, lambda a: a)
                self.assertFalse(fast["ok"], fast)
                self.assertEqual(fast["dbus_name"], bt.E_INVALID_ARGS, fast)


# ------------------------------------------------------------ CleanupPath

def chown_tree(top, user):
    pw = pwd.getpwnam(user)
    for dirpath, dirnames, filenames in os.walk(top):
        os.lchown(dirpath, pw.pw_uid, pw.pw_gid)
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), pw.pw_uid, pw.pw_gid)


def make_tree(top, width=3, depth=3):
    """A tree of directories and files; returns the number of entries."""
    n = 1
    os.mkdir(top)
    for i in range(width):
        with open(os.path.join(top, "f%d" % i), "w") as f:
            f.write("x")
        n += 1
        if depth > 1:
            n += make_tree(os.path.join(top, "d%d" % i), width, depth - 1)
    return n


class Cleanup(Base):
    def setUp(self):
        home = bt.home_of(self.user)
        self.proj = tempfile.mkdtemp(prefix="fp.", dir=home)
        os.chmod(self.proj, 0o755)
        self.locald = os.path.join(self.proj, ".locald")
        os.mkdir(self.locald)
        chown_tree(self.proj, self.user)
        self.n = 0

    def tearDown(self):
        shutil.rmtree(self.proj, ignore_errors=True)

    def fresh(self):
        self.n += 1
        return os.path.join(self.locald, "t%d" % self.n)

    def user_tree(self):
        top = self.fresh()
        self.expected = make_tree(top)
        chown_tree(top, self.user)
        return top

    def mixed_tree(self):
        """The user's tree with root-owned leftovers (what a container
        runtime leaves): a root directory with entries, one level down."""
        top = self.user_tree()
        root_dir = os.path.join(top, "d0", "run-shm")
        os.makedirs(os.path.join(root_dir, "inner"))
        for p in (os.path.join(root_dir, "a"), os.path.join(root_dir, "inner", "b")):
            with open(p, "w") as f:
                f.write("root")
        self.root_entries = 4  # run-shm, inner, a, b
        self.expected += self.root_entries
        return top

    def test_user_tree_is_removed_by_the_caller(self):
        fast, broker = self.both("cleanup", self.user_tree, lambda p: p)
        self.assertEqual(fast["path"], "fast", fast)
        self.assertEqual(fast["value"], self.expected)

    def test_root_leftovers_only_the_rest_goes_to_the_broker(self):
        before = len(bt.audit_lines(method="CleanupPath", result="ok"))
        top = self.mixed_tree()
        fast = self.driver.run("cleanup", top, True)
        self.assertEqual(fast["path"], "mixed", fast)
        self.assertEqual(fast["value"], self.expected, fast)  # every entry, once
        self.assertFalse(os.path.lexists(top))
        # The broker removed only the root-owned part and what held it: the
        # leftover directory, its contents, the user directories above it.
        lines = bt.wait_for_audit(method="CleanupPath", result="ok")
        self.assertGreater(len(lines), before)
        detail = lines[-1].get("detail", "")
        broker_count = int(detail.split()[1])
        self.assertEqual(broker_count, self.root_entries + 2, detail)  # + d0 and the top
        self.assertLess(broker_count, self.expected)
        # Off: the broker alone, the same total.
        top = self.mixed_tree()
        broker = self.driver.run("cleanup", top, False)
        self.assertEqual(outcome(fast), outcome(broker), (fast, broker))
        self.assertEqual(broker["path"], "broker")

    def test_async_variant(self):
        fast, broker = self.both("cleanup", self.mixed_tree, lambda p: p, use_async=True)
        self.assertEqual(fast["path"], "mixed", fast)

    def test_missing_target(self):
        fast, broker = self.both("cleanup", self.fresh, lambda p: p)
        self.assertEqual(fast["path"], "fast", fast)
        self.assertEqual(fast["value"], 0)

    def test_hostile_paths_refused_identically(self):
        home = bt.home_of(self.user)
        other = tempfile.mkdtemp(prefix="fp-root.", dir="/tmp")
        self.addCleanup(shutil.rmtree, other, True)
        os.mkdir(os.path.join(other, ".locald"))
        os.chmod(other, 0o755)
        with open(os.path.join(other, ".locald", "victim"), "w") as f:
            f.write("x")
        link_dir = os.path.join(self.proj, "link")
        os.symlink(other, link_dir)
        os.lchown(link_dir, pwd.getpwnam(self.user).pw_uid, -1)
        inner_link = os.path.join(self.locald, "inner-link")
        os.symlink(other, inner_link)
        os.lchown(inner_link, pwd.getpwnam(self.user).pw_uid, -1)
        cases = [
            ("relative/.locald/x", bt.E_INVALID_ARGS),
            (self.locald, bt.E_INVALID_ARGS),
            (self.locald + "/../x", bt.E_INVALID_ARGS),
            (self.locald + "//x", bt.E_INVALID_ARGS),
            (home + "/x", bt.E_INVALID_ARGS),
            (os.path.join(other, ".locald", "victim"), "dev.locald.Broker1.Error.NotOwner"),
            (os.path.join(link_dir, ".locald", "victim"), E_UNSAFE_PATH),
            (os.path.join(inner_link, "victim"), E_UNSAFE_PATH),
            (os.path.join(self.proj, "none", ".locald", "x"), "dev.locald.Broker1.Error.NotFound"),
        ]
        for path, name in cases:
            with self.subTest(path=path):
                fast, broker = self.both("cleanup", lambda: path, lambda p: p)
                self.assertFalse(fast["ok"], fast)
                self.assertEqual(fast["dbus_name"], name, fast)
                self.assertEqual(fast["path"], "fast", fast)
        self.assertTrue(os.path.exists(os.path.join(other, ".locald", "victim")))

    def test_symlink_swaps_do_not_escape(self):
        """The user keeps exchanging a directory of the tree with a symlink
        to a directory of theirs outside .locald while the fast path walks:
        nothing outside the tree goes."""
        sentinel = tempfile.mkdtemp(prefix="fp-sentinel.", dir=bt.home_of(self.user))
        self.addCleanup(shutil.rmtree, sentinel, True)
        for n in ("keep1", "keep2"):
            with open(os.path.join(sentinel, n), "w") as f:
                f.write("x")
        chown_tree(sentinel, self.user)
        base = os.path.join(self.locald, "race")
        os.mkdir(base)
        chown_tree(base, self.user)
        attacker_src = textwrap.dedent(r'''
            import ctypes, os, sys
            libc = ctypes.CDLL(None, use_errno=True)
            base, sentinel = sys.argv[1], sys.argv[2]
            t = os.path.join(base, "t"); d = os.path.join(t, "d"); l = os.path.join(t, "l")
            print("ready", flush=True)
            NOFOLLOW_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
            def fill(dirfd):
                # fd-relative and never through a symlink: the attacker's own
                # writes must not land in the sentinel when d and l are swapped.
                try:
                    os.mkdir("sub", dir_fd=dirfd)
                except FileExistsError:
                    pass
                os.close(os.open("f", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, dir_fd=dirfd))
                sub = os.open("sub", NOFOLLOW_DIR, dir_fd=dirfd)
                try:
                    os.close(os.open("f", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, dir_fd=sub))
                finally:
                    os.close(sub)
            while True:
                try:
                    try:
                        os.makedirs(d)
                    except FileExistsError:
                        pass
                    fd = os.open(d, NOFOLLOW_DIR)
                    try:
                        fill(fd)
                    finally:
                        os.close(fd)
                except OSError:
                    pass
                try:
                    if not os.path.lexists(l):
                        os.symlink(sentinel, l)
                except OSError:
                    pass
                for _ in range(64):
                    libc.renameat2(-100, os.fsencode(d), -100, os.fsencode(l), 2)
        ''')
        attacker = subprocess.Popen(["runuser", "-u", self.user, "--", "/usr/bin/python3", "-c",
                                     attacker_src, base, sentinel], stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (attacker.kill(), attacker.wait()))
        self.assertEqual(attacker.stdout.readline().strip(), "ready")
        t = os.path.join(base, "t")
        bt.wait_until(lambda: os.path.lexists(os.path.join(t, "l")), what="the attacker")
        targets = [t, os.path.join(t, "d"), os.path.join(t, "l"), os.path.join(t, "d", "sub")]
        oks = 0
        for i in range(120):
            r = self.driver.run("cleanup", targets[i % len(targets)], True)
            if r["ok"]:
                oks += 1
            else:
                self.assertIn(r["dbus_name"], (E_UNSAFE_PATH, "dev.locald.Broker1.Error.Failed",
                                               "dev.locald.Broker1.Error.Busy"), r)
            self.assertEqual(sorted(os.listdir(sentinel)), ["keep1", "keep2"], "round %d: %r" % (i, r))
        self.assertGreater(oks, 0)


if __name__ == "__main__":
    bt.main()
