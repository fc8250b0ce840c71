#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""liblocald-broker against the real broker in the sandbox: acquisition
succeeds when ready, and when not, says why with the right problem ids and
fix keys. The library is driven through GObject Introspection, as the test
users, from the build tree."""

import json
import os
import pwd
import subprocess
import textwrap
import unittest

import brokertest as bt

BUILDDIR = os.path.abspath(os.environ.get("top_builddir", "."))

PROBE = textwrap.dedent("""
    import json, gi
    gi.require_version("LocaldBroker", "1")
    from gi.repository import LocaldBroker
    cap, report = LocaldBroker.Privileged.try_acquire(
        LocaldBroker.AcquireFlags.NO_INTERACTIVE_AUTHORIZATION, None)
    print(json.dumps({
        "ready": cap is not None,
        "api_version": cap.get_api_version() if cap else None,
        "problems": [{"id": p.get_id(), "severity": p.get_severity(), "fix": p.get_fix(),
                      "evidence": dict(p.get_evidence())} for p in report.get_problems()],
        "fixes": [f.get_key() for f in report.get_fixes()],
    }))
""")


def run_as(user, argv, **kw):
    pw = pwd.getpwnam(user)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": pw.pw_dir, "USER": user,
           "DBUS_SYSTEM_BUS_ADDRESS": bt.env("DBUS_SYSTEM_BUS_ADDRESS"),
           "GI_TYPELIB_PATH": os.path.join(BUILDDIR, "client"),
           "LD_LIBRARY_PATH": os.path.join(BUILDDIR, "client", ".libs")}
    return subprocess.run(argv, env=env, user=pw.pw_uid, group=pw.pw_gid,
                          extra_groups=os.getgrouplist(user, pw.pw_gid), cwd=pw.pw_dir,
                          capture_output=True, text=True, timeout=bt.NO_HANG, **kw)


def acquire(user):
    r = run_as(user, [bt.gi_python() or "/usr/bin/python3", "-c", PROBE])
    if r.returncode != 0:
        raise AssertionError("probe failed for %s: %s" % (user, r.stderr))
    return json.loads(r.stdout)


def problem(result, pid):
    for p in result["problems"]:
        if p["id"] == pid:
            return p
    raise AssertionError("no problem %s in %r" % (pid, result["problems"]))


def activation_file():
    return os.path.join(bt.env("LOCALD_SANDBOX_DIR"), "services", "dev.locald.Broker1.service")


class HiddenActivationFile:
    """Makes the broker not activatable for the duration of a with block."""

    def __enter__(self):
        bt.broker_stop()
        os.rename(activation_file(), activation_file() + ".hidden")
        bt.bus_call("ReloadConfig")
        return self

    def __exit__(self, *exc):
        os.rename(activation_file() + ".hidden", activation_file())
        bt.bus_call("ReloadConfig")


FAKE_BROKER = textwrap.dedent("""
    # A stand-in that owns the broker's name but speaks ApiVersion 2.
    import sys
    from gi.repository import Gio, GLib
    XML = '''<node><interface name="dev.locald.Broker1">
      <property name="Version" type="s" access="read"/>
      <property name="ApiVersion" type="u" access="read"/>
      <property name="Strategy" type="s" access="read"/>
      <property name="CgroupRoot" type="s" access="read"/>
    </interface></node>'''
    info = Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0]
    values = {"Version": GLib.Variant("s", "99.0"), "ApiVersion": GLib.Variant("u", 2),
              "Strategy": GLib.Variant("s", "direct"), "CgroupRoot": GLib.Variant("s", "")}
    def get_prop(conn, sender, path, iface, name):
        return values[name]
    def acquired(conn, name):
        print("ready", flush=True)
    def bus_acquired(conn, name):
        conn.register_object("/dev/locald/Broker1", info, None, get_prop, None)
    Gio.bus_own_name(Gio.BusType.SYSTEM, "dev.locald.Broker1", Gio.BusNameOwnerFlags.NONE,
                     bus_acquired, acquired, lambda *a: sys.exit(3))
    GLib.MainLoop().run()
""")


# Acquires synchronously, says so, waits for a line on stdin, then calls
# KillCgroup and CleanupPath on the same capability.
AFTER_IDLE = textwrap.dedent("""
    import json, os, sys, gi
    gi.require_version("LocaldBroker", "1")
    from gi.repository import GLib, LocaldBroker
    cap, report = LocaldBroker.Privileged.try_acquire(
        LocaldBroker.AcquireFlags.NO_INTERACTIVE_AUTHORIZATION, None)
    locald = os.path.join(os.environ["HOME"], ".locald")
    os.makedirs(os.path.join(locald, "idle-test", "sub"), exist_ok=True)
    print("acquired" if cap is not None else "not ready", flush=True)
    sys.stdin.readline()
    out = {}
    for name, call in (("kill", lambda: cap.kill_cgroup("idle-test", None)),
                       ("cleanup", lambda: cap.cleanup_path(os.path.join(locald, "idle-test"), None))):
        try:
            ok, value = call()
            out[name] = {"ok": ok, "value": value}
        except GLib.Error as e:
            out[name] = {"ok": False, "error": e.message}
    print(json.dumps(out), flush=True)
""")


class ClientAfterIdleExit(unittest.TestCase):
    """A capability acquired synchronously keeps working after the broker
    has exited for idleness: its calls re-activate the broker."""

    @classmethod
    def setUpClass(cls):
        bt.broker_args("--idle-timeout=2")
        bt.broker_stop()

    @classmethod
    def tearDownClass(cls):
        bt.broker_args()
        bt.broker_stop()

    def test_calls_after_idle_exit(self):
        self.assertTrue(bt.call(bt.ALICE, "SetupCgroupRoot").ok)
        pw = pwd.getpwnam(bt.ALICE)
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": pw.pw_dir, "USER": bt.ALICE,
               "DBUS_SYSTEM_BUS_ADDRESS": bt.env("DBUS_SYSTEM_BUS_ADDRESS"),
               "GI_TYPELIB_PATH": os.path.join(BUILDDIR, "client"),
               "LD_LIBRARY_PATH": os.path.join(BUILDDIR, "client", ".libs")}
        proc = subprocess.Popen([bt.gi_python() or "/usr/bin/python3", "-c", AFTER_IDLE], env=env,
                                user=pw.pw_uid, group=pw.pw_gid,
                                extra_groups=os.getgrouplist(bt.ALICE, pw.pw_gid), cwd=pw.pw_dir,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(proc.stdout.readline().strip(), "acquired")
            first = bt.broker_pid()
            self.assertIsNotNone(first)
            bt.wait_until(lambda: not bt.name_has_owner(), what="the broker to exit when idle")
            bt.wait_until(lambda: not bt.pid_alive(first), what="the idle broker to exit")
            proc.stdin.write("go\n")
            proc.stdin.flush()
            result = json.loads(proc.stdout.readline())
        finally:
            try:
                proc.wait(timeout=bt.NO_HANG)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.assertEqual(result["kill"], {"ok": True, "value": 0}, result)
        self.assertEqual(result["cleanup"], {"ok": True, "value": 2}, result)
        self.assertNotEqual(bt.broker_pid(), first)


FOR_SETUP = textwrap.dedent("""
    import json, os, gi
    gi.require_version("LocaldBroker", "1")
    from gi.repository import GLib, LocaldBroker
    F = LocaldBroker.AcquireFlags
    cap = LocaldBroker.Privileged.acquire(F.NO_INTERACTIVE_AUTHORIZATION | F.FOR_SETUP, None)[0]
    locald = os.path.join(os.environ["HOME"], ".locald")
    os.makedirs(locald, exist_ok=True)
    def attempt(name, call):
        try:
            call()
            out.append([name, "ok"])
        except GLib.Error as e:
            out.append([name, "not_ready" if e.matches(LocaldBroker.error_quark(),
                                                       LocaldBroker.Error.NOT_READY) else e.message])
    out = []
    attempt("kill", lambda: cap.kill_cgroup("svc", None))
    attempt("cleanup", lambda: cap.cleanup_path(os.path.join(locald, "gone"), None))
    attempt("setup", lambda: cap.setup_cgroup_root(None))
    attempt("kill", lambda: cap.kill_cgroup("svc", None))
    attempt("cleanup", lambda: cap.cleanup_path(os.path.join(locald, "gone"), None))
    print(json.dumps(out))
""")


class ClientForSetup(unittest.TestCase):
    def test_for_setup_only_sets_up(self):
        # Not set up: FOR_SETUP acquires, but only setup may be called until
        # it has succeeded.
        bt.remove_cgroup_root()
        r = run_as(bt.ALICE, [bt.gi_python() or "/usr/bin/python3", "-c", FOR_SETUP])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), [["kill", "not_ready"], ["cleanup", "not_ready"],
                                                ["setup", "ok"], ["kill", "ok"], ["cleanup", "ok"]])


class ClientAcquisition(unittest.TestCase):
    def test_ready_after_setup(self):
        self.assertTrue(bt.call(bt.ALICE, "SetupCgroupRoot").ok)
        result = acquire(bt.ALICE)
        self.assertTrue(result["ready"], result)
        self.assertEqual(result["api_version"], 1)
        self.assertFalse([p for p in result["problems"] if p["severity"] == "critical"])

    def test_cgroup_root_missing(self):
        bt.remove_cgroup_root()
        result = acquire(bt.ALICE)
        self.assertFalse(result["ready"])
        self.assertEqual(problem(result, "cgroup.root_ready")["fix"], "run_admin_setup")
        self.assertEqual(problem(result, "cgroup.root_ready")["severity"], "critical")
        self.assertEqual(result["fixes"][0], "run_admin_setup")

    def test_polkit_denies(self):
        result = acquire(bt.MALLORY)
        self.assertFalse(result["ready"])
        p = problem(result, "broker.authorized")
        self.assertEqual(p["fix"], "host_policy_blocks_privileged_helper")
        self.assertEqual(p["evidence"].get("dbus_error"), bt.E_ACCESS_DENIED)

    def test_polkit_down(self):
        # Nobody refused: polkit could not be asked. Not an authorization
        # problem, and not the host-policy fix.
        bt.polkit_stop()
        try:
            result = acquire(bt.ALICE)
        finally:
            bt.polkit_start()
        self.assertFalse(result["ready"])
        p = problem(result, "broker.polkit")
        self.assertEqual(p["fix"], "inspect_broker")
        self.assertEqual(p["evidence"].get("dbus_error"), bt.E_AUTH_UNAVAILABLE)
        self.assertNotIn("broker.authorized", [q["id"] for q in result["problems"]])
        self.assertNotIn("host_policy_blocks_privileged_helper", result["fixes"])

    def test_not_activatable(self):
        with HiddenActivationFile():
            result = acquire(bt.ALICE)
        self.assertFalse(result["ready"])
        p = problem(result, "broker.installed")
        self.assertEqual(p["fix"], "install_broker")
        self.assertEqual(p["evidence"].get("dbus_error"), "org.freedesktop.DBus.Error.ServiceUnknown")
        self.assertEqual(result["fixes"], ["install_broker"])

    def test_api_version_incompatible(self):
        # The real broker has no switch for another ApiVersion, so a small
        # fake owns the name (as root, which the bus policy allows).
        with HiddenActivationFile():
            fake = subprocess.Popen([bt.gi_python() or "/usr/bin/python3", "-c", FAKE_BROKER],
                                    stdout=subprocess.PIPE, text=True)
            try:
                self.assertEqual(fake.stdout.readline().strip(), "ready")
                result = acquire(bt.ALICE)
            finally:
                fake.terminate()
                fake.wait()
        self.assertFalse(result["ready"])
        p = problem(result, "broker.api_version")
        self.assertEqual(p["fix"], "upgrade_broker")
        self.assertEqual(p["evidence"].get("broker_api_version"), "2")
        self.assertEqual(p["evidence"].get("client_api_version"), "1")


if __name__ == "__main__":
    bt.main()
