#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""D-Bus fuzzing of the running broker: seeded random messages
(tests/integration/busfuzz.py, raw wire format) from root, a granted user
(ldt-alice), a user with the policy defaults (ldt-carol) and a denied user
(ldt-mallory) at once: wrong signatures, boundary and hostile strings,
random header flags, unknown members, interfaces and paths, the standard
interfaces, messages the bus must drop, forged signals, many connections
and hang-ups before the reply.

Asserted: the broker never crashes or restarts (it runs with
--idle-timeout=0, so one pid throughout); every call that expects a reply
gets one within the bound and every answer is one the rules allow (see
busfuzz.py); its descriptor count and RSS after the run are those after the
warm-up, within a tolerance; nothing outside a caller's scope changed
(another user's files, in its own trees and inside the caller's .locald,
and its cgroup and process); and, as for every suite, no GLib warning or
sanitizer report in its log.

LOCALD_FUZZ_SEED=N repeats a run (the seed is printed first);
LOCALD_FUZZ_CALLS=N changes the number of calls (default 20000, plus the
warm-up), e.g. for a longer soak."""

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import brokertest as bt
import memcheck

FUZZER = os.path.join(bt.HERE, "busfuzz.py")
SEED = int(os.environ.get("LOCALD_FUZZ_SEED") or int.from_bytes(os.urandom(4), "little"))
CALLS = int(os.environ.get("LOCALD_FUZZ_CALLS") or 20000)
WARMUP_CALLS = 2000
# (user, kind, share of the calls)
CLIENTS = [("root", "root", 1), (bt.ALICE, "granted", 2), (bt.CAROL, "default", 1), (bt.MALLORY, "denied", 2)]
# After the warm-up every code path has run (the huge arguments too, which
# move glibc's mmap threshold and so the heap's size): what stays allocated
# after 20,000 more calls beyond this is a leak.
FD_TOLERANCE = 2
RSS_TOLERANCE_KB = 4096
REPLY_TIMEOUT = 30.0  # the broker's own polkit bound is 25 s


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return {k: v.strip() for k, _, v in (line.partition(":") for line in f)}


def broker_figures(pid):
    status = proc_status(pid)
    return {"fds": len(os.listdir("/proc/%d/fd" % pid)), "rss_kb": int(status["VmRSS"].split()[0]),
            "threads": int(status["Threads"])}


def chown_tree(top, user):
    pw = pwd.getpwnam(user)
    for dirpath, dirnames, filenames in os.walk(top):
        os.lchown(dirpath, pw.pw_uid, pw.pw_gid)
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), pw.pw_uid, pw.pw_gid)


def write(path, text="canary\n"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


class Canaries:
    """Trees and a process of ldt-bob, who never calls: whatever the other
    users send, none of it may change."""

    def __init__(self):
        self.files = []
        bob = bt.home_of(bt.BOB)
        self.bob_proj = os.path.join(bob, "fuzz-proj")
        for rel in ("keep/a", "keep/sub/b", "t1/c"):
            self.files.append(os.path.join(self.bob_proj, ".locald", rel))
        # A directory nobody else may search, with a .locald inside.
        self.unsearchable = os.path.join(bob, "private")
        self.files.append(os.path.join(self.unsearchable, ".locald", "t1", "secret"))
        # A shared place (/tmp-like, sticky) where bob owns the .locald.
        self.shared_top = tempfile.mkdtemp(prefix="fuzz-shared-", dir=bt.env("LOCALD_SANDBOX_DIR"))
        os.chmod(self.shared_top, 0o1777)
        self.shared = os.path.join(self.shared_top, "proj")
        self.files.append(os.path.join(self.shared, ".locald", "t1", "d"))
        for f in self.files:
            write(f)
        chown_tree(self.bob_proj, bt.BOB)
        chown_tree(self.unsearchable, bt.BOB)
        chown_tree(self.shared, bt.BOB)
        os.chmod(self.unsearchable, 0o700)
        # Each caller's own project: trees it may remove (t0..t7), with
        # bob's files inside some of them and a symlink to bob's tree.
        self.own = {}
        for user in (bt.ALICE, bt.CAROL, bt.MALLORY):
            proj = os.path.join(bt.home_of(user), "fuzz-proj")
            for t in range(8):
                write(os.path.join(proj, ".locald", "t%d" % t, "sub", "f"))
            os.symlink(os.path.join(self.bob_proj, ".locald", "keep"), os.path.join(proj, ".locald", "link"))
            chown_tree(proj, user)
            for t in (1, 3, 5):
                f = os.path.join(proj, ".locald", "t%d" % t, "bobfile")
                write(f)
                pw = pwd.getpwnam(bt.BOB)
                os.chown(f, pw.pw_uid, pw.pw_gid)
                self.files.append(f)
            self.own[user] = proj
        self.own["root"] = tempfile.mkdtemp(prefix="fuzz-root-", dir=bt.env("LOCALD_SANDBOX_DIR"))
        for t in range(8):
            write(os.path.join(self.own["root"], ".locald", "t%d" % t, "f"))
        # bob's cgroup, with a process of his in it.
        r = bt.call(bt.BOB, "SetupCgroupRoot")
        assert r.ok, r
        self.cgroup = os.path.join(bt.user_cgroup_path(bt.BOB), "svc")
        os.makedirs(self.cgroup, exist_ok=True)
        pw = pwd.getpwnam(bt.BOB)
        self.proc = subprocess.Popen(["sleep", "3600"], user=pw.pw_uid, group=pw.pw_gid)
        with open(os.path.join(self.cgroup, "cgroup.procs"), "w") as f:
            f.write(str(self.proc.pid))

    def paths_for(self, user):
        return {"own": self.own[user], "bob": self.bob_proj, "unsearchable": self.unsearchable,
                "shared": self.shared, "alice": self.own[bt.ALICE], "mallory": self.own[bt.MALLORY]}

    def damage(self):
        out = [f for f in self.files if not os.path.isfile(f)]
        if self.proc.poll() is not None:
            out.append("bob's process %d was killed" % self.proc.pid)
        if not os.path.isdir(self.cgroup):
            out.append("bob's cgroup %s was removed" % self.cgroup)
        return out

    def close(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.shared_top, ignore_errors=True)
        shutil.rmtree(self.own["root"], ignore_errors=True)


def run_fuzzers(canaries, calls, seed, tag):
    """Runs one client per CLIENTS entry at once; returns their stats."""
    shares = sum(s for _, _, s in CLIENTS)
    procs = []
    tmp = tempfile.mkdtemp(prefix="fuzz-cfg-", dir=bt.env("LOCALD_SANDBOX_DIR"))
    os.chmod(tmp, 0o755)
    for i, (user, kind, share) in enumerate(CLIENTS):
        cfg = {"seed": seed * 100 + i, "user": user, "kind": kind, "calls": calls * share // shares,
               "address": bt.env("DBUS_SYSTEM_BUS_ADDRESS"), "interface_xml": bt.INTERFACE_XML,
               "paths": canaries.paths_for(user), "reply_timeout": REPLY_TIMEOUT,
               "outstanding": 4, "connections": 3}
        path = os.path.join(tmp, "%s-%d.json" % (tag, i))
        with open(path, "w") as f:
            json.dump(cfg, f)
        os.chmod(path, 0o644)
        kwargs = {}
        if user != "root":
            pw = pwd.getpwnam(user)
            kwargs = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=os.getgrouplist(user, pw.pw_gid),
                          cwd=pw.pw_dir)
        procs.append(subprocess.Popen(["/usr/bin/python3", FUZZER, path], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True,
                                      env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                                           "PYTHONDONTWRITEBYTECODE": "1"}, **kwargs))
    # Every client ends before this returns or raises: one still sending
    # would keep the broker from draining when the test stops it.
    outputs = [p.communicate(timeout=1800) for p in procs]
    shutil.rmtree(tmp, ignore_errors=True)
    for p, (out, err) in zip(procs, outputs):
        if p.returncode != 0:
            raise AssertionError("fuzzing client failed (%d): %s" % (p.returncode, err[-3000:]))
    return [json.loads(out) for out, _ in outputs]


def total(results, key):
    return sum(r[key] for r in results)


class BusFuzz(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        bt.broker_args("--idle-timeout=0")
        bt.broker_stop()

    @classmethod
    def tearDownClass(cls):
        bt.broker_args()
        bt.broker_stop()

    def test_fuzz(self):
        print("# fuzz seed %d (LOCALD_FUZZ_SEED=%d repeats it), %d calls" % (SEED, SEED, CALLS))
        sys.stdout.flush()
        canaries = Canaries()
        try:
            self.run_fuzz(canaries)
        finally:
            canaries.close()

    def run_fuzz(self, canaries):
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
        pid = bt.broker_pid()
        self.assertIsNotNone(pid)

        t0 = time.monotonic()
        warm = run_fuzzers(canaries, WARMUP_CALLS, SEED + 1, "warm")
        self.assert_alive(pid, warm)
        self.settle(pid)
        before = broker_figures(pid)
        t1 = time.monotonic()
        results = run_fuzzers(canaries, CALLS, SEED, "main")
        t2 = time.monotonic()
        self.assert_alive(pid, results)
        self.settle(pid)
        after = broker_figures(pid)

        sent = total(results, "sent")
        errors = {}
        for r in results:
            for k, v in r["errors"].items():
                errors[k] = errors.get(k, 0) + v
        print("# warm-up: %d messages in %.1f s; broker after warm-up: %r"
              % (total(warm, "sent"), t1 - t0, before))
        print("# run: %d messages in %.1f s (%d expecting a reply, %d replies, %d missing; %d with "
              "NO_REPLY_EXPECTED; %d in %d hang-ups; %d refused by the bus, %d kept; %d forged signals; "
              "%d connections); max latency %.2f s"
              % (sent, t2 - t1, total(results, "expect_reply"), total(results, "replies"),
                 total(results, "missing"), total(results, "no_reply_expected"),
                 total(results, "hangup_calls"), total(results, "hangups"), total(results, "bus_rejected"),
                 total(results, "bus_kept"), total(results, "forged_signals"),
                 total(results, "connections"), max(r["max_latency"] for r in results)))
        print("# answers: %d ok, errors %s" % (total(results, "ok"), json.dumps(errors, sort_keys=True)))
        print("# broker after the run: %r (pid %d throughout: %s)" % (after, pid, bt.broker_pid() == pid))
        for r in results:
            print("# client %s (%s) seed %d: %d sent, %d anomalies; slowest answer %.2f s: %s"
                  % (r["user"], r["kind"], r["seed"], r["sent"], r["anomaly_count"], r["max_latency"],
                     r.get("slowest")))
        sys.stdout.flush()

        # Every check at once, so one run tells all that is wrong.
        problems = []
        if sent < CALLS * 0.99:
            problems.append("only %d messages sent" % sent)
        if bt.broker_pid() != pid or not bt.pid_alive(pid):
            problems.append("the broker died, was restarted or lost its name")
        kinds = {}
        for r in results + warm:
            for a in r["anomalies"]:
                kind = a["what"].split(":")[0].split(" (")[0]
                kinds.setdefault(kind, [0, dict(a, user=r["user"], seed=r["seed"])])[0] += 1
        if total(results + warm, "anomaly_count"):
            problems.append("%d anomalies; by kind (count, first case):" % total(results + warm, "anomaly_count"))
            problems += ["  %d x %s: %s" % (n, k, json.dumps(first)) for k, (n, first) in sorted(kinds.items())]
        if total(results, "missing") or total(results, "replies") != total(results, "expect_reply"):
            problems.append("%d of %d calls got no reply" % (total(results, "expect_reply") - total(results, "replies"),
                                                             total(results, "expect_reply")))
        problems += ["touched: %s" % d for d in canaries.damage()]
        if after["fds"] > before["fds"] + FD_TOLERANCE:
            problems.append("descriptors grew: %r -> %r" % (before, after))
        # A memory checker keeps freed blocks aside on purpose (ASan's
        # quarantine, valgrind's free list): there RSS says nothing, and the
        # checker's own leak report is the test.
        if memcheck.mode() is None and after["rss_kb"] > before["rss_kb"] + RSS_TOLERANCE_KB:
            problems.append("RSS grew: %r -> %r" % (before, after))
        self.assertEqual(problems, [], "\n".join(problems))

    def assert_alive(self, pid, results):
        if bt.pid_alive(pid) and bt.broker_pid() == pid:
            return
        log = [l for l in bt.broker_log().splitlines() if "AUDIT" not in l]
        anomalies = [a for r in results for a in r["anomalies"]][:10]
        self.fail("the broker (pid %d) died during the fuzzing; its log without audit lines ends:\n%s\n"
                  "first anomalies:\n%s" % (pid, "\n".join(log[-40:]), "\n".join(json.dumps(a) for a in anomalies)))

    def settle(self, pid):
        """Waits until the broker answers a plain call again (every fuzzed
        call is done with) and has released what the burst left: a second
        after its last call it stops idle threads and trims the heap
        (broker/memory.c), so the figures are read after twice that."""
        r = bt.call(bt.ALICE, "SelfCheck", timeout=60)
        self.assertTrue(r.ok, r)
        time.sleep(2.0)


if __name__ == "__main__":
    bt.main()
