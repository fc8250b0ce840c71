#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A SIGTERM that arrives as soon as the broker owns its bus name drains,
it does not kill. The broker once requested dev.locald.Broker1 before it
installed its SIGTERM handler, so a SIGTERM in between (a stop racing an
activation) ended it with calls already routed to it unanswered.

The window is a few instructions wide, so the test makes it deterministic
with strace: a first run finds which sendmsg() of the broker's main thread
carries RequestName, a second run has strace deliver SIGTERM right when that
sendmsg() returns. The broker must then exit 0 through its drain (release
the name, answer what was queued), not be killed by the signal. Skips
without strace or ptrace. See docs/security.md, "A SIGTERM at start-up"."""

import os
import re
import shutil
import subprocess
import unittest

import brokertest as bt


def brokerd():
    return os.environ.get("LOCALD_BROKERD") or os.path.join(bt.BUILDDIR, "broker", "locald-brokerd")


def broker_argv(idle_timeout):
    return [brokerd(), "--cgroup-root=%s" % bt.cgroup_root_rel(), "--idle-timeout=%d" % idle_timeout]


def strace_works():
    if not shutil.which("strace"):
        return False
    return subprocess.run(["strace", "-o", "/dev/null", "true"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


@unittest.skipUnless(strace_works(), "needs a working strace")
class StartupSignal(unittest.TestCase):
    def setUp(self):
        # This test runs the broker itself; no activated one may hold the name.
        bt.broker_stop()
        self.trace = os.path.join(bt.env("LOCALD_SANDBOX_DIR"), "startup-signal.trace")

    def tearDown(self):
        bt.broker_stop()

    def dry_run(self):
        """Runs the broker under strace until its idle exit; returns the
        main thread's trace lines (sendmsg and rt_sigaction)."""
        p = subprocess.run(["strace", "-f", "-qq", "-o", self.trace, "-s", "200",
                            "-e", "trace=sendmsg,rt_sigaction"] + broker_argv(1),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           timeout=bt.NO_HANG)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        with open(self.trace, errors="replace") as f:
            lines = f.read().splitlines()
        main_pid = lines[0].split()[0]
        return [l for l in lines if l.split()[0] == main_pid]

    def request_name_index(self, lines):
        """1-based number of the sendmsg() that carries RequestName."""
        sends = [l for l in lines if re.match(r"\d+ +sendmsg\(", l)]
        for i, l in enumerate(sends, 1):
            if "RequestName" in l:
                return i
        self.fail("no RequestName in the broker's trace")

    def test_handlers_before_the_name(self):
        lines = self.dry_run()
        first_term = next((i for i, l in enumerate(lines)
                           if "rt_sigaction(SIGTERM" in l and "SIG_DFL" not in l.split("{", 1)[1][:30]), None)
        request = next((i for i, l in enumerate(lines) if "sendmsg(" in l and "RequestName" in l), None)
        self.assertIsNotNone(first_term, "the broker installed no SIGTERM handler")
        self.assertIsNotNone(request)
        self.assertLess(first_term, request, "the SIGTERM handler came after RequestName")

    def test_sigterm_right_after_request_name_drains(self):
        n = self.request_name_index(self.dry_run())
        # A long idle timeout: only the signal can end this run.
        p = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=sendmsg",
                            "-e", "inject=sendmsg:signal=SIGTERM:when=%d" % n] + broker_argv(300),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           timeout=bt.NO_HANG)
        self.assertNotEqual(p.returncode, -15, "the broker was killed by SIGTERM")
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertFalse(bt.name_has_owner(), "the name was not released")
        # And the next caller is served by a fresh activation.
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)


if __name__ == "__main__":
    bt.main()
