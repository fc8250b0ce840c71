#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""locald's flow end to end under real systemd (systemd strategy, the
installed hardened unit, polkitd with the installed example rule), as an
unprivileged user in real login sessions, through the client library: set
up once, join, start services, kill them, clean up root-owned leftovers;
then a later session is ready at once. The same lane runs on the sandbox
(direct strategy) in tests/integration/test_locald_flow.py."""

import os
import subprocess
import sys
import time
import unittest

import boxtest
from boxtest import ALICE, MALLORY

sys.path.insert(0, os.path.join(boxtest.SRCDIR, "tests", "flow"))
import flowdriver  # noqa: E402

FLOW = os.path.join(boxtest.SRCDIR, "tests", "flow", "locald-flow.py")


class Completed:
    """A boxtest.Result shaped like subprocess.CompletedProcess."""

    def __init__(self, result):
        self.returncode, self.stdout, self.stderr = result.rc, result.out, result.err


class BoxHost:
    cgroup_mount = "/sys/fs/cgroup"  # the box's own cgroup2 mount, as its root sees it

    def __init__(self):
        self.services = 0

    def run_root(self, argv):
        return Completed(boxtest.run_root(*argv, check=False))

    def run_user(self, user, argv):
        return Completed(boxtest.run_user(user, *argv, check=False))

    def spawn_flow(self, user):
        # A login session of its own, stdin/stdout passed through.
        return subprocess.Popen([boxtest.BOX, "exec-user", user, "--", "/usr/bin/python3", FLOW],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def start_root_process(self, cgroup_dir):
        # As a container runtime does it: a process of a system service
        # (root, in the box's system.slice), moved into the user's cgroup.
        self.services += 1
        unit = "locald-flow-runtime-%d.service" % self.services
        boxtest.run_root("systemd-run", "--quiet", "--collect", "--unit=" + unit, "sleep", "1000")
        pid = boxtest.unit_show(unit, "MainPID")["MainPID"]
        boxtest.sh_root('echo "$1" > "$2/cgroup.procs"', pid, cgroup_dir)
        return int(pid)

    def uid_of(self, user):
        return int(boxtest.run_root("id", "-u", user).out)

    def home_of(self, user):
        return boxtest.run_root("getent", "passwd", user).out.split(":")[5]


class LocaldFlow(unittest.TestCase):
    def test_flow_systemd_strategy(self):
        subtree = flowdriver.run_locald_flow(self, BoxHost(), ALICE, "systemd")
        uid = BoxHost().uid_of(ALICE)
        self.assertEqual(subtree, "/locald.slice/locald-user-%d.scope" % uid)
        # The scope is systemd's, delegated, and kept alive by its keeper
        # after every session that used it has ended.
        props = boxtest.unit_show("locald-user-%d.scope" % uid, "ActiveState", "Delegate", "Slice")
        self.assertEqual(props, {"ActiveState": "active", "Delegate": "yes", "Slice": "locald.slice"})
        keeper = boxtest.run_root("cat", "/sys/fs/cgroup%s/.keeper/cgroup.procs" % subtree).out.split()
        self.assertEqual(len(keeper), 1, keeper)
        status = boxtest.proc_status(int(keeper[0]))
        self.assertEqual(status["Uid"].split()[0], "0")
        self.assertEqual(int(status["CapEff"], 16), 0)
        # localdctl doctor in yet another session: ready, nothing to fix.
        r = boxtest.run_user(ALICE, "localdctl", "--no-ask-password", "doctor", check=False)
        self.assertEqual(r.rc, 0, r.describe())

    def test_idle_broker_uses_no_cpu(self):
        # Under the real unit: a broker that spins (a main loop woken in
        # every iteration) burns a core; an idle one no measurable time.
        pid = boxtest.running_broker_pid()

        def cpu_ticks():
            fields = boxtest.run_root("cat", "/proc/%d/stat" % pid).out.rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])
        before = cpu_ticks()
        time.sleep(3)
        used = cpu_ticks() - before
        self.assertEqual(boxtest.running_broker_pid(), pid)
        self.assertLessEqual(used, 2, "idle broker used %d ticks of CPU in 3 s" % used)

    def test_setup_without_the_group_is_refused(self):
        r = boxtest.run_user(MALLORY, "localdctl", "--no-ask-password", "setup", check=False)
        self.assertNotEqual(r.rc, 0, r.describe())
        uid = BoxHost().uid_of(MALLORY)
        self.assertEqual(boxtest.run_root("test", "-e", "/sys/fs/cgroup/locald.slice/locald-user-%d.scope"
                                          % uid, check=False).rc, 1)


if __name__ == "__main__":
    boxtest.main()
