#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A MOCK of the systemd manager's D-Bus API (org.freedesktop.systemd1). It
# exists because systemd cannot run as PID 1 on the build and test machines
# (PID 1 is not systemd there), so the broker's systemd strategy cannot be
# tested against the real thing. It implements just what that strategy uses:
# StartTransientUnit (scopes), AttachProcessesToUnit, the JobRemoved signal,
# GetUnit and the Scope's ControlGroup property. Users:
#   - tests/unit/test-cgroup-systemd (a private allow-all bus it starts);
#   - tests/integration/test_systemd_strategy.py (the sandbox's bus with the
#     real broker policy plus tests/sandbox/systemd-mock.conf, which lets
#     root own this name and call it).
#
# It does real cgroup work so the returned ControlGroup exists: the scope
# directory is created, the PIDs are moved into it and, with Delegate=true
# and a numeric User=, the directory and its delegation files
# (cgroup.procs, cgroup.subtree_control, cgroup.threads) are chowned to that
# uid, as systemd does for a delegated scope of a user.
#
# Where scopes live (systemd puts slice "a.slice" at /a.slice; the mock puts
# it below a scratch cgroup instead):
#   --slice-dir DIR        DIR is the directory of the slice named after its
#                          last component (e.g. <mount>/<scratch>/locald.slice);
#                          a scope of Slice=X lands in <dirname DIR>/X/<unit>;
#                          the cgroup2 mount holding DIR is found in mountinfo
#   --cgroup-mount M --cgroup-base REL
#                          the same as --slice-dir M/REL/<anything>
# ControlGroup is the scope's path relative to the cgroup2 mount, "/"-led.
#
# Test modes:
#   --fail-unit NAME       the start job of unit NAME ends with result "failed"
#   --misplace-into DIR    every scope is created in DIR, whatever Slice= says
#                          (a manager that places scopes where the broker does
#                          not look); ControlGroup reports that place
#   --job-delay-ms N       JobRemoved comes N ms after the reply (default 20),
#                          e.g. to leave a forger time to get in first
#
# Every call is appended to --record as one line: a GVariant text a{sv}
# (g_variant_parse() in C), or with --record-format=json a JSON object with
# the values unpacked. Lines carry "method", "name", "sender", and for
# StartTransientUnit "sender_uid" and "sender_pid" (from the bus driver, -1
# if unknown), "mode", "properties" and "outcome" (created | exists | failed
# | error) and, when a job was started, "job" (its object path).
#
# Usage: systemd-manager-mock.py --record FILE --ready FILE
#          (--slice-dir DIR | --cgroup-mount DIR --cgroup-base REL)
#          [--record-format gvariant|json] [--fail-unit NAME] [--misplace-into DIR]
#          [--job-delay-ms N]
# It writes FILE given by --ready once it owns the name; SIGTERM stops it.

import argparse
import json
import os
import sys

from gi.repository import Gio, GLib

BUS_NAME = "org.freedesktop.systemd1"
MANAGER_PATH = "/org/freedesktop/systemd1"

MANAGER_XML = """
<node>
  <interface name="org.freedesktop.systemd1.Manager">
    <method name="StartTransientUnit">
      <arg type="s" direction="in"/>
      <arg type="s" direction="in"/>
      <arg type="a(sv)" direction="in"/>
      <arg type="a(sa(sv))" direction="in"/>
      <arg type="o" direction="out"/>
    </method>
    <method name="GetUnit">
      <arg type="s" direction="in"/>
      <arg type="o" direction="out"/>
    </method>
    <method name="AttachProcessesToUnit">
      <arg type="s" direction="in"/>
      <arg type="s" direction="in"/>
      <arg type="au" direction="in"/>
    </method>
    <signal name="JobRemoved">
      <arg type="u"/>
      <arg type="o"/>
      <arg type="s"/>
      <arg type="s"/>
    </signal>
  </interface>
</node>
"""

SCOPE_XML = """
<node>
  <interface name="org.freedesktop.systemd1.Scope">
    <property name="ControlGroup" type="s" access="read"/>
  </interface>
</node>
"""

DELEGATED_FILES = ("cgroup.procs", "cgroup.subtree_control", "cgroup.threads")


def unit_object_path(name):
    # systemd's bus-label escaping: [A-Za-z0-9] stay, the rest is _xx
    escaped = "".join(c if c.isalnum() else "_%02x" % ord(c) for c in name)
    return MANAGER_PATH + "/unit/" + escaped


def unescape_mountinfo(field):
    out, i = "", 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out += chr(int(field[i + 1:i + 4], 8))
            i += 4
        else:
            out += field[i]
            i += 1
    return out


def cgroup2_mount_of(path):
    """The deepest cgroup2 mount point that contains PATH."""
    best = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            head, _, tail = line.partition(" - ")
            if tail.split(" ", 1)[0] != "cgroup2":
                continue
            mp = unescape_mountinfo(head.split(" ")[4])
            if (path == mp or path.startswith(mp.rstrip("/") + "/")) and (best is None or len(mp) > len(best)):
                best = mp
    if best is None:
        raise SystemExit("systemd-manager-mock: %s is not on a cgroup2 mount" % path)
    return best


def plain(value):
    """A GLib.Variant as JSON-able Python values."""
    v = value.unpack() if isinstance(value, GLib.Variant) else value
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


class Mock:
    def __init__(self, args, conn):
        self.args = args
        self.conn = conn
        self.units = {}  # name -> ControlGroup
        self.next_job = 1
        self.scope_info = Gio.DBusNodeInfo.new_for_xml(SCOPE_XML).interfaces[0]

    def record(self, entry):
        if self.args.record_format == "json":
            text = json.dumps({k: plain(v) for k, v in entry.items()}, sort_keys=True)
        else:
            text = GLib.Variant("a{sv}", entry).print_(True)
        with open(self.args.record, "a") as f:
            f.write(text + "\n")

    def scope_dir(self, name, slice_name):
        if self.args.misplace_into:
            return os.path.join(self.args.misplace_into, name)
        return os.path.join(self.args.cgroup_mount, self.args.cgroup_base, slice_name, name)

    def make_scope_cgroup(self, name, props):
        slice_name = props["Slice"].get_string() if "Slice" in props else "system.slice"
        path = self.scope_dir(name, slice_name)
        os.makedirs(path, exist_ok=True)
        for pid in props["PIDs"].unpack() if "PIDs" in props else []:
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write("%d" % pid)
        delegate = "Delegate" in props and props["Delegate"].get_boolean()
        user = props["User"].get_string() if "User" in props else ""
        if delegate and user.isdigit():
            uid = int(user)
            os.chown(path, uid, -1)
            for fname in DELEGATED_FILES:
                os.chown(os.path.join(path, fname), uid, -1)
        return "/" + os.path.relpath(path, self.args.cgroup_mount)

    def sender_credentials(self, sender):
        """(uid, pid) of SENDER from the bus driver, or (-1, -1): a caller may
        use a short-lived connection of its own, so its unique name alone
        does not say who it was."""
        try:
            reply = self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                        "GetConnectionCredentials", GLib.Variant("(s)", (sender,)),
                                        GLib.VariantType("(a{sv})"), Gio.DBusCallFlags.NONE, 5000, None)
        except GLib.Error:
            return -1, -1
        creds = reply.unpack()[0]
        return creds.get("UnixUserID", -1), creds.get("ProcessID", -1)

    def start_transient_unit(self, sender, params, invocation):
        name = params.get_child_value(0).get_string()
        mode = params.get_child_value(1).get_string()
        props = {}
        for i in range(params.get_child_value(2).n_children()):
            pair = params.get_child_value(2).get_child_value(i)
            props[pair.get_child_value(0).get_string()] = pair.get_child_value(1).get_variant()
        entry = {
            "method": GLib.Variant("s", "StartTransientUnit"),
            "name": GLib.Variant("s", name),
            "mode": GLib.Variant("s", mode),
            "sender": GLib.Variant("s", sender or ""),
            "properties": GLib.Variant("a{sv}", props),
        }
        uid, pid = self.sender_credentials(sender)
        entry["sender_uid"] = GLib.Variant("x", uid)
        entry["sender_pid"] = GLib.Variant("x", pid)

        if name in self.units:
            entry["outcome"] = GLib.Variant("s", "exists")
            self.record(entry)
            invocation.return_dbus_error("org.freedesktop.systemd1.UnitExists",
                                         "Unit %s was already loaded or has a fragment file." % name)
            return

        result = "failed" if name == self.args.fail_unit else "done"
        if result == "done":
            try:
                cgroup = self.make_scope_cgroup(name, props)
            except OSError as e:
                # systemd also refuses the call itself when it cannot set
                # the scope up (e.g. a PID that does not exist).
                entry["outcome"] = GLib.Variant("s", "error")
                self.record(entry)
                invocation.return_dbus_error("org.freedesktop.DBus.Error.Failed",
                                             "Cannot set up the cgroup of %s: %s" % (name, e))
                return
            self.units[name] = cgroup
            self.conn.register_object(unit_object_path(name), self.scope_info, None,
                                      lambda *a, n=name: GLib.Variant("s", self.units[n]), None)

        job_id = self.next_job
        self.next_job += 1
        job_path = "%s/job/%d" % (MANAGER_PATH, job_id)
        entry["outcome"] = GLib.Variant("s", "created" if result == "done" else "failed")
        entry["job"] = GLib.Variant("s", job_path)
        self.record(entry)
        invocation.return_value(GLib.Variant("(o)", (job_path,)))

        def job_removed():
            self.conn.emit_signal(None, MANAGER_PATH, "org.freedesktop.systemd1.Manager", "JobRemoved",
                                  GLib.Variant("(uoss)", (job_id, job_path, name, result)))
            return GLib.SOURCE_REMOVE

        # like systemd: the reply first, the job's end a moment later
        GLib.timeout_add(self.args.job_delay_ms, job_removed)

    def get_unit(self, sender, params, invocation):
        name = params.get_child_value(0).get_string()
        self.record({"method": GLib.Variant("s", "GetUnit"), "name": GLib.Variant("s", name),
                     "sender": GLib.Variant("s", sender or "")})
        if name not in self.units:
            invocation.return_dbus_error("org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded." % name)
            return
        invocation.return_value(GLib.Variant("(o)", (unit_object_path(name),)))

    def attach_processes(self, sender, params, invocation):
        """Like systemd: the unit must exist, a subcgroup must already exist
        below its cgroup (systemd does not create it), and the pids move."""
        name, subcgroup, pids = params.unpack()
        entry = {"method": GLib.Variant("s", "AttachProcessesToUnit"), "name": GLib.Variant("s", name),
                 "subcgroup": GLib.Variant("s", subcgroup), "pids": GLib.Variant("au", pids),
                 "sender": GLib.Variant("s", sender or "")}
        self.record(entry)
        if name not in self.units:
            invocation.return_dbus_error("org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded." % name)
            return
        target = os.path.join(self.args.cgroup_mount, self.units[name].lstrip("/"), subcgroup.lstrip("/"))
        try:
            for pid in pids:
                with open(os.path.join(target, "cgroup.procs"), "w") as f:
                    f.write("%d" % pid)
        except OSError as e:
            invocation.return_dbus_error("org.freedesktop.DBus.Error.Failed",
                                         "Failed to attach %s to %s%s: %s" % (pids, name, subcgroup, e))
            return
        invocation.return_value(None)

    def on_call(self, conn, sender, path, iface, method, params, invocation):
        if method == "StartTransientUnit":
            self.start_transient_unit(sender, params, invocation)
        elif method == "GetUnit":
            self.get_unit(sender, params, invocation)
        elif method == "AttachProcessesToUnit":
            self.attach_processes(sender, params, invocation)
        else:
            invocation.return_dbus_error("org.freedesktop.DBus.Error.UnknownMethod", method)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="mock of the systemd manager bus API (tests only)")
    parser.add_argument("--record", required=True)
    parser.add_argument("--record-format", choices=("gvariant", "json"), default="gvariant")
    parser.add_argument("--ready", required=True)
    parser.add_argument("--slice-dir", default="")
    parser.add_argument("--cgroup-mount", default="")
    parser.add_argument("--cgroup-base", default="")
    parser.add_argument("--fail-unit", default="")
    parser.add_argument("--misplace-into", default="")
    parser.add_argument("--job-delay-ms", type=int, default=20)
    args = parser.parse_args(argv)
    if args.slice_dir:
        if args.cgroup_mount or args.cgroup_base:
            parser.error("--slice-dir replaces --cgroup-mount/--cgroup-base")
        slice_dir = os.path.abspath(args.slice_dir)
        args.cgroup_mount = cgroup2_mount_of(slice_dir)
        args.cgroup_base = os.path.relpath(os.path.dirname(slice_dir), args.cgroup_mount)
    elif not (args.cgroup_mount and args.cgroup_base):
        parser.error("give --slice-dir, or --cgroup-mount and --cgroup-base")
    if args.misplace_into:
        args.misplace_into = os.path.abspath(args.misplace_into)
        if not args.misplace_into.startswith(args.cgroup_mount.rstrip("/") + "/"):
            parser.error("--misplace-into must lie on the cgroup2 mount %s" % args.cgroup_mount)
    return args


def main():
    args = parse_args(sys.argv[1:])
    conn = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
    mock = Mock(args, conn)
    manager_info = Gio.DBusNodeInfo.new_for_xml(MANAGER_XML).interfaces[0]
    conn.register_object(MANAGER_PATH, manager_info, mock.on_call, None, None)

    loop = GLib.MainLoop()
    status = {"code": 0}

    def acquired(*_):
        with open(args.ready, "w") as f:
            f.write("ready\n")

    def lost(*_):
        print("systemd-manager-mock: could not own %s (is it allowed by the bus policy?)" % BUS_NAME,
              file=sys.stderr)
        status["code"] = 1
        loop.quit()

    Gio.bus_own_name_on_connection(conn, BUS_NAME, Gio.BusNameOwnerFlags.NONE, acquired, lost)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, 15, loop.quit)
    loop.run()
    sys.exit(status["code"])


if __name__ == "__main__":
    main()
