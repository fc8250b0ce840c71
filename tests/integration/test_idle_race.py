#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Calls racing the idle exit: with --idle-timeout=1 the broker exits over
and over, and bursts of calls are aimed at the moment it does (before it
releases its name, while it drains, while the bus activates the next
instance). Every one of at least 1,000 calls must succeed.

Aiming: GLib runs a seconds timer on a fixed sub-second phase of the
monotonic clock (the same CLOCK_MONOTONIC as time.monotonic()), so after
the first exit the test knows, from the reply that armed the timer, when
the next one fires. Each cycle starts its burst at a random offset around
that moment; the printed figures say how many calls landed within 50 ms
before and 250 ms after a release of the name. (test_idle.py covers the
boundary with single calls and fresh connections.)"""

import os
import random
import sys
import threading
import time
import unittest

import brokertest as bt
from rawclient import Client

sys.path.insert(0, os.path.join(os.path.dirname(bt.HERE), "lib"))
import rawdbus as rd  # noqa: E402

TRIES = int(os.environ.get("LOCALD_IDLE_RACE_TRIES") or 1000)
USERS = ("root", bt.ALICE, bt.BOB, bt.CAROL)
PER_USER = 14          # below the 16 calls per uid the broker takes at once
SPACING = 0.003        # between two calls of a burst
NEAR = (-0.05, 0.25)   # "near a release": this far before and after it


class Watcher(threading.Thread):
    """NameOwnerChanged of dev.locald.Broker1, read as they come (a thread
    of its own, so each is stamped when the bus sent it, not when the test
    got round to it): (time, old owner, new owner)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.conn = rd.Connection()
        self.conn.add_match("type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',"
                            "arg0='%s'" % bt.BUS_NAME)
        self.events = []
        self.lock = threading.Lock()
        self.stopping = False
        self.start()

    def run(self):
        while not self.stopping:
            try:
                msg = self.conn.receive(0.1)
            except rd.Disconnected:
                return
            if msg is not None and msg.type == rd.SIGNAL and msg.member == "NameOwnerChanged":
                _, old, new = msg.body
                with self.lock:
                    self.events.append((time.monotonic(), old, new))

    def releases(self):
        with self.lock:
            return [t for t, old, new in self.events if old and not new]

    def stop(self):
        self.stopping = True
        self.join()
        self.conn.close()


class IdleRace(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        bt.broker_args("--idle-timeout=1")
        bt.broker_stop()

    @classmethod
    def tearDownClass(cls):
        bt.broker_args()
        bt.broker_stop()

    def test_no_call_lost_racing_the_idle_exit(self):
        seed = int(os.environ.get("LOCALD_IDLE_RACE_SEED") or int.from_bytes(os.urandom(4), "little"))
        rng = random.Random(seed)
        print("# idle race seed %d (LOCALD_IDLE_RACE_SEED)" % seed)
        address = bt.env("DBUS_SYSTEM_BUS_ADDRESS")
        clients = [Client(u, address) for u in USERS]
        watcher = Watcher()
        reset = rd.Connection()
        results, near, cycles = [], 0, 0
        phase = None
        try:
            while len(results) < TRIES:
                cycles += 1
                r = reset.call(bt.BUS_NAME, bt.OBJECT_PATH, bt.INTERFACE, "SelfCheck", timeout=60)
                self.assertIsNotNone(r, "the reset call got no reply")
                self.assertEqual(r.type, rd.METHOD_RETURN, r)
                armed = time.monotonic()
                if phase is None:
                    # Learn the timer's phase from the first exit.
                    bt.wait_until(watcher.releases, timeout=10, what="the first idle exit")
                    phase = watcher.releases()[-1] % 1.0
                    continue
                fire = bt.glib_seconds_timer(armed, 1, phase)
                start = fire + rng.uniform(-0.02, 0.04)
                at = [start + i * SPACING for i in range(PER_USER * len(clients))]
                for k, c in enumerate(clients):
                    c.start({"op": "fire", "at": at[k::len(clients)], "timeout": 60})
                for c in clients:
                    results += c.finish()["results"]
                time.sleep(0.3)
                rel = [t for t in watcher.releases() if start - 1 < t < at[-1] + 1]
                near += sum(1 for a in at if any(NEAR[0] <= a - t <= NEAR[1] for t in rel))
        finally:
            for c in clients:
                c.close()
            watcher.stop()
        answers = {}
        for _, a, _ in results:
            answers[str(a)] = answers.get(str(a), 0) + 1
        lost = [res for res in results if res[1] != "ok"]
        slowest = max((res[2] or 0) for res in results)
        print("# %d calls in %d bursts, %d idle exits (name released), %d calls within %+d/%+d ms of one; "
              "answers %r; slowest %.2f s" % (len(results), cycles, len(watcher.releases()), near,
                                               NEAR[0] * 1000, NEAR[1] * 1000, answers, slowest))
        self.assertGreaterEqual(len(results), TRIES)
        self.assertEqual(lost, [], "calls lost or refused around the idle exit (first: %r)" % lost[:5])
        # The aim was true: the exits did happen in the middle of the bursts.
        self.assertGreaterEqual(len(watcher.releases()), cycles // 4)
        self.assertGreaterEqual(near, TRIES // 10)


if __name__ == "__main__":
    bt.main()
