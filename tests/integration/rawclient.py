#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A load and timing client of the broker, run as a test user by
test_idle_race.py and test_load.py (raw wire format, tests/lib/rawdbus.py:
cheap enough to keep dozens of connections busy from one process).

Prints {"ready": true, "pid": ...}, then answers one JSON request per line
of stdin with one JSON line:

  {"op": "fire", "at": [T, ...], "timeout": S}
      one SelfCheck per T (time.monotonic() seconds, the clock GLib's
      timers use), each on a connection of its own made beforehand; answers
      {"results": [[T, ANSWER, LATENCY_S], ...]}, ANSWER "ok", an error
      name or null (no reply within S)
  {"op": "load", "connections": K, "calls": M, "mix": [[WEIGHT, CALL], ...],
   "seed": N, "timeout": S}
      K connections each make M calls one after the other, drawn from MIX
      (CALL: {"interface", "member", "signature", "args"}); answers
      {"answers": {ANSWER: count}, "latencies": [...], "missing": n,
       "unexpected": [first few]}: every call is expected to succeed
  {"op": "flood", "connections": K, "depth": D, "seconds": S, "call": CALL}
      K connections each keep D calls in flight for S seconds; answers
      {"sent": n, "answers": {ANSWER: count}, "missing": n}
"""

import json
import os
import random
import select
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import rawdbus as rd  # noqa: E402

BUS = "dev.locald.Broker1"
PATH = "/dev/locald/Broker1"
IFACE = "dev.locald.Broker1"


def answer_of(msg):
    return "ok" if msg.type == rd.METHOD_RETURN else msg.error_name


def send(conn, call):
    return conn.send_call(BUS, PATH, call.get("interface", IFACE), call["member"], call.get("signature", ""),
                          call.get("args", []))


def fire(req):
    at = req["at"]
    conns = [rd.Connection() for _ in at]
    order = sorted(range(len(at)), key=lambda i: at[i])
    serials = {}
    for i in order:
        while True:
            left = at[i] - time.monotonic()
            if left <= 0:
                break
            time.sleep(left if left > 0.002 else 0)
        serials[i] = (conns[i].send_call(BUS, PATH, IFACE, "SelfCheck"), time.monotonic())
    results = [None] * len(at)
    deadline = time.monotonic() + req.get("timeout", 30)
    waiting = set(range(len(at)))
    while waiting and time.monotonic() < deadline:
        r, _, _ = select.select([conns[i] for i in waiting], [], [], 0.1)
        for conn in r:
            i = conns.index(conn)
            conn.fill()
            for msg in conn.pending():
                if msg.type in (rd.METHOD_RETURN, rd.ERROR) and msg.reply_serial == serials[i][0]:
                    results[i] = [serials[i][1], answer_of(msg), time.monotonic() - serials[i][1]]
                    waiting.discard(i)
            if conn.closed:
                waiting.discard(i)
    for i in range(len(at)):
        if results[i] is None:
            results[i] = [serials[i][1], None, None]
        conns[i].close()
    return {"results": results}


def load(req):
    rng = random.Random(req.get("seed", 0))
    weights = [w for w, _ in req["mix"]]
    calls = [c for _, c in req["mix"]]
    k, m = req["connections"], req["calls"]
    timeout = req.get("timeout", 30)
    conns = [rd.Connection() for _ in range(k)]
    left = [m] * k
    inflight = {}  # conn index -> (serial, t0, call)
    answers, latencies, unexpected, slowest = {}, [], [], []
    missing = 0

    def next_call(i):
        call = rng.choices(calls, weights)[0]
        inflight[i] = (send(conns[i], call), time.monotonic(), call)
        left[i] -= 1

    for i in range(k):
        next_call(i)
    while inflight:
        r, _, _ = select.select([conns[i] for i in inflight], [], [], 0.5)
        now = time.monotonic()
        for conn in r:
            i = conns.index(conn)
            conn.fill()
            for msg in conn.pending():
                if i in inflight and msg.type in (rd.METHOD_RETURN, rd.ERROR) and msg.reply_serial == inflight[i][0]:
                    _, t0, call = inflight.pop(i)
                    a = answer_of(msg)
                    answers[a] = answers.get(a, 0) + 1
                    took = time.monotonic() - t0
                    latencies.append(took)
                    # The slowest calls, to find where a tail comes from:
                    # what, on which connection, and when (wall clock, to
                    # compare with the broker's log).
                    slowest.append([took, call["member"], i, time.time() - took, a])
                    slowest.sort(key=lambda e: -e[0])
                    del slowest[3:]
                    if a != "ok" and len(unexpected) < 10:
                        unexpected.append([call["member"], a, msg.error_message])
                    if left[i] > 0:
                        next_call(i)
        for i, (_, t0, call) in list(inflight.items()):
            if now - t0 > timeout or conns[i].closed:
                del inflight[i]
                missing += 1
                if left[i] > 0 and not conns[i].closed:
                    next_call(i)
    for c in conns:
        c.close()
    return {"answers": answers, "latencies": latencies, "missing": missing, "unexpected": unexpected,
            "slowest": slowest}


def flood(req):
    k, depth, call = req["connections"], req["depth"], req["call"]
    conns = [rd.Connection() for _ in range(k)]
    inflight = [set() for _ in range(k)]
    answers = {}
    sent = 0
    end = time.monotonic() + req["seconds"]

    def collect(wait):
        r, _, _ = select.select(conns, [], [], wait)
        for conn in r:
            i = conns.index(conn)
            conn.fill()
            for msg in conn.pending():
                if msg.type in (rd.METHOD_RETURN, rd.ERROR) and msg.reply_serial in inflight[i]:
                    inflight[i].discard(msg.reply_serial)
                    a = answer_of(msg)
                    answers[a] = answers.get(a, 0) + 1

    while time.monotonic() < end:
        for i, conn in enumerate(conns):
            while len(inflight[i]) < depth:
                inflight[i].add(send(conn, call))
                sent += 1
        collect(0.05)
    # The rest is answered within the broker's bounds.
    deadline = time.monotonic() + 30
    while any(inflight) and time.monotonic() < deadline:
        collect(0.1)
    for c in conns:
        c.close()
    return {"sent": sent, "answers": answers, "missing": sum(len(s) for s in inflight)}


class Client:
    """The test's side: this file running as USER (a test user, or root),
    talking JSON lines over a pipe."""

    def __init__(self, user, address):
        import pwd
        import subprocess
        kwargs = {}
        if user != "root":
            pw = pwd.getpwnam(user)
            kwargs = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=os.getgrouplist(user, pw.pw_gid),
                          cwd=pw.pw_dir)
        self.user = user
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.abspath(__file__)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True,
                                     env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
                                          "DBUS_SYSTEM_BUS_ADDRESS": address}, **kwargs)
        hello = json.loads(self.proc.stdout.readline() or "{}")
        if not hello.get("ready"):
            raise RuntimeError("rawclient did not start as %s" % user)

    def start(self, req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()

    def finish(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("rawclient as %s exited (%s)" % (self.user, self.proc.wait()))
        return json.loads(line)

    def request(self, req):
        self.start(req)
        return self.finish()

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def main():
    out = sys.stdout
    out.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    out.flush()
    ops = {"fire": fire, "load": load, "flood": flood}
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        out.write(json.dumps(ops[req["op"]](req)) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
