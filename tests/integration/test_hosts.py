#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""SyncHosts on the sandbox, as real users, against a scratch hosts file
(--hosts-file; never the machine's /etc/hosts): the file holds exactly the
expected block and everything else byte for byte; every refusal changes
nothing; two users syncing concurrently 1,000 times leave a well-formed
file with both blocks; killing the broker and its hosts helper mid-write
always leaves a valid file with the old or the new block; a bind-mounted
hosts file (containers) is rewritten in place."""

import os
import random
import re
import signal
import subprocess
import threading
import time
import unittest

import brokertest as bt

E_NOT_OWNER = "dev.locald.Broker1.Error.NotOwner"

ORIGINAL = (b"127.0.0.1\tlocalhost\n"
            b"::1\tlocalhost ip6-localhost ip6-loopback\n"
            b"# a comment the broker must keep   \n"
            b"\n"
            b"10.0.0.7 intranet.example # trailing comment\n")


def hosts_path():
    return os.path.join(bt.env("LOCALD_SANDBOX_DIR"), "hosts")


def read_hosts():
    with open(hosts_path(), "rb") as f:
        return f.read()


def write_hosts(data, mode=0o644):
    with open(hosts_path(), "wb") as f:
        f.write(data)
    os.chmod(hosts_path(), mode)


def block(user, names):
    if not names:
        return b""
    uid = bt.uid_of(user)
    out = b"# BEGIN locald uid=%d\n" % uid
    for n in names:
        out += b"127.0.0.1 %s\n::1 %s\n" % (n.encode(), n.encode())
    return out + b"# END locald uid=%d\n" % uid


BEGIN_RE = re.compile(rb"^# BEGIN locald uid=(\d+)$")
END_RE = re.compile(rb"^# END locald uid=(\d+)$")


def parse_blocks(data):
    """{uid: [names]} of a well-formed file; raises AssertionError otherwise."""
    blocks, current = {}, None
    for line in data.split(b"\n"):
        m = BEGIN_RE.match(line)
        if m:
            assert current is None, "nested block"
            current = int(m.group(1))
            assert current not in blocks, "block repeated"
            blocks[current] = []
            continue
        m = END_RE.match(line)
        if m:
            assert current == int(m.group(1)), "END without its BEGIN"
            current = None
            continue
        if current is not None:
            addr, name = line.split(b" ")
            assert addr in (b"127.0.0.1", b"::1"), line
            if addr == b"127.0.0.1":
                blocks[current].append(name.decode())
    assert current is None, "unterminated block"
    return blocks


def sync(user, names, worker=None):
    req = bt._call_request("SyncHosts", (list(names),), "as", False, bt.NO_HANG)
    return (worker or bt.worker(user)).request(req)


BUILDDIR = os.path.abspath(os.environ.get("top_builddir", "."))
LOCALDCTL = os.path.join(BUILDDIR, "client", "localdctl", ".libs", "localdctl")
if not os.path.exists(LOCALDCTL):
    LOCALDCTL = os.path.join(BUILDDIR, "client", "localdctl", "localdctl")


def localdctl(user, *args):
    import pwd
    pw = pwd.getpwnam(user)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": pw.pw_dir,
           "DBUS_SYSTEM_BUS_ADDRESS": bt.env("DBUS_SYSTEM_BUS_ADDRESS"),
           "LD_LIBRARY_PATH": os.path.join(BUILDDIR, "client", ".libs")}
    return subprocess.run([LOCALDCTL, "--no-ask-password"] + list(args), user=pw.pw_uid, group=pw.pw_gid,
                          env=env, cwd=pw.pw_dir, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=bt.NO_HANG)


def helper_pid():
    r = bt.bus_call("GetConnectionUnixProcessID", "s", "dev.locald.Broker1.Hosts")
    return int(r.value[0]) if r.ok else None


class Hosts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        write_hosts(ORIGINAL)
        bt.broker_args("--hosts-file=" + hosts_path())
        bt.broker_stop()
        # localdctl acquires the capability, which needs a ready broker.
        bt.remove_cgroup_root()
        assert bt.call(bt.ALICE, "SetupCgroupRoot").ok and bt.call(bt.BOB, "SetupCgroupRoot").ok

    def setUp(self):
        write_hosts(ORIGINAL)

    def test_1_blocks_exact_and_rest_kept(self):
        r = sync(bt.ALICE, ["web.localhost", "api.test", "web.localhost"])
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value, [2])
        self.assertEqual(read_hosts(), ORIGINAL + block(bt.ALICE, ["web.localhost", "api.test"]))

        r = sync(bt.BOB, ["shop.test"])
        self.assertTrue(r.ok, r)
        both = ORIGINAL + block(bt.ALICE, ["web.localhost", "api.test"]) + block(bt.BOB, ["shop.test"])
        self.assertEqual(read_hosts(), both)

        # Replaced where it is; bob's block and the rest stay as they were.
        r = sync(bt.ALICE, ["a.b.c.localhost"])
        self.assertTrue(r.ok, r)
        self.assertEqual(read_hosts(), ORIGINAL + block(bt.ALICE, ["a.b.c.localhost"]) + block(bt.BOB, ["shop.test"]))

        # The same again writes nothing.
        before = os.stat(hosts_path())
        self.assertTrue(sync(bt.ALICE, ["a.b.c.localhost"]).ok)
        self.assertEqual(os.stat(hosts_path()).st_ino, before.st_ino)

        r = sync(bt.ALICE, [])
        self.assertTrue(r.ok, r)
        self.assertEqual(r.value, [0])
        self.assertEqual(read_hosts(), ORIGINAL + block(bt.BOB, ["shop.test"]))
        self.assertTrue(sync(bt.BOB, []).ok)
        self.assertEqual(read_hosts(), ORIGINAL)
        self.assertTrue(bt.wait_for_audit(method="SyncHosts", uid=bt.uid_of(bt.ALICE), result="ok"))

    def test_2_owner_and_mode_kept_no_leftovers(self):
        write_hosts(ORIGINAL, 0o640)
        self.assertTrue(sync(bt.CAROL, ["carol.localhost"]).ok)  # allowed by default
        st = os.stat(hosts_path())
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777), (0, 0, 0o640))
        self.assertEqual(read_hosts(), ORIGINAL + block(bt.CAROL, ["carol.localhost"]))
        leftovers = [n for n in os.listdir(os.path.dirname(hosts_path())) if n.startswith(".hosts.locald-new")]
        self.assertEqual(leftovers, [])
        self.assertTrue(sync(bt.CAROL, []).ok)

    def test_3_refusals_change_nothing(self):
        self.assertTrue(sync(bt.ALICE, ["mine.localhost"]).ok)
        before = read_hosts()
        cases = [
            ["evil.test\n10.6.6.6 bank.example"], ["a b.test"], ["#x.test"], ["x.test #"], ["tab\t.test"],
            ["Upper.localhost"], ["www.example.com"], ["localhost"], ["test"], [".test"], ["a..test"],
            ["-a.test"], ["a-.test"], ["a_b.test"], ["ü.test"], ["x" * 64 + ".test"],
            [("a" * 60 + ".") * 5 + "test"], ["a.test", "ok.localhost\r"], ["\x00.test"], [""],
        ]
        for names in cases:
            with self.subTest(names=repr(names)[:40]):
                r = sync(bt.ALICE, names)
                self.assertFalse(r.ok, r)
                self.assertEqual(r.error, bt.E_INVALID_ARGS, r)
                self.assertNotIn("\n", r.message)
        r = sync(bt.ALICE, ["n%d.test" % i for i in range(65)])
        self.assertEqual(r.error, bt.E_INVALID_ARGS, r)
        self.assertIn("at most 64", r.message)
        # First claim wins.
        r = sync(bt.BOB, ["bobs.test", "mine.localhost"])
        self.assertEqual(r.error, E_NOT_OWNER, r)
        self.assertIn("uid %d" % bt.uid_of(bt.ALICE), r.message)
        r = sync(bt.MALLORY, ["m.test"])
        self.assertEqual(r.error, bt.E_ACCESS_DENIED, r)
        self.assertEqual(read_hosts(), before)
        self.assertTrue(sync(bt.ALICE, []).ok)

    def test_4_malformed_file_is_not_touched(self):
        bad = ORIGINAL + b"# BEGIN locald uid=4242\n127.0.0.1 x.test\n"
        write_hosts(bad)
        r = sync(bt.ALICE, ["a.test"])
        self.assertFalse(r.ok, r)
        self.assertIn("never closed", r.message)
        self.assertEqual(read_hosts(), bad)

    def test_5_two_users_concurrently(self):
        n = 1000
        results = {}

        def run(user, names_a, names_b):
            w = bt.Worker(user)
            failures = 0
            try:
                for i in range(n):
                    r = sync(user, names_a if i % 2 else names_b, worker=w)
                    failures += 0 if r.ok else 1
            finally:
                w.close()
            results[user] = failures

        threads = [threading.Thread(target=run, args=(bt.ALICE, ["a1.test", "a2.localhost"], ["a3.test"])),
                   threading.Thread(target=run, args=(bt.BOB, ["b1.test"], ["b2.test", "b3.localhost"]))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, {bt.ALICE: 0, bt.BOB: 0})
        data = read_hosts()
        self.assertTrue(data.startswith(ORIGINAL))
        blocks = parse_blocks(data[len(ORIGINAL):])
        self.assertEqual(blocks, {bt.uid_of(bt.ALICE): ["a1.test", "a2.localhost"],
                                  bt.uid_of(bt.BOB): ["b1.test"]})
        self.assertTrue(sync(bt.ALICE, []).ok and sync(bt.BOB, []).ok)

    def test_6_sigkill_mid_write_leaves_a_valid_file(self):
        old, new = ["k1.test", "k2.localhost"], ["k3.test"]
        self.assertTrue(sync(bt.ALICE, old).ok)
        stop = threading.Event()
        outcomes = []

        def writer():
            w = bt.Worker(bt.ALICE)
            i = 0
            try:
                while not stop.is_set():
                    i += 1
                    r = sync(bt.ALICE, new if i % 2 else old, worker=w)
                    outcomes.append(r.ok)
            finally:
                w.close()

        t = threading.Thread(target=writer)
        t.start()
        uid = bt.uid_of(bt.ALICE)
        kills = 0
        try:
            deadline = time.monotonic() + 60
            while kills < 40 and time.monotonic() < deadline:
                time.sleep(random.uniform(0.0, 0.03))
                for pid in (helper_pid(), bt.broker_pid() if kills % 4 == 3 else None):
                    if pid:
                        try:
                            os.kill(pid, signal.SIGKILL)
                            kills += 1
                        except ProcessLookupError:
                            pass
                data = read_hosts()
                self.assertTrue(data.startswith(ORIGINAL), data)
                blocks = parse_blocks(data[len(ORIGINAL):])
                self.assertIn(blocks.get(uid), (old, new), data)
        finally:
            stop.set()
            t.join()
        self.assertGreater(kills, 10)
        self.assertIn(True, outcomes, "no sync succeeded between the kills")
        # Still serving, and the file is whole. A call may still reach a
        # broker killed by the last round (the bus answers NoReply when the
        # name's owner dies with the call queued); the next one activates a
        # fresh broker.
        replies = []

        def cleared():
            replies.append(sync(bt.ALICE, []))
            return replies[-1].ok

        bt.wait_until(cleared, timeout=bt.NO_HANG, interval=0.2, what="a sync after the kills: %r" % (replies,))
        self.assertTrue(all(r.ok or r.error == "org.freedesktop.DBus.Error.NoReply" or "could not be reached"
                            in (r.message or "") for r in replies), replies)
        self.assertEqual(read_hosts(), ORIGINAL)

    def test_8_localdctl_hosts(self):
        out = localdctl(bt.ALICE, "hosts", "sync", "one.localhost", "two.test")
        self.assertEqual((out.returncode, out.stdout), (0, "2\n"), out)
        self.assertEqual(read_hosts(), ORIGINAL + block(bt.ALICE, ["one.localhost", "two.test"]))
        out = localdctl(bt.ALICE, "--hosts-file=" + hosts_path(), "hosts", "list")
        self.assertEqual((out.returncode, out.stdout), (0, "one.localhost\ntwo.test\n"), out)
        out = localdctl(bt.BOB, "--hosts-file=" + hosts_path(), "--json", "hosts", "list")
        self.assertEqual((out.returncode, out.stdout.split()), (0, ['{', '"names"', ':', '[]', '}']), out)
        out = localdctl(bt.BOB, "hosts", "sync", "two.test")
        self.assertEqual(out.returncode, 1, out)
        self.assertIn("already claimed", out.stderr)
        out = localdctl(bt.MALLORY, "hosts", "sync", "m.test")
        self.assertEqual(out.returncode, 3, out)
        out = localdctl(bt.ALICE, "hosts", "sync", "bad name.test")
        self.assertEqual(out.returncode, 1, out)
        out = localdctl(bt.ALICE, "hosts", "clear")
        self.assertEqual((out.returncode, out.stdout), (0, "0\n"), out)
        self.assertEqual(read_hosts(), ORIGINAL)

    def test_7_bind_mounted_file_is_rewritten_in_place(self):
        # As in a container: the hosts file is a mount point, rename() over
        # it fails with EBUSY. The sandbox's mount namespace is the broker's.
        source = os.path.join(bt.env("LOCALD_SANDBOX_DIR"), "hosts.source")
        with open(source, "wb") as f:
            f.write(ORIGINAL)
        os.chmod(source, 0o644)
        subprocess.run(["mount", "--bind", source, hosts_path()], check=True)
        try:
            ino = os.stat(hosts_path()).st_ino
            r = sync(bt.ALICE, ["c1.test", "c2.test"])
            self.assertTrue(r.ok, r)
            self.assertEqual(read_hosts(), ORIGINAL + block(bt.ALICE, ["c1.test", "c2.test"]))
            self.assertEqual(os.stat(hosts_path()).st_ino, ino)
            # Shrinking in place leaves no tail of the old contents.
            self.assertTrue(sync(bt.ALICE, ["c1.test"]).ok)
            self.assertEqual(read_hosts(), ORIGINAL + block(bt.ALICE, ["c1.test"]))
            self.assertTrue(sync(bt.ALICE, []).ok)
            self.assertEqual(read_hosts(), ORIGINAL)
            lines = bt.wait_for_audit(method="SyncHosts", result="ok")
            self.assertTrue(any("rewritten in place" in l.get("detail", "") for l in lines))
        finally:
            subprocess.run(["umount", hosts_path()], check=True)


if __name__ == "__main__":
    bt.main()
