#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A MOCK of the systemd manager's D-Bus API (org.freedesktop.systemd1), for
# tests/unit/test-cgroup-systemd only. It exists because systemd cannot run
# as PID 1 on the build machines, so the broker's systemd strategy could not
# be tested against the real thing. It implements just what that strategy
# uses: StartTransientUnit (scopes), the JobRemoved signal, GetUnit and the
# Scope's ControlGroup property.
#
# It does real cgroup work so the returned ControlGroup exists: the scope is
# created as <cgroup-mount>/<base>/<Slice>/<unit>, the PIDs are moved into
# it and, with Delegate=true and a numeric User=, the directory and its
# delegation files are chowned to that uid, as systemd would.
#
# Every call is appended to --record as one line in GVariant text format
# (a{sv}) so the C test can parse it with g_variant_parse().
#
# Usage: systemd-manager-mock.py --record FILE --ready FILE
#                                --cgroup-mount DIR --cgroup-base REL
#                                [--fail-unit NAME]

import argparse
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


class Mock:
    def __init__(self, args, conn):
        self.args = args
        self.conn = conn
        self.units = {}  # name -> ControlGroup
        self.next_job = 1
        self.scope_info = Gio.DBusNodeInfo.new_for_xml(SCOPE_XML).interfaces[0]

    def record(self, entry):
        with open(self.args.record, "a") as f:
            f.write(GLib.Variant("a{sv}", entry).print_(True) + "\n")

    def make_scope_cgroup(self, name, props):
        slice_name = props["Slice"].get_string() if "Slice" in props else "system.slice"
        rel = os.path.join(self.args.cgroup_base, slice_name, name)
        path = os.path.join(self.args.cgroup_mount, rel)
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
        return "/" + rel

    def start_transient_unit(self, params, invocation):
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
            "properties": GLib.Variant("a{sv}", props),
        }

        if name in self.units:
            entry["outcome"] = GLib.Variant("s", "exists")
            self.record(entry)
            invocation.return_dbus_error("org.freedesktop.systemd1.UnitExists",
                                         "Unit %s was already loaded or has a fragment file." % name)
            return

        job_id = self.next_job
        self.next_job += 1
        job_path = "%s/job/%d" % (MANAGER_PATH, job_id)
        if name == self.args.fail_unit:
            result = "failed"
        else:
            result = "done"
            self.units[name] = self.make_scope_cgroup(name, props)
            self.conn.register_object(unit_object_path(name), self.scope_info, None,
                                      lambda *a, n=name: GLib.Variant("s", self.units[n]), None)
        entry["outcome"] = GLib.Variant("s", "created" if result == "done" else "failed")
        self.record(entry)
        invocation.return_value(GLib.Variant("(o)", (job_path,)))

        def job_removed():
            self.conn.emit_signal(None, MANAGER_PATH, "org.freedesktop.systemd1.Manager", "JobRemoved",
                                  GLib.Variant("(uoss)", (job_id, job_path, name, result)))
            return GLib.SOURCE_REMOVE

        # like systemd: the reply first, the job's end a moment later
        GLib.timeout_add(20, job_removed)

    def get_unit(self, params, invocation):
        name = params.get_child_value(0).get_string()
        self.record({"method": GLib.Variant("s", "GetUnit"), "name": GLib.Variant("s", name)})
        if name not in self.units:
            invocation.return_dbus_error("org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded." % name)
            return
        invocation.return_value(GLib.Variant("(o)", (unit_object_path(name),)))

    def on_call(self, conn, sender, path, iface, method, params, invocation):
        if method == "StartTransientUnit":
            self.start_transient_unit(params, invocation)
        elif method == "GetUnit":
            self.get_unit(params, invocation)
        else:
            invocation.return_dbus_error("org.freedesktop.DBus.Error.UnknownMethod", method)


def main():
    parser = argparse.ArgumentParser(description="mock of the systemd manager bus API (tests only)")
    parser.add_argument("--record", required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--cgroup-mount", required=True)
    parser.add_argument("--cgroup-base", required=True)
    parser.add_argument("--fail-unit", default="")
    args = parser.parse_args()

    conn = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
    mock = Mock(args, conn)
    manager_info = Gio.DBusNodeInfo.new_for_xml(MANAGER_XML).interfaces[0]
    conn.register_object(MANAGER_PATH, manager_info, mock.on_call, None, None)

    loop = GLib.MainLoop()

    def acquired(*_):
        with open(args.ready, "w") as f:
            f.write("ready\n")

    def lost(*_):
        print("systemd-manager-mock: could not own %s" % BUS_NAME, file=sys.stderr)
        loop.quit()

    Gio.bus_own_name_on_connection(conn, BUS_NAME, Gio.BusNameOwnerFlags.NONE, acquired, lost)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, 15, loop.quit)
    loop.run()


if __name__ == "__main__":
    main()
