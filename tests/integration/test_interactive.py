#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Interactive authorization: the header flag is honoured, and a caller whose
polkit check waits on an authentication agent does not hold up anyone else."""

import os
import pty
import select
import signal
import unittest

import brokertest as bt


class TtyAgent:
    """pkttyagent registered for one process, on a pty nobody types into."""

    def __init__(self, pid):
        notify_r, notify_w = os.pipe()
        child, self.fd = pty.fork()
        if child == 0:
            try:
                os.close(notify_r)
                os.set_inheritable(notify_w, True)
                os.execvp("pkttyagent", ["pkttyagent", "--process", str(pid),
                                         "--notify-fd", str(notify_w)])
            finally:
                os._exit(127)
        self.pid = child
        self.output = b""
        os.close(notify_w)
        # pkttyagent closes the notify fd once it is registered with polkitd.
        r, _, _ = select.select([notify_r], [], [], bt.NO_HANG)
        os.close(notify_r)
        if not r:
            self.stop()
            raise AssertionError("pkttyagent did not register within %d s" % bt.NO_HANG)
        if not bt.pid_alive(self.pid):
            raise AssertionError("pkttyagent exited: %r" % self.read())

    def read(self):
        while True:
            r, _, _ = select.select([self.fd], [], [], 0)
            if not r:
                break
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk
        return self.output.decode(errors="replace")

    def stop(self):
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        self.read()
        os.close(self.fd)


class Interactive(unittest.TestCase):
    def setUp(self):
        bt.remove_cgroup_root()

    def start_pending_setup(self):
        """carol's interactive SetupCgroupRoot, waiting at her own agent
        (pkttyagent on a pty nobody types into)."""
        carol = bt.call_async(bt.CAROL, "SetupCgroupRoot", interactive=True,
                              timeout=120, start=False)
        agent = TtyAgent(carol.pid)
        try:
            carol.start(carol.request)
            bt.wait_until(lambda: "dev.locald.broker.setup-cgroup" in agent.read()
                          or carol.done(),
                          what="polkitd to hand carol's check to her agent")
        except BaseException:
            agent.stop()
            raise
        return carol, agent

    def assert_nothing_created(self):
        self.assertFalse(os.path.exists(bt.user_cgroup_path(bt.CAROL)),
                         "carol's cgroup was created")

    def test_challenge_without_flag(self):
        r = bt.call(bt.CAROL, "SetupCgroupRoot")
        self.assertFalse(r.ok, r)
        self.assertEqual(r.error, bt.E_INTERACTIVE, r)
        self.assertTrue(r.message)
        self.assert_nothing_created()
        self.assertFalse(os.path.exists(bt.cgroup_root_path()))
        uid = bt.uid_of(bt.CAROL)
        self.assertFalse(bt.audit_lines(method="SetupCgroupRoot", uid=uid, result="ok"))
        # Her self-check needs no authentication at all.
        r = bt.call(bt.CAROL, "SelfCheck")
        self.assertTrue(r.ok, r)

    def test_pending_check_does_not_block_other_callers(self):
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
        broker = bt.broker_pid()

        carol, agent = self.start_pending_setup()
        try:
            self.assertFalse(carol.done(), "carol's call finished without authentication: %r"
                             % (carol.result(0) if carol.done() else None,))

            # Another caller is served while carol's check is pending.
            r = bt.call(bt.ALICE, "SelfCheck")
            self.assertTrue(r.ok, r)
            r = bt.call(bt.BOB, "SetupCgroupRoot")
            self.assertTrue(r.ok, r)
            self.assertFalse(carol.done(), "carol's call was answered before alice's")
            self.assertEqual(bt.broker_pid(), broker)
        finally:
            agent.stop()

        # The agent went away without an answer: carol is refused.
        r = carol.result(bt.NO_HANG)
        self.assertFalse(r.ok, r)
        self.assertEqual(r.error, bt.E_ACCESS_DENIED, r)
        self.assert_nothing_created()
        self.assertTrue(bt.pid_alive(broker))

    def test_caller_disconnecting_mid_check_gets_nothing_done(self):
        """CVE-2021-3560 class: a caller that leaves while its check is
        pending must never have the action carried out."""
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)
        broker = bt.broker_pid()
        uid = bt.uid_of(bt.CAROL)

        carol, agent = self.start_pending_setup()
        try:
            self.assertFalse(carol.done())
            carol.kill()
            bt.wait_until(lambda: bt.audit_lines(method="SetupCgroupRoot", uid=uid),
                          what="the broker to give up on carol's check")
        finally:
            agent.stop()

        lines = bt.audit_lines(method="SetupCgroupRoot", uid=uid)
        self.assertTrue(all(l.get("result") != "ok" for l in lines), lines)
        self.assertTrue(any("disconnected" in l["line"] for l in lines), lines)
        self.assert_nothing_created()
        self.assertTrue(bt.pid_alive(broker))
        self.assertEqual(bt.broker_pid(), broker)
        self.assertTrue(bt.call(bt.ALICE, "SelfCheck").ok)


if __name__ == "__main__":
    bt.main()
