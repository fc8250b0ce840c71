#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Plays locald: an unprivileged user's daemon that uses liblocald-broker
(through GObject Introspection) for its privileged work, and does everything
else the way locald does, with the rights the kernel gives a delegatee.

It runs as the test user (in the sandbox, or inside a login session in the
systemd box) and is driven by a test over stdin/stdout: one command per
line, one JSON answer per line. It does nothing a real unprivileged locald
could not do; whatever needs root is the driver's job, done as root would
do it in real life (a container runtime placing a process).

Commands:
  acquire                 acquire the capability, setting up once if the
                          report says setup is what is missing
  join CGROUP             JoinCgroup: move this process into CGROUP
  start CGROUP N          mkdir CGROUP in the subtree as the delegatee and
                          start N services (sleep) there: forked here (so
                          born in this process's cgroup), then moved
  kill CGROUP             KillCgroup; reports which of our services died
  cleanup PATH            CleanupPath
  whereami                this process's cgroup
  quit
"""

import json
import os
import signal
import subprocess
import sys
import time

import gi

gi.require_version("LocaldBroker", "1")
from gi.repository import GLib, LocaldBroker  # noqa: E402

cap = None
services = {}  # cgroup -> [Popen]


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            head, _, tail = line.partition(" - ")
            if tail.split(" ", 1)[0] == "cgroup2":
                return head.split(" ")[4]
    raise RuntimeError("no cgroup2 mount")


def my_cgroup():
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].rstrip("\n")
    return None


def error_of(e):
    return {"ok": False, "error": e.message, "domain": GLib.quark_to_string(e.domain), "code": e.code}


def acquire():
    global cap
    flags = LocaldBroker.AcquireFlags.NO_INTERACTIVE_AUTHORIZATION
    first, report = LocaldBroker.Privileged.try_acquire(flags, None)
    did_setup = None
    if first is None:
        fixes = [f.get_key() for f in report.get_fixes()]
        if "run_admin_setup" not in fixes:
            return {"ok": False, "error": "not ready", "fixes": fixes}
        setup_cap, report = LocaldBroker.Privileged.try_acquire(flags | LocaldBroker.AcquireFlags.FOR_SETUP, None)
        if setup_cap is None:
            return {"ok": False, "error": "cannot acquire for setup",
                    "fixes": [f.get_key() for f in report.get_fixes()]}
        did_setup = setup_cap.setup_cgroup_root(None)
        first, report = LocaldBroker.Privileged.try_acquire(flags, None)
        if first is None:
            return {"ok": False, "error": "not ready after setup",
                    "fixes": [f.get_key() for f in report.get_fixes()]}
    cap = first
    return {"ok": True, "setup": did_setup, "strategy": cap.get_strategy(), "cgroup_root": cap.get_cgroup_root()}


def join(cgroup):
    path = cap.join_cgroup(cgroup, None)
    return {"ok": True, "path": path, "now_in": my_cgroup()}


def start(cgroup, n):
    # The joined cgroup is "<subtree>/<name>"; services go next to it.
    here = my_cgroup()
    subtree = here.rsplit("/", 1)[0]
    target = os.path.join(cgroup2_mount(), subtree.lstrip("/"), cgroup)
    os.makedirs(target, exist_ok=True)
    started = []
    for _ in range(int(n)):
        p = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        with open(os.path.join(target, "cgroup.procs"), "w") as f:
            f.write("%d" % p.pid)
        started.append(p)
    services.setdefault(cgroup, []).extend(started)
    return {"ok": True, "dir": target, "pids": [p.pid for p in started]}


def kill(cgroup):
    _, killed = cap.kill_cgroup(cgroup, None)
    ours = services.pop(cgroup, [])
    deaths = {}
    for p in ours:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        deaths[p.pid] = p.returncode
    return {"ok": True, "killed": killed, "our_services": deaths}


def cleanup(path):
    _, removed = cap.cleanup_path(path, None)
    return {"ok": True, "removed": removed}


def answer(line):
    words = line.split()
    if not words:
        return {"ok": False, "error": "empty command"}
    cmd, args = words[0], words[1:]
    try:
        if cmd == "acquire":
            return acquire()
        if cmd == "join":
            return join(*args)
        if cmd == "start":
            return start(*args)
        if cmd == "kill":
            return kill(*args)
        if cmd == "cleanup":
            return cleanup(" ".join(args))
        if cmd == "whereami":
            return {"ok": True, "pid": os.getpid(), "cgroup": my_cgroup(), "uid": os.getuid()}
    except GLib.Error as e:
        return error_of(e)
    return {"ok": False, "error": "unknown command %r" % cmd}


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    print(json.dumps({"ok": True, "hello": os.getpid(), "uid": os.getuid(), "cgroup": my_cgroup(),
                      "time": time.time()}), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if line == "quit":
            break
        print(json.dumps(answer(line)), flush=True)
    # Services outlive this process, as locald's do; a later session (or
    # the test's teardown) kills them through their cgroup.


if __name__ == "__main__":
    main()
