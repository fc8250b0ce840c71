#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the hardened unit and an idle host impose on the broker: it starts
with a bounding set already cut to its own capabilities and no CAP_SETPCAP
(as systemd's CapabilityBoundingSet= leaves it), and an idle broker costs no
CPU time."""

import os
import subprocess
import tempfile
import time
import unittest

import brokertest as bt

KEPT = ("cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_kill")
# Bits of the kept capabilities (linux/capability.h).
KEPT_MASK = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 5)
TICKS = os.sysconf("SC_CLK_TCK")


def status_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    raise KeyError(name)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); fields[0] is field 3.
    return (int(fields[11]) + int(fields[12])) / TICKS


class AtRest(unittest.TestCase):
    def test_idle_broker_uses_no_cpu(self):
        bt.broker_args("--idle-timeout=30")
        try:
            r = bt.call(bt.ALICE, "SelfCheck")
            self.assertTrue(r.ok, r)
            pid = bt.broker_pid()
            self.assertIsNotNone(pid)
            time.sleep(0.5)  # let the reply and the audit entry settle
            before = cpu_seconds(pid)
            time.sleep(3)
            used = cpu_seconds(pid) - before
            self.assertEqual(bt.broker_pid(), pid, "the broker exited while idle")
            # A spinning main loop burns ~3 s here; an idle one nothing
            # measurable (a tick is 10 ms).
            self.assertLessEqual(used, 0.02, "idle broker used %.2f s of CPU in 3 s" % used)
        finally:
            bt.broker_args()
            bt.broker_stop()

    def test_starts_without_cap_setpcap(self):
        bt.broker_stop()
        # What the sandbox activates: the memory-checked runs check this start too.
        broker = bt.env("LOCALD_SANDBOX_BROKERD")
        cmd = ["setpriv", "--bounding-set=-all," + ",".join("+" + c[4:] for c in KEPT), "--",
               broker, "--idle-timeout=60", "--cgroup-root=" + bt.env("LOCALD_SANDBOX_CGROUP_ROOT")]
        with tempfile.TemporaryFile(mode="w+") as log:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

            def exited():
                log.seek(0)
                return "the broker exited with %r: %s" % (proc.poll(), log.read())
            try:
                bt.wait_until(lambda: bt.broker_pid() == proc.pid or proc.poll() is not None,
                              what="the broker started under a reduced bounding set to own its name")
                self.assertIsNone(proc.poll(), exited())
                self.assertEqual(int(status_field(proc.pid, "CapBnd"), 16), KEPT_MASK)
                self.assertEqual(int(status_field(proc.pid, "CapEff"), 16), KEPT_MASK)
                self.assertEqual(status_field(proc.pid, "NoNewPrivs"), "1")
                r = bt.call(bt.ALICE, "SelfCheck")
                self.assertTrue(r.ok, r)
                self.assertEqual(bt.broker_pid(), proc.pid, exited())
            finally:
                if proc.poll() is None:
                    proc.terminate()
                proc.wait(timeout=30)


if __name__ == "__main__":
    bt.main()
