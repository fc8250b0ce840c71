#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A forged JobRemoved cannot fail another user's SetupCgroupRoot under the
systemd strategy. While the broker waits for the end of the start job of
alice's scope, another user unicasts a JobRemoved for that job with result
"failed" to the broker's systemd connection (its unique name is public: the
manager sees it as the caller). The broker accepts the signal only from the
unique name that owned org.freedesktop.systemd1 when it started the job, so
the forgery is ignored and the manager's own JobRemoved decides.

systemd is the mock of test_systemd_strategy.py (tests/unit/
systemd-manager-mock.py), here with its JobRemoved held back for a while so
the forger is first. See docs/security.md, "Forged signals"."""

import unittest

import brokertest as bt
import test_systemd_strategy as ss

MANAGER_PATH = "/org/freedesktop/systemd1"
MANAGER_IFACE = "org.freedesktop.systemd1.Manager"
JOB_DELAY_MS = 1500


def setUpModule():
    ss.setUpModule()


def tearDownModule():
    ss.tearDownModule()


class ForgedJobRemoved(ss.Base):
    MOCK_ARGS = ("--job-delay-ms", str(JOB_DELAY_MS))

    def forge(self, forger, start, result):
        r = bt.emit_signal(forger, start["sender"], MANAGER_PATH, MANAGER_IFACE, "JobRemoved", "uoss",
                           int(start["job"].rsplit("/", 1)[1]), start["job"], start["name"], result)
        self.assertTrue(r.ok, r)

    def test_forged_job_removed_does_not_fail_setup(self):
        h = bt.call_async(bt.ALICE, "SetupCgroupRoot", timeout=30)
        try:
            starts = bt.wait_until(lambda: self.mock.calls("StartTransientUnit"),
                                   what="the broker to start alice's scope")
            start = starts[0]
            self.assertTrue(start["sender"].startswith(":"), start)
            self.assertFalse(h.done(), "the setup ended before the job did")
            # A denied user and a granted one both try to end the job.
            self.forge(bt.MALLORY, start, "failed")
            self.forge(bt.BOB, start, "canceled")
            r = h.result()
        finally:
            h.kill()
        self.assertTrue(r.ok, "a forged JobRemoved failed alice's setup: %r" % (r,))
        self.assertEqual(r.value, [ss.scope_cgroup(bt.ALICE)])
        self.assertEqual([c["outcome"] for c in self.mock.calls("StartTransientUnit")], ["created"])

    def test_forged_job_removed_does_not_end_the_wait_early(self):
        """A forged "done" does not let the broker read the scope before the
        manager has finished the job either."""
        h = bt.call_async(bt.ALICE, "SetupCgroupRoot", timeout=30)
        try:
            start = bt.wait_until(lambda: self.mock.calls("StartTransientUnit"),
                                  what="the broker to start alice's scope")[0]
            self.forge(bt.MALLORY, start, "done")
            bt.call(bt.MALLORY, "SelfCheck")  # a round trip: the forgery was delivered
            self.assertFalse(self.mock.calls("GetUnit"),
                             "the broker went on before the manager's JobRemoved")
            r = h.result()
        finally:
            h.kill()
        self.assertTrue(r.ok, r)


if __name__ == "__main__":
    bt.main()
