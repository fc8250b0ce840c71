# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers for the locald-brokerd integration tests.

A test file is a module of unittest TestCases ending in

    if __name__ == "__main__":
        brokertest.main()

main() re-runs the file inside tests/sandbox/locald-sandbox (private system
bus, real polkitd, test users, scratch cgroup) unless it already runs in one,
then runs the module's tests and prints TAP, one line per test method.

Calls are made as real unprivileged test users: each user gets a long-lived
brokercall.py process running with that user's uid, gid and groups, talking
JSON lines over a pipe, so a call costs a D-Bus round trip, not a Python
start-up. call_async() starts a fresh process (own connection, own pid) for
concurrency tests.

Users (created by the sandbox): ldt-alice and ldt-bob (a rule grants every
broker action), ldt-mallory (a rule denies every broker action), ldt-carol
(policy defaults: setup needs an admin), ldt-admin (an admin, password
ADMIN_PASSWORD).
"""

import functools
import json
import os
import pwd
import re
import select
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))
import taprun  # noqa: E402  (tests/lib)
import memcheck  # noqa: E402  (the memory-checked runs' final check)
SRCDIR = os.environ.get("top_srcdir") or os.path.dirname(os.path.dirname(HERE))
BUILDDIR = os.environ.get("top_builddir") or SRCDIR
BROKERCALL = os.path.join(HERE, "brokercall.py")
SANDBOX = os.environ.get("LOCALD_SANDBOX") or os.path.join(SRCDIR, "tests", "sandbox", "locald-sandbox")
INTERFACE_XML = os.path.join(SRCDIR, "dbus", "dev.locald.Broker1.xml")

BUS_NAME = "dev.locald.Broker1"
OBJECT_PATH = "/dev/locald/Broker1"
INTERFACE = "dev.locald.Broker1"

ALICE, BOB, MALLORY, CAROL, ADMIN = "ldt-alice", "ldt-bob", "ldt-mallory", "ldt-carol", "ldt-admin"
ADMIN_PASSWORD = "locald-test-pw"

E_ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
E_INTERACTIVE = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
E_INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
E_AUTH_UNAVAILABLE = "dev.locald.Broker1.Error.AuthorizationUnavailable"

# Generous bound for "it does not hang"; never a performance assertion.
NO_HANG = 20.0


def env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError("%s is not set: run inside tests/sandbox/locald-sandbox" % name)
    return value


# ------------------------------------------------------------ interpreter

_gi_python = None


def gi_python():
    """A python3 that has PyGObject and that test users can execute."""
    global _gi_python
    if _gi_python is None:
        candidates = [os.environ.get("LOCALD_TEST_PYTHON"), "/usr/bin/python3",
                      sys.executable, shutil.which("python3")]
        for c in candidates:
            if c and os.access(c, os.X_OK) and subprocess.call(
                    [c, "-c", "import gi; gi.require_version('Gio', '2.0')"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
                _gi_python = c
                break
        else:
            _gi_python = ""
    return _gi_python


# ------------------------------------------------------------ replies

class Reply:
    """Outcome of one D-Bus call: ok + value, or error name + message."""

    def __init__(self, d):
        self.ok = bool(d.get("ok"))
        self.value = d.get("value")
        self.error = d.get("error")
        self.message = d.get("message")
        self.fds = d.get("fds", [])  # ids of descriptors the worker kept (op call_fds)

    def __repr__(self):
        if self.ok:
            return "Reply(ok, %r)" % (self.value,)
        return "Reply(%s: %s)" % (self.error, self.message)


class NoReply(AssertionError):
    pass


# ------------------------------------------------------------ workers

class Worker:
    """A brokercall.py 'serve' process running as USER (its own bus connection)."""

    def __init__(self, user):
        self.user = user
        argv = [gi_python() or "/usr/bin/python3", BROKERCALL, "serve"]
        child_env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                     "DBUS_SYSTEM_BUS_ADDRESS": env("DBUS_SYSTEM_BUS_ADDRESS"),
                     "PYTHONDONTWRITEBYTECODE": "1"}
        kwargs = {}
        if user != "root":
            pw = pwd.getpwnam(user)
            kwargs = dict(user=pw.pw_uid, group=pw.pw_gid,
                          extra_groups=os.getgrouplist(user, pw.pw_gid),
                          cwd=pw.pw_dir)
            child_env.update(HOME=pw.pw_dir, USER=user, LOGNAME=user)
            self.uid = pw.pw_uid
        else:
            self.uid = 0
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=child_env, close_fds=True, **kwargs)
        self._buf = b""
        hello = self._read_json(NO_HANG)
        if not hello.get("ready"):
            raise RuntimeError("brokercall did not start for %s: %r" % (user, hello))
        self.pid = hello["pid"]
        self.unique_name = hello["unique_name"]

    def alive(self):
        return self.proc.poll() is None

    def send(self, req):
        self.proc.stdin.write((json.dumps(req) + "\n").encode())
        self.proc.stdin.flush()

    def ready(self):
        """True when an answer can be read without blocking."""
        if b"\n" in self._buf:
            return True
        r, _, _ = select.select([self.proc.stdout], [], [], 0)
        if r:
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return True
            self._buf += chunk
            return b"\n" in self._buf
        return False

    def _read_json(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoReply("no answer from %s's call within %.0f s" % (self.user, timeout))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise NoReply("brokercall for %s exited (status %s)"
                                  % (self.user, self.proc.wait()))
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def receive(self, timeout=NO_HANG):
        try:
            return Reply(self._read_json(timeout))
        except NoReply:
            self.kill()
            raise

    def request(self, req, timeout=NO_HANG):
        self.send(req)
        return self.receive(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()


_workers = {}


def worker(user):
    w = _workers.get(user)
    if w is None or not w.alive():
        w = _workers[user] = Worker(user)
    return w


def close_workers():
    for w in _workers.values():
        w.close()
    _workers.clear()


def _infer_signature(args):
    sig = ""
    for a in args:
        if isinstance(a, bool):
            sig += "b"
        elif isinstance(a, int):
            sig += "u"
        elif isinstance(a, str):
            sig += "s"
        else:
            raise TypeError("pass signature= for argument %r" % (a,))
    return sig


def _call_request(method, args, signature, interactive, timeout):
    if signature is None:
        signature = _infer_signature(args)
    return {"op": "call", "method": method, "signature": signature, "args": list(args),
            "interactive": interactive, "timeout": int(timeout * 1000)}


def call(user, method, *args, signature=None, interactive=False, timeout=NO_HANG):
    """Calls dev.locald.Broker1.METHOD as USER; returns a Reply.

    timeout is the D-Bus call timeout; the answer must arrive within it plus
    a margin or the test fails with NoReply."""
    return worker(user).request(_call_request(method, args, signature, interactive, timeout),
                                timeout + 5)


def get_property(user, name, timeout=NO_HANG):
    return worker(user).request({"op": "get_property", "name": name,
                                 "timeout": int(timeout * 1000)}, timeout + 5)


def introspect(user, path=OBJECT_PATH, timeout=NO_HANG):
    return worker(user).request({"op": "introspect", "path": path,
                                 "timeout": int(timeout * 1000)}, timeout + 5)


def bus_call(method, signature="", *args, user="root"):
    """A call to the bus driver itself (org.freedesktop.DBus)."""
    return worker(user).request({"op": "raw", "dest": "org.freedesktop.DBus",
                                 "path": "/org/freedesktop/DBus",
                                 "interface": "org.freedesktop.DBus", "method": method,
                                 "signature": signature, "args": list(args)})


def emit_signal(user, dest, path, interface, signal, signature="", *args):
    """USER sends signal INTERFACE.SIGNAL from PATH, unicast to DEST (a
    unique name): what a forger can do, since the bus delivers a unicast
    signal whatever its recipient's match rules say."""
    return worker(user).request({"op": "emit", "dest": dest, "path": path,
                                 "interface": interface, "signal": signal,
                                 "signature": signature, "args": list(args)})


def unique_name_of(name=BUS_NAME):
    """The unique name owning NAME, or None."""
    r = bus_call("GetNameOwner", "s", name)
    return r.value[0] if r.ok else None


class AsyncCall:
    """A call in flight from its own process and connection (see call_async)."""

    def __init__(self, user, req, timeout):
        self.worker = Worker(user)
        self.proc = self.worker.proc
        self.pid = self.worker.pid
        self.unique_name = self.worker.unique_name
        self.timeout = timeout
        self._reply = None
        if req is not None:
            self.start(req)

    def start(self, req):
        self.worker.send(req)

    def done(self):
        return self._reply is not None or self.worker.ready()

    def result(self, timeout=None):
        if self._reply is None:
            self._reply = self.worker.receive(self.timeout + 5 if timeout is None else timeout)
            self.worker.close()
        return self._reply

    def kill(self):
        self.worker.kill()


def call_async(user, method, *args, signature=None, interactive=False, timeout=NO_HANG,
               start=True):
    """Starts METHOD as USER from a new process; returns an AsyncCall.

    With start=False the process is connected (pid and unique_name known)
    but the call is only sent by handle.start(handle.request)."""
    req = _call_request(method, args, signature, interactive, timeout)
    h = AsyncCall(user, req if start else None, timeout)
    h.request = req
    return h


# ------------------------------------------------------------ bus and broker state

def name_has_owner(name=BUS_NAME):
    r = bus_call("NameHasOwner", "s", name)
    assert r.ok, r
    return bool(r.value[0])


def broker_pid():
    """pid of the process owning dev.locald.Broker1, or None."""
    r = bus_call("GetConnectionUnixProcessID", "s", BUS_NAME)
    if not r.ok:
        return None
    return int(r.value[0])


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def glib_seconds_timer(armed, interval, phase):
    """When g_timeout_add_seconds (INTERVAL) armed at ARMED fires - the
    broker's idle timer is one: the expiry is moved onto PHASE (a fraction
    of a second, fixed for the process), never more than a quarter second
    earlier (gmain.c, g_timeout_set_expiration), so up to 0.75 s later."""
    x = armed + interval - phase
    rem = x % 1.0
    if rem >= 0.25:
        x += 1.0
    return x - rem + phase


# What polkitd logs when a rule evaluation outlives its 15 s watchdog. Debian
# 12's polkitd also logs it, 15 s late, when it missed the wake-up of an
# evaluation that had finished (docs/security.md, the load figures): every
# check of every caller waits those 15 s, then succeeds.
POLKITD_STALL = "Terminating runaway script"


def polkitd_log_size():
    try:
        return os.path.getsize(os.path.join(env("LOCALD_SANDBOX_DIR"), "polkitd.log"))
    except OSError:
        return 0


def polkitd_stalls_since(offset):
    """polkitd's watchdog lines logged after byte OFFSET of its log."""
    try:
        with open(os.path.join(env("LOCALD_SANDBOX_DIR"), "polkitd.log"), "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if POLKITD_STALL in line]


def retried_after_polkitd_stall(attempts=3):
    """For a test that bounds the latency of polkit-checked calls under
    load: when it fails while polkitd logged one of its 15 s stalls, which
    hold every caller alike and are polkitd's, not the broker's, the test
    runs again (ATTEMPTS runs in all), saying so. Any other failure, or a
    stall in the last run, fails as usual. The test must clean up after
    itself (try/finally), so that it can run again."""
    def wrap(test):
        @functools.wraps(test)
        def run(self, *args, **kwargs):
            for attempt in range(1, attempts + 1):
                offset = polkitd_log_size()
                try:
                    return test(self, *args, **kwargs)
                except AssertionError as e:
                    stalls = polkitd_stalls_since(offset)
                    if not stalls or attempt == attempts:
                        raise
                    print("# run %d of %s failed (%s) while polkitd stalled (%r): polkitd's, not the "
                          "broker's; running it again" % (attempt, test.__name__, str(e).splitlines()[0],
                                                          stalls[-1].strip()))
        return run
    return wrap


def wait_until(predicate, timeout=NO_HANG, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def broker_log():
    try:
        with open(env("LOCALD_SANDBOX_BROKER_LOG"), errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


_AUDIT_RE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_audit(line):
    """Fields of one 'locald-brokerd: AUDIT k=v ...' line; detail is the rest of the line."""
    body = line.split("AUDIT ", 1)[1]
    fields = {}
    head, sep, detail = body.partition(" detail=")
    for key, value in _AUDIT_RE.findall(head):
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1].encode().decode("unicode_escape")
        fields[key] = value
    if sep:
        fields["detail"] = detail
    elif body.startswith("detail="):
        fields["detail"] = body[len("detail="):]
    return fields


def audit_lines(**match):
    """Parsed audit lines of the broker log, optionally only those whose
    fields equal the given values (method=..., uid=..., result=...)."""
    out = []
    for line in broker_log().splitlines():
        if "locald-brokerd: AUDIT " not in line:
            continue
        fields = parse_audit(line)
        fields["line"] = line
        if all(str(fields.get(k)) == str(v) for k, v in match.items()):
            out.append(fields)
    return out


def wait_for_audit(timeout=5.0, **match):
    """Waits (bounded) for audit lines matching MATCH: the broker may write
    its line just after it sent the reply. Returns them, or [] on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        lines = audit_lines(**match)
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def uid_of(user):
    return pwd.getpwnam(user).pw_uid


def home_of(user):
    return pwd.getpwnam(user).pw_dir


# ------------------------------------------------------------ sandbox control

def _sandbox(*args, stdin=None):
    subprocess.run([SANDBOX] + list(args), input=stdin, check=True, timeout=60)


def add_rule(name, text):
    """Installs polkit rules file NAME and waits until polkitd loaded it."""
    _sandbox("add-rule", name, stdin=text.encode())


def remove_rule(name):
    if not name.endswith(".rules"):
        name += ".rules"
    path = os.path.join(env("LOCALD_SANDBOX_RULES_DIR"), name)
    if os.path.exists(path):
        # An empty file with the same name is a rule-less reload trigger.
        add_rule(name, "")
        os.unlink(path)


def polkit_stop():
    _sandbox("polkit-stop")


def polkit_start():
    _sandbox("polkit-start")


def broker_args(*args):
    """Extra broker arguments for the next activation (see broker_stop)."""
    _sandbox("broker-args", *args)


def broker_stop():
    _sandbox("broker-stop")


def cgroup_of(pid):
    """The cgroup2 path of PID (the '0::/a/b' line of /proc/PID/cgroup)."""
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].rstrip("\n")
    return None


def cgroup_mount():
    return env("LOCALD_SANDBOX_CGROUP_MOUNT")


def cgroup_root_rel():
    """The broker's cgroup root relative to the mount (locald-sandbox-PID/locald)."""
    return env("LOCALD_SANDBOX_CGROUP_ROOT")


def cgroup_root_path():
    """Absolute path of the broker's cgroup root directory."""
    return os.path.join(cgroup_mount(), cgroup_root_rel())


def user_cgroup_path(user):
    return os.path.join(cgroup_root_path(), "user-%d" % uid_of(user))


def remove_cgroup_root():
    """Removes the broker's cgroup root (kill, wait empty, rmdir bottom-up)
    so a test starts from 'nobody ran setup'."""
    root = cgroup_root_path()
    if not os.path.isdir(root):
        return
    kill = os.path.join(root, "cgroup.kill")
    if os.path.exists(kill):
        with open(kill, "w") as f:
            f.write("1")

    def empty():
        with open(os.path.join(root, "cgroup.events")) as f:
            return "populated 0" in f.read().splitlines()
    wait_until(empty, what="%s to be empty" % root)
    for dirpath, _, _ in sorted(os.walk(root), key=lambda t: -t[0].count("/")):
        os.rmdir(dirpath)


# ------------------------------------------------------------ TAP runner

def _cgroup2_mounted():
    try:
        with open("/proc/self/mountinfo") as f:
            return any(" - cgroup2 " in line for line in f)
    except OSError:
        return False


def _why_not_runnable():
    if os.geteuid() != 0:
        return "needs root (sandbox with dbus-daemon, polkitd, test users, cgroups)"
    if not _cgroup2_mounted():
        return "no cgroup2 hierarchy mounted"
    for tool in ("dbus-daemon", "busctl", "unshare", "useradd"):
        if not shutil.which(tool):
            return "missing %s" % tool
    if not os.access("/usr/lib/polkit-1/polkitd", os.X_OK):
        return "missing /usr/lib/polkit-1/polkitd"
    if not gi_python():
        return "no python3 with PyGObject (python3-gi)"
    return None


def _broker_log_tail():
    return "last lines of the broker/bus log", broker_log().splitlines()[-25:]


def main():
    """Entry point of a test file; see the module docstring."""
    main_mod = taprun.enter_world("LOCALD_SANDBOX_DIR", _why_not_runnable, [SANDBOX, "run", "--"],
                                  "the sandbox cannot run here (see the log)")
    # One extra result per file: the broker never logged a GLib warning or
    # critical (a critical in a root daemon is a bug even when calls work).
    # In the memory-checked runs (tests/memcheck/), one more: every broker
    # process stopped and its checker's report clean.
    taprun.run_module(main_mod, sys.argv[1:], failure_context=_broker_log_tail,
                      final_checks=memcheck.final_checks()
                      + [("broker logged no warnings or criticals",
                          lambda: taprun.log_problems(broker_log().splitlines()))],
                      cleanup=close_workers)
