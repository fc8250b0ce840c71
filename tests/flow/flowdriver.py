# SPDX-License-Identifier: LGPL-2.1-or-later
"""locald's flow end to end (the cgroup lane: acquire, set up once, join,
start services, kill them, clean up root-owned leftovers), driven against a
host: the sandbox (direct strategy) or the systemd box (systemd strategy).

The user's side is tests/flow/locald-flow.py, running unprivileged as the
test user. This driver only acts as root where root acts in real life: it
places a process of its own in the service's cgroup (as a container runtime
does), leaves root-owned files in the project's .locald (as a container's
rootfs does), and inspects the result.

A host provides:
  run_root(argv) -> subprocess.CompletedProcess (text, captured)
  run_user(user, argv) -> the same, as USER
  spawn_flow(user) -> Popen of locald-flow.py as USER (stdin/stdout pipes)
  start_root_process(cgroup_dir) -> pid of a root process moved there
  home_of(user), uid_of(user), cgroup_mount (absolute, as root sees it)
"""

import json
import os
import select
import shlex
import time

ANSWER_TIMEOUT = 60


class Flow:
    """One locald-flow.py process: send a command, read its JSON answer."""

    def __init__(self, proc):
        self.proc = proc
        self.buf = b""
        self.hello = self._read()

    def _read(self):
        deadline = time.monotonic() + ANSWER_TIMEOUT
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("locald-flow gave no answer within %d s" % ANSWER_TIMEOUT)
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError("locald-flow exited (status %s)" % self.proc.wait())
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def ask(self, command):
        self.proc.stdin.write((command + "\n").encode())
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, Exception):
                self.proc.kill()
                self.proc.wait()


def run_locald_flow(test, host, user, expect_strategy):
    """The whole lane as USER on HOST; TEST is the unittest.TestCase."""
    sh = host.run_root
    uid = host.uid_of(user)
    home = host.home_of(user)

    def root_ok(script):
        r = sh(["sh", "-c", script])
        test.assertEqual(r.returncode, 0, "root: %s\n%s%s" % (script, r.stdout, r.stderr))
        return r.stdout

    def exists(path):
        return sh(["test", "-e", path]).returncode == 0

    def alive(pid):
        # Not a zombie, and there.
        r = sh(["sh", "-c", "s=$(cut -d' ' -f3 /proc/%d/stat 2>/dev/null) && [ \"$s\" != Z ]" % pid])
        return r.returncode == 0

    flow = Flow(host.spawn_flow(user))
    try:
        test.assertEqual(flow.hello["uid"], uid, flow.hello)

        # 1. acquire; set up once (granted by the example rule for group locald)
        a = flow.ask("acquire")
        test.assertTrue(a["ok"], a)
        test.assertEqual(a["strategy"], expect_strategy, a)
        subtree = a["setup"]
        test.assertTrue(subtree, "the first acquisition did not set up: %r" % a)
        subtree_dir = os.path.join(host.cgroup_mount, subtree.lstrip("/"))
        test.assertEqual(root_ok("stat -c %%u %s" % shlex.quote(subtree_dir)).strip(), str(uid))

        # 2. join: this (unprivileged) daemon enters its own subtree
        j = flow.ask("join daemon")
        test.assertTrue(j["ok"], j)
        test.assertEqual(j["path"], subtree + "/daemon", j)
        test.assertEqual(j["now_in"], subtree + "/daemon", j)
        daemon_dir = os.path.join(subtree_dir, "daemon")
        test.assertEqual(root_ok("stat -c %%u %s" % shlex.quote(daemon_dir)).strip(), str(uid))
        test.assertIn(str(flow.hello["hello"]), root_ok("cat %s/cgroup.procs" % shlex.quote(daemon_dir)).split())

        #    create svc/web and svc/db as the delegatee and start services there
        web = flow.ask("start svc/web 3")
        test.assertTrue(web["ok"], web)
        db = flow.ask("start svc/db 1")
        test.assertTrue(db["ok"], db)
        web_dir = os.path.join(subtree_dir, "svc", "web")
        db_dir = os.path.join(subtree_dir, "svc", "db")
        #    root places one of its own processes there, as a container runtime would
        root_pid = host.start_root_process(web_dir)
        procs = root_ok("cat %s/cgroup.procs" % shlex.quote(web_dir)).split()
        test.assertEqual(sorted(procs), sorted(str(p) for p in web["pids"] + [root_pid]))

        # 3. kill svc/web: every process gone, the cgroup pruned, the rest untouched
        k = flow.ask("kill svc/web")
        test.assertTrue(k["ok"], k)
        test.assertEqual(k["killed"], 4, k)
        test.assertEqual(sorted(k["our_services"].values()), [-9, -9, -9], k)
        deadline = time.monotonic() + 10
        while alive(root_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        test.assertFalse(alive(root_pid), "root's process in svc/web survived")
        test.assertFalse(exists(web_dir), "svc/web was not removed")
        test.assertTrue(exists(db_dir), "svc/db was removed too")
        test.assertTrue(all(alive(p) for p in db["pids"]), "svc/db's service died")
        test.assertEqual(flow.ask("whereami")["cgroup"], subtree + "/daemon")

        # 4. cleanup of root-owned leftovers under ~/proj/.locald
        proj = os.path.join(home, "proj")
        sh(["rm", "-rf", proj])
        r = host.run_user(user, ["mkdir", "-p", os.path.join(proj, ".locald"), os.path.join(proj, "src")])
        test.assertEqual(r.returncode, 0, r.stderr)
        host.run_user(user, ["sh", "-c", "echo mine > %s/.locald/keep && echo code > %s/src/main.rs"
                             % (shlex.quote(proj), shlex.quote(proj))])
        rootfs = os.path.join(proj, ".locald", "tmp", "rootfs")
        root_ok("mkdir -p {r}/etc {r}/usr/bin {r}/var/empty && echo x > {r}/etc/passwd && "
                "echo y > {r}/usr/bin/tool && chmod 0700 {r}/var/empty && ln -s /etc/shadow {r}/etc/link"
                .format(r=shlex.quote(rootfs)))
        before = root_ok("cd %s && find . ! -path './.locald/tmp*' | sort" % shlex.quote(proj))
        entries = int(root_ok("find %s | wc -l" % shlex.quote(os.path.join(proj, ".locald", "tmp"))))
        c = flow.ask("cleanup " + os.path.join(proj, ".locald", "tmp"))
        test.assertTrue(c["ok"], c)
        test.assertEqual(c["removed"], entries, c)
        test.assertFalse(exists(os.path.join(proj, ".locald", "tmp")))
        test.assertEqual(root_ok("cd %s && find . | sort" % shlex.quote(proj)), before, "cleanup changed more")
        test.assertTrue(exists("/etc/shadow"))
    finally:
        flow.close()

    # A later session: ready without any setup, and it may join without a prompt.
    later = Flow(host.spawn_flow(user))
    try:
        a = later.ask("acquire")
        test.assertTrue(a["ok"], a)
        test.assertIsNone(a["setup"], "a later session had to set up again: %r" % a)
        j = later.ask("join svc/later")
        test.assertTrue(j["ok"], j)
        test.assertEqual(j["now_in"], subtree + "/svc/later", j)
        k = later.ask("kill svc/db")
        test.assertTrue(k["ok"], k)
        test.assertEqual(k["killed"], 1, k)
    finally:
        later.close()
    return subtree
