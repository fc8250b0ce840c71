#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""localdctl against the real broker in the sandbox: exit codes per command
for a granted user (alice) and a denied one (mallory), and one password
prompt end to end in a pty (ldt-admin runs setup; pkttyagent asks)."""

import json
import os
import pty
import pwd
import select
import termios
import subprocess
import time
import unittest

import brokertest as bt

BUILDDIR = os.path.abspath(os.environ.get("top_builddir", "."))
# The real binary, not libtool's wrapper (which may try to write in .libs).
LOCALDCTL = os.path.join(BUILDDIR, "client", "localdctl", ".libs", "localdctl")
if not os.path.exists(LOCALDCTL):
    LOCALDCTL = os.path.join(BUILDDIR, "client", "localdctl", "localdctl")


def user_env(user):
    pw = pwd.getpwnam(user)
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": pw.pw_dir, "USER": user,
            "DBUS_SYSTEM_BUS_ADDRESS": bt.env("DBUS_SYSTEM_BUS_ADDRESS"),
            "LD_LIBRARY_PATH": os.path.join(BUILDDIR, "client", ".libs")}


def localdctl(user, *args):
    pw = pwd.getpwnam(user)
    return subprocess.run([LOCALDCTL] + list(args), env=user_env(user), user=pw.pw_uid,
                          group=pw.pw_gid, extra_groups=os.getgrouplist(user, pw.pw_gid),
                          cwd=pw.pw_dir, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=bt.NO_HANG)


def echo_on(fd):
    """Whether the terminal behind the pty master still echoes input."""
    try:
        return bool(termios.tcgetattr(fd)[3] & termios.ECHO)
    except termios.error:
        return True


def localdctl_in_pty(user, password, *args):
    """Runs localdctl as USER on a pty, types PASSWORD at the prompt.
    Returns (exit status, everything the terminal showed)."""
    pw = pwd.getpwnam(user)
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.setgroups(os.getgrouplist(user, pw.pw_gid))
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            os.chdir(pw.pw_dir)
            os.execve(LOCALDCTL, [LOCALDCTL] + list(args), user_env(user))
        finally:
            os._exit(127)
    seen = b""
    typed = 0
    deadline = time.monotonic() + 2 * bt.NO_HANG
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        # Answer every prompt: an agent may ask again after a wrong password.
        # Type only once the agent has turned echo off: it flushes pending
        # input when it does, and a password typed earlier would be lost.
        if seen.count(b"assword:") > typed and typed < 3 and not echo_on(fd):
            os.write(fd, password.encode() + b"\n")
            typed += 1
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise AssertionError("localdctl did not finish; terminal showed:\n%s" % seen.decode(errors="replace"))
    if not done:
        _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


class Alice(unittest.TestCase):
    def test_setup_then_doctor(self):
        r = localdctl(bt.ALICE, "setup")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.strip().endswith("user-%d" % bt.uid_of(bt.ALICE)), r.stdout)
        self.assertTrue(os.path.isdir(bt.user_cgroup_path(bt.ALICE)))
        d = localdctl(bt.ALICE, "doctor", "--json")
        self.assertEqual(d.returncode, 0, d.stdout)
        self.assertTrue(json.loads(d.stdout)["ready"])

    def test_doctor_without_root(self):
        bt.remove_cgroup_root()
        d = localdctl(bt.ALICE, "doctor")
        self.assertEqual(d.returncode, 1)
        self.assertTrue(d.stdout.startswith("Not ready"), d.stdout)
        self.assertIn("cgroup.root_ready", d.stdout)
        self.assertIn("localdctl setup", d.stdout)

    def test_kill_and_cleanup(self):
        self.assertEqual(localdctl(bt.ALICE, "setup").returncode, 0)
        k = localdctl(bt.ALICE, "kill", "no/such/cgroup")
        self.assertEqual(k.returncode, 0, k.stderr)
        self.assertEqual(k.stdout.strip(), "0")
        bad = localdctl(bt.ALICE, "kill", "../escape")
        self.assertEqual(bad.returncode, 1, bad.stderr)
        # A small tree of alice's beneath her .locald: two dirs and a file.
        home = bt.home_of(bt.ALICE)
        tree = os.path.join(home, ".locald", "junk")
        os.makedirs(os.path.join(tree, "sub"), exist_ok=True)
        with open(os.path.join(tree, "sub", "f"), "w") as f:
            f.write("x")
        pw = pwd.getpwnam(bt.ALICE)
        for p in (os.path.join(home, ".locald"), tree, os.path.join(tree, "sub"), os.path.join(tree, "sub", "f")):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        c = localdctl(bt.ALICE, "--json", "cleanup", tree)
        self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
        self.assertGreaterEqual(json.loads(c.stdout)["removed"], 2)
        self.assertFalse(os.path.exists(tree))
        unsafe = localdctl(bt.ALICE, "cleanup", "/etc")
        self.assertEqual(unsafe.returncode, 1, unsafe.stderr)

    def test_status(self):
        s = localdctl(bt.ALICE, "status", "--json")
        self.assertIn(s.returncode, (0, 1))
        status = json.loads(s.stdout)
        self.assertTrue(status["broker"]["reachable"], status)
        self.assertEqual(status["broker"]["api_version"], 1)
        self.assertTrue(status["broker"]["api_compatible"])

    def test_usage(self):
        self.assertEqual(localdctl(bt.ALICE, "kill").returncode, 2)
        self.assertEqual(localdctl(bt.ALICE, "nonsense").returncode, 2)


class Mallory(unittest.TestCase):
    def test_denied_everywhere(self):
        for args in (["setup"], ["kill", "svc"], ["cleanup", "/home/x/.locald/y"]):
            r = localdctl(bt.MALLORY, *args)
            self.assertEqual(r.returncode, 3, (args, r.stdout, r.stderr))
            self.assertIn("broker.authorized", r.stderr)
        d = localdctl(bt.MALLORY, "doctor", "--json")
        self.assertEqual(d.returncode, 1)
        ids = [p["id"] for p in json.loads(d.stdout)["problems"]]
        self.assertIn("broker.authorized", ids)


class PolkitDown(unittest.TestCase):
    def tearDown(self):
        bt.polkit_start()

    def test_polkit_down_is_not_ready(self):
        # polkit could not be asked: that is not a refusal (3) but a broker
        # that is not ready (4), with its own problem id.
        bt.polkit_stop()
        for args in (["setup"], ["kill", "svc"], ["cleanup", "/home/x/.locald/y"]):
            r = localdctl(bt.ALICE, *args)
            self.assertEqual(r.returncode, 4, (args, r.stdout, r.stderr))
            self.assertIn("broker.polkit", r.stderr)
            self.assertNotIn("broker.authorized", r.stderr)
        d = localdctl(bt.ALICE, "doctor", "--json")
        self.assertEqual(d.returncode, 1)
        ids = [p["id"] for p in json.loads(d.stdout)["problems"]]
        self.assertIn("broker.polkit", ids)


class Prompt(unittest.TestCase):
    def test_admin_setup_with_password(self):
        bt.remove_cgroup_root()
        status, screen = localdctl_in_pty(bt.ADMIN, bt.ADMIN_PASSWORD, "setup")
        self.assertEqual(status, 0, screen)
        path = bt.user_cgroup_path(bt.ADMIN)
        self.assertTrue(os.path.isdir(path), screen)
        self.assertEqual(os.stat(path).st_uid, bt.uid_of(bt.ADMIN))

    def test_admin_setup_wrong_password(self):
        bt.remove_cgroup_root()
        status, screen = localdctl_in_pty(bt.ADMIN, "not-the-password", "setup")
        self.assertNotEqual(status, 0, screen)
        self.assertIn("localdctl: setup failed", screen)
        self.assertFalse(os.path.exists(bt.user_cgroup_path(bt.ADMIN)), screen)

    def test_agent_dies_with_localdctl(self):
        # localdctl killed at the prompt cannot stop its agent: the agent
        # must go by itself rather than linger on the terminal. A shell is
        # the session leader and stays, so no hangup ends the agent instead.
        bt.remove_cgroup_root()
        pw = pwd.getpwnam(bt.ADMIN)
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.setgroups(os.getgrouplist(bt.ADMIN, pw.pw_gid))
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
                os.chdir(pw.pw_dir)
                os.execve("/bin/sh", ["sh", "-c", '"$0" setup; sleep 600', LOCALDCTL],
                          user_env(bt.ADMIN))
            finally:
                os._exit(127)
        agent = None
        try:
            seen = b""
            deadline = time.monotonic() + bt.NO_HANG
            while b"assword:" not in seen and time.monotonic() < deadline:
                if select.select([fd], [], [], 0.2)[0]:
                    seen += os.read(fd, 4096)
            self.assertIn(b"assword:", seen)
            def children(p):
                with open("/proc/%d/task/%d/children" % (p, p)) as f:
                    return [int(c) for c in f.read().split()]
            [ctl] = children(pid)
            [agent] = children(ctl)
            os.kill(ctl, 9)
            bt.wait_until(lambda: not bt.pid_alive(agent), what="the agent to exit after localdctl")
            agent = None
        finally:
            if pid is not None:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            if agent is not None and bt.pid_alive(agent):
                os.kill(agent, 9)
            os.close(fd)

    def test_no_ask_password_in_terminal(self):
        bt.remove_cgroup_root()
        status, screen = localdctl_in_pty(bt.ADMIN, "", "--no-ask-password", "setup")
        self.assertEqual(status, 3, screen)
        self.assertNotIn("assword:", screen)


if __name__ == "__main__":
    bt.main()
