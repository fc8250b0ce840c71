#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Faults around the broker, each ending in a refusal or a clean finish,
never in a crash, a hang, a lost reply or anything done outside the
caller's scope:

  - polkitd killed (SIGKILL) while checks are in flight, and a prompt pending;
  - polkitd hanging (SIGSTOP) for longer than the broker's check bound;
  - callers hanging up while their checks are in flight;
  - the broker SIGKILLed in the middle of a CleanupPath and of a KillCgroup:
    a rerun completes, and nothing outside the target changed;
  - the bus going away, with the broker idle and with a call running: it
    exits by itself, with status 1 and no crash.

polkitd absent or not activatable is test_polkit_down.py; a caller leaving
while its prompt is pending is test_interactive.py."""

import ctypes
import os
import pwd
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import brokertest as bt
from test_cgroup_ops import procs_of, setup_as
from test_cleanup_ops import snapshot
from test_interactive import TtyAgent

sys.path.insert(0, os.path.join(os.path.dirname(bt.HERE), "lib"))
import rawdbus as rd  # noqa: E402

E_BUSY = "dev.locald.Broker1.Error.Busy"
E_NO_REPLY = "org.freedesktop.DBus.Error.NoReply"
E_FAILED_CHECK = {bt.E_AUTH_UNAVAILABLE, bt.E_ACCESS_DENIED}


# ------------------------------------------------------------ helpers

class Inotify:
    """IN_DELETE events of a set of directories (ctypes; the stdlib has no
    binding): tells the test the moment the broker removed something."""

    IN_DELETE = 0x200
    IN_DELETE_SELF = 0x400

    def __init__(self, dirs):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        for d in dirs:
            if self.libc.inotify_add_watch(self.fd, os.fsencode(d), self.IN_DELETE | self.IN_DELETE_SELF) < 0:
                raise OSError(ctypes.get_errno(), "inotify_add_watch %s" % d)

    def wait(self, timeout):
        """True once some entry was deleted, False after TIMEOUT s."""
        r, _, _ = select.select([self.fd], [], [], timeout)
        if r:
            os.read(self.fd, 1 << 16)
        return bool(r)

    def close(self):
        os.close(self.fd)


def make_tree(top, dirs, files_per_dir, owner=None):
    """TOP/dNNN/fNNN; returns the directories and the number of entries."""
    made = []
    for d in range(dirs):
        dp = os.path.join(top, "d%03d" % d)
        os.makedirs(dp)
        for f in range(files_per_dir):
            with open(os.path.join(dp, "f%03d" % f), "w") as fh:
                fh.write("x")
        made.append(dp)
    if owner is not None:
        pw = pwd.getpwnam(owner)
        for dirpath, dirnames, filenames in os.walk(top):
            os.chown(dirpath, pw.pw_uid, pw.pw_gid)
            for n in filenames:
                os.chown(os.path.join(dirpath, n), pw.pw_uid, pw.pw_gid)
    return made, dirs * (files_per_dir + 1)


def count_entries(top):
    if not os.path.exists(top):
        return 0
    return sum(len(d) + len(f) for _, d, f in os.walk(top))


def polkitd_pid():
    with open(os.path.join(bt.env("LOCALD_SANDBOX_DIR"), "polkitd.pid")) as f:
        return int(f.read().strip())


def burst(n, member="SelfCheck", signature="", args=(), connections=4):
    """N calls as root on CONNECTIONS raw connections, all sent at once;
    returns (connections, {(conn index, serial)})."""
    conns = [rd.Connection() for _ in range(connections)]
    pending = set()
    for i in range(n):
        k = i % connections
        pending.add((k, conns[k].send_call(bt.BUS_NAME, bt.OBJECT_PATH, bt.INTERFACE, member,
                                           signature, list(args))))
    return conns, pending


def collect(conns, pending, timeout):
    """Replies to PENDING ({(conn index, serial)}) within TIMEOUT: a list of
    (Message, seconds), and what is still missing."""
    t0 = time.monotonic()
    got = []
    pending = set(pending)
    while pending and time.monotonic() - t0 < timeout:
        r, _, _ = select.select([c for c in conns if not c.closed], [], [], 0.1)
        for c in r:
            c.fill()
            k = conns.index(c)
            for msg in c.pending():
                if msg.type in (rd.METHOD_RETURN, rd.ERROR) and (k, msg.reply_serial) in pending:
                    pending.discard((k, msg.reply_serial))
                    got.append((msg, time.monotonic() - t0))
    return got, pending


def answers(got):
    out = {}
    for msg, _ in got:
        key = "ok" if msg.type == rd.METHOD_RETURN else msg.error_name
        out[key] = out.get(key, 0) + 1
    return out


# ------------------------------------------------------------ polkitd

class PolkitFaults(unittest.TestCase):
    def tearDown(self):
        try:
            os.kill(polkitd_pid(), signal.SIGCONT)
        except (OSError, ValueError):
            pass
        bt.polkit_start()

    def test_polkitd_killed_mid_check(self):
        bt.remove_cgroup_root()
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
        broker = bt.broker_pid()
        # carol's setup waits at her agent; root's calls are in polkitd's queue.
        carol = bt.call_async(bt.CAROL, "SetupCgroupRoot", interactive=True, timeout=120, start=False)
        agent = TtyAgent(carol.pid)
        try:
            carol.start(carol.request)
            bt.wait_until(lambda: "dev.locald.broker.setup-cgroup" in agent.read() or carol.done(),
                          what="carol's check to reach her agent")
            conns, pending = burst(40)
            os.kill(polkitd_pid(), signal.SIGKILL)
            got, missing = collect(conns, pending, bt.NO_HANG)
            r = carol.result(bt.NO_HANG)
        finally:
            agent.stop()
        print("# polkitd SIGKILLed with 40 calls and a prompt in flight: %r, carol: %s"
              % (answers(got), r.error))
        self.assertEqual(missing, set(), "calls left without a reply")
        self.assertTrue(set(answers(got)) <= {"ok"} | E_FAILED_CHECK, answers(got))
        self.assertFalse(r.ok, r)
        self.assertIn(r.error, E_FAILED_CHECK, r)
        self.assertFalse(os.path.exists(bt.user_cgroup_path(bt.CAROL)), "carol's setup ran")
        self.assertEqual(bt.broker_pid(), broker)
        # A new polkitd: the same broker asks it.
        bt.polkit_start()
        r = bt.call(bt.ALICE, "SelfCheck")
        self.assertTrue(r.ok, r)
        self.assertEqual(bt.broker_pid(), broker)
        for c in conns:
            c.close()

    def test_polkitd_hanging(self):
        """A stopped polkitd answers nothing: every check gives up after the
        broker's bound (25 s) with AuthorizationUnavailable, calls beyond the
        limits are refused at once, and what needs no polkit is served
        throughout."""
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
        broker = bt.broker_pid()
        os.kill(polkitd_pid(), signal.SIGSTOP)
        try:
            conns, pending = burst(24, connections=1)  # 16 per connection: 8 are Busy at once
            alice = bt.call_async(bt.ALICE, "SelfCheck", timeout=60)
            t0 = time.monotonic()
            ping = bt.get_property(bt.BOB, "Version", timeout=10)
            ping_s = time.monotonic() - t0
            got, missing = collect(conns, pending, 40)
            r = alice.result(60)
        finally:
            os.kill(polkitd_pid(), signal.SIGCONT)
        busy = [s for m, s in got if m.error_name == E_BUSY]
        gave_up = [s for m, s in got if m.error_name == bt.E_AUTH_UNAVAILABLE]
        print("# polkitd stopped: %r; Busy within %.2f s, AuthorizationUnavailable after %.1f-%.1f s; "
              "a property read took %.3f s" % (answers(got), max(busy or [0]), min(gave_up or [0]),
                                               max(gave_up or [0]), ping_s))
        self.assertEqual(missing, set())
        self.assertTrue(ping.ok, ping)
        self.assertLess(ping_s, 5.0, "a property read waited for polkit")
        self.assertEqual(len(busy), 8, answers(got))
        self.assertLess(max(busy), 5.0)
        self.assertEqual(len(gave_up), 16, answers(got))
        self.assertFalse(r.ok, r)
        self.assertEqual(r.error, bt.E_AUTH_UNAVAILABLE, r)
        self.assertEqual(bt.broker_pid(), broker)
        r = bt.call(bt.ALICE, "SelfCheck")
        self.assertTrue(r.ok, r)
        for c in conns:
            c.close()

    def test_callers_hang_up_mid_check(self):
        """Connections that leave with their checks in flight, many times
        over: nothing is done for them and the broker stays up."""
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
        broker = bt.broker_pid()
        for i in range(100):
            c = rd.Connection()
            for _ in range(8):
                c.send_call(bt.BUS_NAME, bt.OBJECT_PATH, bt.INTERFACE, "SelfCheck",
                            flags=rd.ALLOW_INTERACTIVE_AUTHORIZATION if i % 2 else 0)
            if i % 3 == 0:
                time.sleep(0.002)
            c.close()
        r = bt.call(bt.ALICE, "SelfCheck")
        self.assertTrue(r.ok, r)
        self.assertEqual(bt.broker_pid(), broker, "the broker died or restarted")
        self.assertTrue(bt.pid_alive(broker))


# ------------------------------------------------------------ the broker killed

class BrokerKilled(unittest.TestCase):
    def test_sigkill_mid_cleanup(self):
        """SIGKILL while CleanupPath removes a tree: the caller gets an
        error, part of the tree is gone and nothing else; a rerun removes
        the rest."""
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
        proj = tempfile.mkdtemp(prefix="killed-cleanup-", dir=bt.home_of(bt.ALICE))
        locald = os.path.join(proj, ".locald")
        target = os.path.join(locald, "tree")
        dirs, entries = make_tree(target, 200, 100, owner=bt.ALICE)
        # Beside the target: alice's own files, and bob's files in her project.
        for rel, user in (("keep/file", bt.ALICE), ("README", bt.ALICE)):
            p = os.path.join(locald if rel.startswith("keep") else proj, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write("keep\n")
        for p in (proj, locald, os.path.join(locald, "keep"), os.path.join(locald, "keep", "file"),
                  os.path.join(proj, "README")):
            os.chown(p, bt.uid_of(bt.ALICE), pwd.getpwnam(bt.ALICE).pw_gid)
        outside = snapshot(proj)
        outside = {k: v for k, v in outside.items() if not k.startswith(".locald/tree")}
        bob_home = snapshot(bt.home_of(bt.BOB))

        watch = Inotify(dirs)
        broker = bt.broker_pid()
        call = bt.call_async(bt.ALICE, "CleanupPath", target, timeout=60)
        try:
            self.assertTrue(watch.wait(bt.NO_HANG), "the broker removed nothing")
            os.kill(broker, signal.SIGSTOP)   # at once: stop it where it is
            os.kill(broker, signal.SIGKILL)
        finally:
            watch.close()
        r = call.result(bt.NO_HANG)
        left = count_entries(target)
        print("# SIGKILL mid-cleanup: %d of %d entries were left, the caller got %s"
              % (left, entries, r.error))
        self.assertFalse(r.ok, r)
        self.assertGreater(left, 0, "the cleanup finished before the kill; nothing was tested")
        self.assertLess(left, entries)
        now = {k: v for k, v in snapshot(proj).items() if not k.startswith(".locald/tree")}
        self.assertEqual(now, outside, "something beside the target changed")
        self.assertEqual(snapshot(bt.home_of(bt.BOB)), bob_home)

        r = bt.call(bt.ALICE, "CleanupPath", target)
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value[0], left, "the rerun did not remove exactly what was left")
        self.assertFalse(os.path.exists(target))
        now = {k: v for k, v in snapshot(proj).items()}
        self.assertEqual(now, outside)
        self.assertNotEqual(bt.broker_pid(), broker)
        shutil.rmtree(proj)

    def test_sigkill_mid_kill(self):
        """SIGKILL while KillCgroup waits for a cgroup to empty (one of its
        processes is stuck in the kernel): the other processes of the target
        are dead, nothing outside it was touched; once the stuck process
        can die, a rerun removes the cgroup."""
        bt.remove_cgroup_root()
        setup_as(bt.ALICE)
        setup_as(bt.BOB)
        alice_dir = bt.user_cgroup_path(bt.ALICE)
        target = os.path.join(alice_dir, "busy")
        other = os.path.join(alice_dir, "other")
        bob_svc = os.path.join(bt.user_cgroup_path(bt.BOB), "svc")
        for d in (target, os.path.join(target, "a"), other, bob_svc):
            os.makedirs(d)
        hold = os.path.join(bt.env("LOCALD_SANDBOX_CGROUP_SCRATCH"), "hold-faults")
        os.makedirs(hold, exist_ok=True)
        helper = os.path.join(bt.BUILDDIR, "tests", "integration", "stuck-process")
        r = subprocess.run([helper, hold, target], capture_output=True, text=True, timeout=bt.NO_HANG)
        if r.returncode == 77:
            self.skipTest("userfaultfd is not available to build an unkillable process")
        self.assertEqual(r.returncode, 0, r.stderr)
        holder, stuck = (int(x) for x in r.stdout.split())
        procs = {}
        try:
            for name, where, user in (("victim", os.path.join(target, "a"), bt.ALICE),
                                      ("other", other, bt.ALICE), ("bob", bob_svc, bt.BOB)):
                pw = pwd.getpwnam(user)
                p = subprocess.Popen(["sleep", "3600"], user=pw.pw_uid, group=pw.pw_gid)
                with open(os.path.join(where, "cgroup.procs"), "w") as f:
                    f.write(str(p.pid))
                procs[name] = p
            broker = bt.broker_pid()
            call = bt.call_async(bt.ALICE, "KillCgroup", "busy", timeout=60)
            # Mid-kill: the killable process is gone, the stuck one holds the wait.
            bt.wait_until(lambda: procs["victim"].poll() is not None, what="KillCgroup to kill the victim")
            time.sleep(0.2)
            self.assertFalse(call.done(), "KillCgroup gave up before the broker was killed")
            os.kill(broker, signal.SIGKILL)
            r = call.result(bt.NO_HANG)
            print("# SIGKILL mid-kill: the caller got %s; stuck process still in the target: %s"
                  % (r.error, stuck in procs_of(target)))
            self.assertFalse(r.ok, r)
            self.assertIsNone(procs["other"].poll(), "a process outside the target was killed")
            self.assertIsNone(procs["bob"].poll(), "bob's process was killed")
            self.assertTrue(os.path.isdir(other) and os.path.isdir(bob_svc))
            self.assertIn(stuck, procs_of(target))

            os.kill(holder, signal.SIGKILL)
            holder = None
            r = bt.call(bt.ALICE, "KillCgroup", "busy")
            self.assertTrue(r.ok, r)
            self.assertFalse(os.path.exists(target))
            self.assertIsNone(procs["other"].poll())
            self.assertIsNone(procs["bob"].poll())
            self.assertEqual(procs_of(other), {procs["other"].pid})
        finally:
            if holder is not None:
                os.kill(holder, signal.SIGKILL)
            for p in procs.values():
                p.kill()
                p.wait()
            bt.wait_until(lambda: not procs_of(hold), what="the holder cgroup to empty")
            os.rmdir(hold)
            bt.remove_cgroup_root()


# ------------------------------------------------------------ the bus goes away

class BusGone(unittest.TestCase):
    """A bus of its own (the sandbox's configuration on another socket), a
    broker started on it directly, and then the bus is SIGKILLed."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="second-bus-", dir=bt.env("LOCALD_SANDBOX_DIR"))
        os.chmod(self.dir, 0o755)
        sock = os.path.join(self.dir, "bus.sock")
        with open(os.path.join(bt.env("LOCALD_SANDBOX_DIR"), "bus.conf")) as f:
            conf = f.read()
        conf = re.sub(r"<listen>unix:path=/run/dbus/system_bus_socket</listen>", "", conf)
        conf = re.sub(r"<listen>unix:path=[^<]*</listen>", "<listen>unix:path=%s</listen>" % sock, conf)
        conf = re.sub(r"<servicedir>[^<]*</servicedir>", "<servicedir>%s</servicedir>" % self.dir, conf)
        with open(os.path.join(self.dir, "bus.conf"), "w") as f:
            f.write(conf)
        self.bus = subprocess.Popen(["dbus-daemon", "--config-file=" + os.path.join(self.dir, "bus.conf"),
                                     "--nofork", "--nopidfile"], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bt.wait_until(lambda: os.path.exists(sock), what="the second bus")
        self.address = "unix:path=" + sock
        self.polkitd = None
        self.broker = None

    def tearDown(self):
        for p in (self.broker, self.polkitd, self.bus):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_broker(self):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        self.log = open(os.path.join(self.dir, "broker.log"), "w+")
        self.broker = subprocess.Popen([bt.env("LOCALD_SANDBOX_BROKERD"), "--idle-timeout=0",
                                        "--cgroup-root=" + bt.cgroup_root_rel()],
                                       stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=env)
        conn = rd.Connection(self.address)
        bt.wait_until(lambda: conn.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                        "NameHasOwner", "s", [bt.BUS_NAME]).body == [True]
                      or self.broker.poll() is not None, what="the broker on the second bus")
        self.assertIsNone(self.broker.poll(), self.broker_log())
        return conn

    def broker_log(self):
        self.log.seek(0)
        return self.log.read()

    def assert_exits_cleanly(self, t0):
        rc = self.broker.wait(timeout=60)
        elapsed = time.monotonic() - t0
        log = self.broker_log()
        print("# bus SIGKILLed: the broker exited with %d after %.2f s" % (rc, elapsed))
        self.assertEqual(rc, 1, "the broker did not exit by itself with status 1:\n" + log)
        self.assertIn("Lost the bus connection", log)
        self.assertEqual([l for l in log.splitlines() if "Sanitizer" in l or "runtime error" in l
                          or "CRITICAL" in l], [], log)

    def test_idle_broker(self):
        conn = self.start_broker()
        r = conn.call(bt.BUS_NAME, bt.OBJECT_PATH, "org.freedesktop.DBus.Properties", "Get", "ss",
                      [bt.INTERFACE, "Version"])
        self.assertEqual(r.type, rd.METHOD_RETURN, r)
        t0 = time.monotonic()
        self.bus.kill()
        self.assert_exits_cleanly(t0)

    def test_broker_with_a_call_running(self):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)
        self.polkitd = subprocess.Popen(["/usr/lib/polkit-1/polkitd"], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                        start_new_session=True)
        conn = self.start_broker()
        # root's own .locald, a tree big enough to be caught mid-removal.
        locald = os.path.join(self.dir, "proj", ".locald")
        dirs, entries = make_tree(os.path.join(locald, "tree"), 200, 100)
        watch = Inotify(dirs)
        try:
            conn.send_call(bt.BUS_NAME, bt.OBJECT_PATH, bt.INTERFACE, "CleanupPath", "s",
                           [os.path.join(locald, "tree")])
            self.assertTrue(watch.wait(bt.NO_HANG), "the broker removed nothing:\n" + self.broker_log())
        finally:
            watch.close()
        t0 = time.monotonic()
        self.bus.kill()
        self.assert_exits_cleanly(t0)


if __name__ == "__main__":
    bt.main()
