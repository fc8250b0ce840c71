#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""BindPort on the sandbox, as real users: the returned socket is bound to
the privileged port and a server listening on it accepts a real connection;
the broker and its net helper keep no copy; every refusal (unprivileged
port, public address without the admin grant, malformed address, denied
user, address in use, a caller without fd passing) binds nothing; polkit
rules see the port and address as details."""

import contextlib
import json
import os
import pwd
import socket
import subprocess
import unittest

import brokertest as bt

BUILDDIR = os.path.abspath(os.environ.get("top_builddir", "."))
NOFD_CALL = os.path.join(BUILDDIR, "tests", "integration", "nofd-call")
E_UNSUPPORTED = "dev.locald.Broker1.Error.Unsupported"
E_IN_USE = "dev.locald.Broker1.Error.AddressInUse"


def unprivileged_start():
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        return int(f.read())


def port_free(host, port, family=socket.AF_INET):
    """Whether root could bind host:port right now (and so nothing holds it)."""
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_privileged_port(host="127.0.0.1", prefer=(80, 443, 81, 444, 8, 9)):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for p in list(prefer) + list(range(900, 1000)):
        if p < unprivileged_start() and port_free(host, p, family):
            return p
    raise unittest.SkipTest("no free privileged port on %s" % host)


def bind_port(user, address, port):
    return bt.worker(user).request({"op": "call_fds", "method": "BindPort", "signature": "sq",
                                    "args": [address, port], "timeout": int(bt.NO_HANG * 1000)})


def fd_op(user, op, fd, **kw):
    req = {"op": op, "fd": fd}
    req.update(kw)
    return bt.worker(user).request(req)


def socket_inodes_of(pid):
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(int(link[8:-1]))
    except FileNotFoundError:
        pass
    return inodes


LOCALDCTL = os.path.join(BUILDDIR, "client", "localdctl", ".libs", "localdctl")
if not os.path.exists(LOCALDCTL):
    LOCALDCTL = os.path.join(BUILDDIR, "client", "localdctl", "localdctl")

# A socket-activated server: takes fd 3 as systemd would pass it, checks
# LISTEN_PID is its own pid, serves one connection.
ACTIVATED_SERVER = r"""
import os, socket, sys
assert os.environ["LISTEN_FDS"] == "1", os.environ.get("LISTEN_FDS")
assert int(os.environ["LISTEN_PID"]) == os.getpid(), (os.environ["LISTEN_PID"], os.getpid())
s = socket.socket(fileno=3)
assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
print("ready", flush=True)
c, _ = s.accept()
c.sendall(b"served by pid %d\n" % os.getpid())
c.close()
"""


# The library through GObject introspection: bind_port() returns a GSocket;
# sync_hosts() a count; errors keep their D-Bus names.
LIBRARY_CLIENT = r"""
import json, socket, sys, gi
gi.require_version("LocaldBroker", "1")
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib, LocaldBroker
port = int(sys.argv[1])
cap = LocaldBroker.Privileged.acquire(LocaldBroker.AcquireFlags.NO_INTERACTIVE_AUTHORIZATION, None)[0]
out = {}
sys.stderr.write("acquired\n")
try:
    cap.bind_port("127.0.0.1", 8080, None)
except GLib.Error as e:
    out["unprivileged"] = LocaldBroker.error_get_dbus_name(e)
sys.stderr.write("refused: %r\n" % out)
s = cap.bind_port("127.0.0.1", port, None)
sys.stderr.write("bound: %r\n" % s)
out["type"] = type(s).__name__
addr = s.get_local_address()
out["address"] = [addr.get_address().to_string(), addr.get_port()]
s.listen()
sys.stderr.write("listening\n")
print(json.dumps(out), flush=True)
conn = s.accept(None)
sys.stderr.write("accepted\n")
conn.send(b"library socket\n", None)
conn.close()
"""


def readline_within(proc, timeout=bt.NO_HANG):
    """One line of PROC's stdout, or b"" once TIMEOUT passed (never hangs)."""
    import select
    r, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline() if r else b""


@contextlib.contextmanager
def client_as(user, argv, **extra_env):
    """Runs ARGV as USER, an unprivileged client of the sandbox's bus: in its
    home, with a minimal environment of its own (not the root test runner's)
    plus EXTRA_ENV, and the library from the build tree. Yields the Popen
    (stdout and stderr piped, for readline_within); a client still running
    at the end is killed, so a failed assertion leaves nothing behind."""
    pw = pwd.getpwnam(user)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": pw.pw_dir,
           "DBUS_SYSTEM_BUS_ADDRESS": bt.env("DBUS_SYSTEM_BUS_ADDRESS"),
           "LD_LIBRARY_PATH": os.path.join(BUILDDIR, "client", ".libs")}
    env.update(extra_env)
    proc = subprocess.Popen(argv, user=pw.pw_uid, group=pw.pw_gid, env=env, cwd=pw.pw_dir,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def helper_pid(name="dev.locald.Broker1.Net"):
    r = bt.bus_call("GetConnectionUnixProcessID", "s", name)
    return int(r.value[0]) if r.ok else None


class BindPort(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # localdctl acquires the capability, which needs a ready broker.
        bt.remove_cgroup_root()
        assert bt.call(bt.ALICE, "SetupCgroupRoot").ok

    def test_1_loopback_server_accepts(self):
        port = free_privileged_port()
        r = bind_port(bt.ALICE, "127.0.0.1", port)
        self.assertTrue(r.ok, r)
        self.assertEqual(len(r.fds), 1, r)
        fd = r.fds[0]
        info = fd_op(bt.ALICE, "fd_info", fd)
        self.assertTrue(info.ok, info)
        self.assertEqual(info.value["sockname"], ["127.0.0.1", port])
        self.assertEqual(info.value["type"], socket.SOCK_STREAM)
        self.assertEqual(info.value["reuseaddr"], 1)
        self.assertEqual(info.value["listening"], 0, "the socket must come back bound, not listening")

        # Nobody but the caller holds it: not the broker, not the helper.
        for pid in (bt.broker_pid(), helper_pid()):
            if pid:
                self.assertNotIn(info.value["inode"], socket_inodes_of(pid), "pid %d kept the socket" % pid)

        self.assertTrue(fd_op(bt.ALICE, "listen", fd).ok)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            acc = fd_op(bt.ALICE, "accept", fd, send="hello from port %d\n" % port)
            self.assertTrue(acc.ok, acc)
            self.assertEqual(c.recv(100), b"hello from port %d\n" % port)
        self.assertTrue(fd_op(bt.ALICE, "close", fd).ok)
        lines = bt.wait_for_audit(method="BindPort", uid=bt.uid_of(bt.ALICE), result="ok")
        self.assertTrue(any("bound 127.0.0.1:%d" % port in l.get("detail", "") for l in lines), lines)

    def test_2_ipv6_loopback(self):
        if not socket.has_ipv6 or not os.path.exists("/proc/net/if_inet6"):
            self.skipTest("no IPv6")
        port = free_privileged_port("::1")
        r = bind_port(bt.CAROL, "::1", port)  # loopback: allowed by default
        self.assertTrue(r.ok, r)
        info = fd_op(bt.CAROL, "fd_info", r.fds[0])
        self.assertEqual(info.value["family"], socket.AF_INET6)
        self.assertEqual(info.value["sockname"], ["::1", port])
        fd_op(bt.CAROL, "close", r.fds[0])

    def test_3_unprivileged_port_refused(self):
        start = unprivileged_start()
        for port in (start, start + 1, 65535):
            with self.subTest(port=port):
                r = bind_port(bt.ALICE, "127.0.0.1", port)
                self.assertFalse(r.ok, r)
                self.assertEqual(r.error, bt.E_INVALID_ARGS, r)
                self.assertIn("bind it yourself", r.message)
        self.assertTrue(bt.wait_for_audit(method="BindPort", result="refused"))

    def test_4_public_needs_admin(self):
        port = free_privileged_port("0.0.0.0")
        r = bind_port(bt.CAROL, "0.0.0.0", port)
        self.assertFalse(r.ok, r)
        self.assertEqual(r.error, bt.E_INTERACTIVE, r)
        self.assertTrue(port_free("0.0.0.0", port), "a refused call bound the port")
        r = bind_port(bt.MALLORY, "127.0.0.1", port)
        self.assertEqual(r.error, bt.E_ACCESS_DENIED, r)
        self.assertTrue(port_free("127.0.0.1", port))
        # Granted by rule (ldt-granted): a public bind works.
        r = bind_port(bt.ALICE, "0.0.0.0", port)
        self.assertTrue(r.ok, r)
        self.assertFalse(port_free("0.0.0.0", port))
        fd_op(bt.ALICE, "close", r.fds[0])

    def test_5_malformed_addresses(self):
        port = free_privileged_port()
        for bad in ("localhost", "127.1", "127.0.0.1.", "1.2.3.4.5", "01.2.3.4", "0x7f.0.0.1", " 127.0.0.1",
                    "127.0.0.1\n", "[::1]", "::1%lo", "fe80::1", "::ffff:127.0.0.1", "ff02::1", "", "x" * 5000,
                    "127.0.0.1:80"):
            with self.subTest(address=bad[:20]):
                r = bind_port(bt.ALICE, bad, port)
                self.assertFalse(r.ok, r)
                self.assertEqual(r.error, bt.E_INVALID_ARGS, r)
        r = bind_port(bt.ALICE, "127.0.0.1", 0)
        self.assertEqual(r.error, bt.E_INVALID_ARGS, r)
        self.assertTrue(port_free("127.0.0.1", port))

    def test_6_address_in_use(self):
        port = free_privileged_port()
        holder = socket.socket()
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        try:
            r = bind_port(bt.ALICE, "127.0.0.1", port)
            self.assertFalse(r.ok, r)
            self.assertEqual(r.error, E_IN_USE, r)
            self.assertIn("in use", r.message)
        finally:
            holder.close()

    def test_7_caller_without_fd_passing(self):
        port = free_privileged_port()
        pw = pwd.getpwnam(bt.ALICE)
        out = subprocess.run([NOFD_CALL, "127.0.0.1", str(port)], user=pw.pw_uid, group=pw.pw_gid,
                             env={"DBUS_SYSTEM_BUS_ADDRESS": bt.env("DBUS_SYSTEM_BUS_ADDRESS")},
                             capture_output=True, text=True, timeout=bt.NO_HANG)
        self.assertEqual(out.returncode, 0, "no answer: %r" % (out,))
        self.assertTrue(out.stdout.startswith(E_UNSUPPORTED + " "), out.stdout)
        self.assertIn("file descriptors", out.stdout)
        self.assertTrue(port_free("127.0.0.1", port))

    def test_8_rules_see_port_and_address(self):
        port = free_privileged_port()
        other = free_privileged_port(prefer=[p for p in range(900, 1000) if p != port])
        bt.add_rule("05-bindport-details", """
polkit.addRule(function(action, subject) {
    if (action.id == "dev.locald.broker.bind-port" && action.lookup("port") == "%d"
        && action.lookup("address") == "127.0.0.1" && action.lookup("family") == "ipv4")
        return polkit.Result.NO;
    return polkit.Result.NOT_HANDLED;
});
""" % port)
        try:
            r = bind_port(bt.ALICE, "127.0.0.1", port)
            self.assertEqual(r.error, bt.E_ACCESS_DENIED, r)
            r = bind_port(bt.ALICE, "127.0.0.1", other)
            self.assertTrue(r.ok, r)
            fd_op(bt.ALICE, "close", r.fds[0])
        finally:
            bt.remove_rule("05-bindport-details")

    def test_10_localdctl_bind_activates_a_server(self):
        port = free_privileged_port()
        with client_as(bt.ALICE, [LOCALDCTL, "--no-ask-password", "bind", "127.0.0.1", str(port), "--",
                                  "/usr/bin/python3", "-c", ACTIVATED_SERVER]) as proc:
            line = readline_within(proc)
            if not line:
                proc.kill()
            self.assertEqual(line, b"ready\n", proc.stderr.read() if not line else line)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                self.assertEqual(c.recv(100), b"served by pid %d\n" % proc.pid)
            self.assertEqual(proc.wait(timeout=bt.NO_HANG), 0, proc.stderr.read())

    def test_11_localdctl_bind_refusals(self):
        pw = pwd.getpwnam(bt.MALLORY)
        env = {"PATH": "/usr/bin:/bin", "DBUS_SYSTEM_BUS_ADDRESS": bt.env("DBUS_SYSTEM_BUS_ADDRESS"),
               "LD_LIBRARY_PATH": os.path.join(BUILDDIR, "client", ".libs")}
        for user, args, code in ((bt.MALLORY, ["127.0.0.1", "80"], 3), (bt.ALICE, ["127.0.0.1", "99999"], 2),
                                 (bt.ALICE, ["localhost", "80"], 1), (bt.ALICE, ["127.0.0.1"], 2)):
            with self.subTest(user=user, args=args):
                pw = pwd.getpwnam(user)
                out = subprocess.run([LOCALDCTL, "--no-ask-password", "bind"] + args + ["--", "/bin/true"],
                                     user=pw.pw_uid, group=pw.pw_gid, env=env, cwd="/",
                                     stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                     timeout=bt.NO_HANG)
                self.assertEqual(out.returncode, code, out)

    def test_12_library_returns_a_gsocket(self):
        port = free_privileged_port()
        if not os.path.exists(os.path.join(BUILDDIR, "client", "LocaldBroker-1.typelib")):
            self.skipTest("built without GObject introspection")
        with client_as(bt.ALICE, [bt.gi_python() or "/usr/bin/python3", "-c", LIBRARY_CLIENT, str(port)],
                       GI_TYPELIB_PATH=os.path.join(BUILDDIR, "client")) as proc:
            line = readline_within(proc)
            if not line:
                # Only now: reading stderr waits for the client to exit.
                proc.kill()
                self.fail("the library client printed nothing: %s" % proc.stderr.read())
            out = json.loads(line)
            self.assertEqual(out["type"], "Socket")
            self.assertEqual(out["address"], ["127.0.0.1", port])
            self.assertEqual(out["unprivileged"], bt.E_INVALID_ARGS)
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                self.assertEqual(c.recv(100), b"library socket\n")
            try:
                rc = proc.wait(timeout=bt.NO_HANG)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = "hung"
            self.assertEqual(rc, 0, proc.stderr.read())

    def test_9_helpers_refuse_users(self):
        for name, iface, method, sig, args in (
                ("dev.locald.Broker1.Net", "dev.locald.Broker1.Net", "BindPort", "sq", ["127.0.0.1", 80]),
                ("dev.locald.Broker1.Hosts", "dev.locald.Broker1.Hosts", "SyncHosts", "suasasu",
                 ["/etc/passwd", 0, ["x.test"], ["test"], 5])):
            with self.subTest(helper=name):
                r = bt.worker(bt.ALICE).request({"op": "raw", "dest": name, "path": "/" + iface.replace(".", "/"),
                                                 "interface": iface, "method": method, "signature": sig,
                                                 "args": args})
                self.assertFalse(r.ok, r)
                self.assertEqual(r.error, bt.E_ACCESS_DENIED, r)


if __name__ == "__main__":
    bt.main()
