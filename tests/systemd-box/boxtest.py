# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers for test files that run against a real systemd host.

A test file is a module of unittest TestCases ending in

    if __name__ == "__main__":
        boxtest.main()

main() re-runs the file under tests/systemd-box/locald-systemd-box (systemd
as PID 1 of a container, the real system bus from dbus.socket, logind,
polkitd, the project installed with `make install`) unless it already runs
there, then runs the module's tests and prints TAP. Each test file gets a
fresh box. The tests themselves run on the host, as root, and reach into
the box with run_root() and run_user(); every run_user() is a new logind
login session of that user.

Users (created in the box): ldt-alice and ldt-bob are in group "locald",
which the installed example rules file lets run the cgroup setup without a
prompt; ldt-mallory is not.
"""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
import taprun  # noqa: E402  (tests/lib)

SRCDIR = os.environ.get("top_srcdir") or os.path.dirname(os.path.dirname(HERE))
BOX = os.environ.get("LOCALD_BOX") or os.path.join(HERE, "locald-systemd-box")

BUS_NAME = "dev.locald.Broker1"
OBJECT_PATH = "/dev/locald/Broker1"
INTERFACE = "dev.locald.Broker1"
UNIT = "locald-brokerd.service"

ALICE, BOB, MALLORY = "ldt-alice", "ldt-bob", "ldt-mallory"
GROUP = "locald"

# Generous bound for "it does not hang"; never a performance assertion.
NO_HANG = 60.0
# D-Bus call timeout for busctl: a broker that cannot start answers nothing.
CALL_TIMEOUT = 15


def env(name):
    value = os.environ.get(name)
    if value is None:
        raise RuntimeError("%s is not set: run inside tests/systemd-box/locald-systemd-box" % name)
    return value


# ------------------------------------------------------------ running commands

class Failed(AssertionError):
    """A command in the box exited with an unexpected status."""


class Result:
    """Outcome of one command in the box: rc, out, err (text)."""

    def __init__(self, argv, proc):
        self.argv = argv
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def describe(self):
        return "%s exited with %d\n--- stdout:\n%s--- stderr:\n%s" % (
            " ".join(self.argv), self.rc, self.out, self.err)

    def __repr__(self):
        return "Result(rc=%d, out=%r, err=%r)" % (self.rc, self.out, self.err)


def _box(args, argv, input, check, timeout):
    # The box bounds a user command as well (RuntimeMaxSec), so one this side
    # gave up on does not linger there.
    child_env = dict(os.environ, LOCALD_BOX_EXEC_TIMEOUT=str(int(timeout) + 5))
    proc = subprocess.run([BOX] + args + ["--"] + [str(a) for a in argv],
                          input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout, env=child_env)
    result = Result([str(a) for a in argv], proc)
    if check and result.rc != 0:
        raise Failed(result.describe())
    return result


def run_root(*argv, input=None, check=True, timeout=NO_HANG):
    """Runs ARGV as root in the box's namespaces (clean environment, not a unit)."""
    return _box(["exec-root"], argv, input, check, timeout)


def run_user(user, *argv, setenv=(), input=None, check=True, timeout=NO_HANG):
    """Runs ARGV as USER in a new logind login session of the box's systemd.
    setenv: "VAR=VALUE" strings for the command's environment."""
    args = ["exec-user", user]
    for assignment in setenv:
        args += ["-E", assignment]
    return _box(args, argv, input, check, timeout)


def sh_root(script, *args, **kwargs):
    return run_root("sh", "-c", script, "sh", *args, **kwargs)


def sh_user(user, script, *args, **kwargs):
    return run_user(user, "sh", "-c", script, "sh", *args, **kwargs)


# ------------------------------------------------------------ the box's state

def parse_properties(text):
    """KEY=VALUE lines (systemctl show, loginctl show-session) as a dict."""
    props = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            props[key] = value
    return props


def unit_show(unit, *props):
    args = ["systemctl", "show", "--no-pager", unit]
    for p in props:
        args += ["-p", p]
    return parse_properties(run_root(*args).out)


def proc_status(pid):
    """/proc/PID/status of a process of the box (box pid) as a dict."""
    out = run_root("cat", "/proc/%d/status" % pid).out
    return {k: v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def cgroup_of(pid):
    """The cgroup2 path of box process PID, as the box sees it."""
    for line in run_root("cat", "/proc/%d/cgroup" % pid).out.splitlines():
        if line.startswith("0::"):
            return line[3:]
    return None


def journal(unit=UNIT, lines=None, output="short"):
    """The box's journal of UNIT for this boot, as lines."""
    args = ["journalctl", "--no-pager", "-b", "-u", unit, "-o", output]
    if lines:
        args += ["-n", str(lines)]
    return run_root(*args, check=False).out.splitlines()


def present(paths):
    """Those of PATHS (absolute, in the box) that exist there (symlinks too)."""
    if not paths:
        return []
    out = sh_root('for p; do if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi; done',
                  *paths).out
    return out.splitlines()


def manifest():
    """Every file and symlink `make install` put into the box (recorded by a
    staging install of the same build tree)."""
    with open(env("LOCALD_BOX_MANIFEST")) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def install():
    """make install DESTDIR=<box root> again, then the reloads."""
    subprocess.run([BOX, "install"], check=True, timeout=NO_HANG)


def uninstall():
    """make uninstall DESTDIR=<box root>, then the reloads."""
    subprocess.run([BOX, "uninstall"], check=True, timeout=NO_HANG)


# ------------------------------------------------------------ the broker

def busctl(user, method, signature="", *args, dest=BUS_NAME, path=OBJECT_PATH,
           interface=INTERFACE, check=True, timeout=CALL_TIMEOUT):
    """Calls METHOD with busctl as USER; returns the reply's values (a list),
    or the Result when check=False."""
    argv = ["busctl", "--json=short", "--timeout=%d" % timeout, "call", dest, path,
            interface, method]
    if signature:
        argv += [signature] + [str(a) for a in args]
    if user == "root":
        result = run_root(*argv, check=check, timeout=timeout + NO_HANG)
    else:
        result = run_user(user, *argv, check=check, timeout=timeout + NO_HANG)
    if not check:
        return result
    # A reply without values (Peer.Ping) prints nothing.
    return json.loads(result.out)["data"] if result.out.strip() else []


def bus_owner_pid(name=BUS_NAME):
    """Box pid of the connection owning NAME."""
    return busctl("root", "GetConnectionUnixProcessID", "s", name,
                  dest="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                  interface="org.freedesktop.DBus")[0]


SELF_CHECK_FIELDS = ("strategy", "strategy_reason", "mode", "problems", "facts")


def assert_broker_startable():
    """Fails at once when the broker's unit already failed to start in this
    box: every further activation would start it again, fail again, and
    leave the caller waiting for the bus's activation timeout (25 s)."""
    props = unit_show(UNIT, "ActiveState", "Result")
    if props.get("ActiveState") == "failed":
        raise AssertionError("%s failed to start (Result=%s); its journal ends:\n%s"
                             % (UNIT, props.get("Result"), "\n".join(journal(lines=10))))


def self_check(user=ALICE):
    """SelfCheck as USER (activating the broker if needed), as a dict."""
    assert_broker_startable()
    return dict(zip(SELF_CHECK_FIELDS, busctl(user, "SelfCheck")))


def running_broker_pid(user=ALICE):
    """Activates the broker (a SelfCheck as USER, so it is not about to exit
    idle) and returns its MainPID in the box."""
    self_check(user)
    pid = int(unit_show(UNIT, "MainPID")["MainPID"])
    if pid == 0:
        raise AssertionError("%s has no main process after a SelfCheck" % UNIT)
    return pid


# ------------------------------------------------------------ TAP runner

def _why_not_runnable():
    if os.geteuid() != 0:
        return "needs root (boots a systemd container)"
    if not shutil.which("systemd-nspawn"):
        return "missing systemd-nspawn (package systemd-container)"
    return None


def _journal_tail():
    try:
        return "last lines of the box's journal of %s" % UNIT, journal(lines=25)
    except Exception as e:  # the box may be the thing that broke
        return "the box's journal is unreadable", [str(e)]


def _journal_problems():
    return taprun.log_problems(journal(output="cat"))


def main():
    """Entry point of a test file; see the module docstring."""
    main_mod = taprun.enter_world("LOCALD_BOX_DIR", _why_not_runnable, [BOX, "run", "--"],
                                  "the systemd box cannot run here (see the log)")
    print("# box: %s; cgroup controllers: %s" % (
        run_root("systemctl", "--version").out.splitlines()[0],
        os.environ.get("LOCALD_BOX_CONTROLLERS") or "none (the host keeps them on cgroup v1)"))
    # One extra result per file, as in the sandbox suites: the broker logged
    # no GLib warning or critical.
    taprun.run_module(main_mod, sys.argv[1:], failure_context=_journal_tail,
                      final_checks=[("broker logged no warnings or criticals", _journal_problems)])
