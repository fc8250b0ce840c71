#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The installed project on a real systemd host, used by unprivileged users
in real login sessions: the broker is bus-activated through systemd under
its hardened unit, and SelfCheck, localdctl status and doctor work.
(Removal by make uninstall: test_uninstall.py.)"""

import json
import os
import re
import unittest

import boxtest
from boxtest import ALICE, BOB, MALLORY, UNIT

# The capabilities the broker keeps (broker/caps.c, docs/security.md) and
# their numbers in the kernel's ABI (linux/capability.h).
DOCUMENTED_CAPS = {"cap_chown": 0, "cap_dac_override": 1, "cap_dac_read_search": 2,
                   "cap_fowner": 3, "cap_kill": 5}
MAX_EXPOSURE = 2.0


def cap_mask(names):
    mask = 0
    for name in names:
        mask |= 1 << DOCUMENTED_CAPS[name]
    return mask


class Boot(unittest.TestCase):
    """The box is a real systemd host, not a stand-in."""

    def test_pid1_is_systemd(self):
        self.assertEqual(boxtest.run_root("cat", "/proc/1/comm").out.strip(), "systemd")
        state = boxtest.run_root("systemctl", "is-system-running", check=False).out.strip()
        self.assertIn(state, ("running", "degraded"))

    def test_system_bus_started_from_dbus_socket(self):
        props = boxtest.unit_show("dbus.service", "ActiveState", "TriggeredBy")
        self.assertEqual(props["ActiveState"], "active")
        self.assertIn("dbus.socket", props["TriggeredBy"].split())
        self.assertEqual(boxtest.unit_show("dbus.socket", "ActiveState")["ActiveState"], "active")

    def test_logind_and_polkitd_on_the_bus(self):
        for unit in ("systemd-logind.service", "polkit.service"):
            with self.subTest(unit=unit):
                self.assertEqual(boxtest.unit_show(unit, "ActiveState")["ActiveState"], "active")
        for name in ("org.freedesktop.login1", "org.freedesktop.PolicyKit1"):
            with self.subTest(name=name):
                self.assertGreater(boxtest.bus_owner_pid(name), 0)


class LoginSession(unittest.TestCase):
    """run_user() commands run in real logind sessions of real users."""

    def session_of(self, user):
        out = boxtest.sh_user(user, 'echo "$XDG_SESSION_ID"; id -un; id -Gn; '
                              'grep "^0::" /proc/self/cgroup; '
                              'loginctl show-session "$XDG_SESSION_ID" -p Name -p Active '
                              '-p Remote -p Class -p Service -p Scope -p State').out
        lines = out.splitlines()
        session = boxtest.parse_properties("\n".join(lines[4:]))
        return lines[0], lines[1], lines[2].split(), lines[3][3:], session

    def test_user_session_is_real(self):
        sid, name, groups, cgroup, session = self.session_of(ALICE)
        self.assertTrue(sid, "no XDG_SESSION_ID: pam_systemd made no session")
        self.assertEqual(name, ALICE)
        self.assertIn(boxtest.GROUP, groups)
        self.assertEqual(session.get("Name"), ALICE, session)
        self.assertEqual(session.get("Active"), "yes", session)
        self.assertEqual(session.get("Remote"), "no", session)
        self.assertEqual(session.get("Class"), "user", session)
        self.assertEqual(session.get("Service"), "login", session)
        # The command itself runs in the session's scope.
        self.assertEqual(os.path.basename(cgroup), session.get("Scope"), cgroup)

    def test_mallory_is_not_in_the_locald_group(self):
        _, name, groups, _, session = self.session_of(MALLORY)
        self.assertEqual(name, MALLORY)
        self.assertNotIn(boxtest.GROUP, groups)
        self.assertEqual(session.get("Active"), "yes", session)


class BrokerUnderSystemd(unittest.TestCase):
    """The broker as systemd runs it from the installed unit."""

    def test_activated_through_systemd_under_the_installed_unit(self):
        pid = boxtest.running_broker_pid(ALICE)
        props = boxtest.unit_show(UNIT, "ActiveState", "SubState", "Type", "BusName",
                                  "FragmentPath", "ControlGroup", "MainPID")
        self.assertEqual(props["ActiveState"], "active", props)
        self.assertEqual(props["SubState"], "running", props)
        self.assertEqual(props["Type"], "dbus", props)
        self.assertEqual(props["BusName"], boxtest.BUS_NAME, props)
        self.assertIn(props["FragmentPath"], boxtest.manifest(),
                      "systemd runs a unit that make install did not install")
        self.assertEqual(props["ControlGroup"], "/system.slice/" + UNIT, props)
        # The bus name's owner is the unit's main process, in the unit's cgroup.
        self.assertEqual(boxtest.bus_owner_pid(), pid)
        self.assertEqual(boxtest.cgroup_of(pid), props["ControlGroup"])

    def test_selfcheck_as_user(self):
        for user in (ALICE, MALLORY):
            with self.subTest(user=user):
                report = boxtest.self_check(user)
                self.assertEqual(report["strategy"], "systemd", report)
                self.assertIn(report["mode"], ("enabled", "degraded"), report)
                self.assertEqual(report["facts"].get("caller_uid"),
                                 boxtest.run_user(user, "id", "-u").out.strip())

    def test_running_broker_keeps_only_the_documented_capabilities(self):
        pid = boxtest.running_broker_pid()
        status = boxtest.proc_status(pid)
        want = cap_mask(DOCUMENTED_CAPS)
        self.assertEqual(status["NoNewPrivs"], "1", status)
        for field in ("CapEff", "CapPrm", "CapBnd"):
            with self.subTest(field=field):
                self.assertEqual(int(status[field], 16), want,
                                 "%s=%s, want %016x" % (field, status[field], want))
        for field in ("CapInh", "CapAmb"):
            with self.subTest(field=field):
                self.assertEqual(int(status[field], 16), 0, status[field])

    def test_documented_set_is_the_daemons_and_the_units(self):
        with open(os.path.join(boxtest.SRCDIR, "broker", "caps.c")) as f:
            m = re.search(r"broker_kept_caps\[\]\s*=\s*\{([^}]*)\}", f.read())
        self.assertIsNotNone(m, "broker_kept_caps not found in broker/caps.c")
        in_source = {c.strip().lower() for c in m.group(1).split(",") if c.strip()}
        self.assertEqual(in_source, set(DOCUMENTED_CAPS))
        bounding = boxtest.unit_show(UNIT, "CapabilityBoundingSet")["CapabilityBoundingSet"]
        self.assertEqual(set(bounding.split()), set(DOCUMENTED_CAPS))

    def test_security_exposure_of_the_installed_unit(self):
        out = boxtest.run_root("systemd-analyze", "security", "--no-pager", UNIT).out
        m = re.search(r"Overall exposure level for %s: ([0-9.]+)" % re.escape(UNIT), out)
        self.assertIsNotNone(m, out[-2000:])
        self.assertLessEqual(float(m.group(1)), MAX_EXPOSURE, out[-2000:])


class Localdctl(unittest.TestCase):
    """localdctl as users in login sessions, against the installed broker."""

    def setUp(self):
        boxtest.assert_broker_startable()

    def test_status(self):
        for user in (ALICE, MALLORY):
            with self.subTest(user=user):
                r = boxtest.run_user(user, "localdctl", "status", check=False)
                self.assertEqual(r.rc, 0, r.describe())
                self.assertIn("Installation is whole and consistent", r.out)
                status = json.loads(boxtest.run_user(user, "localdctl", "status", "--json").out)
                self.assertTrue(status["consistent"], status)
                self.assertTrue(all(f["ok"] for f in status["files"]), status["files"])
                broker = status["broker"]
                self.assertTrue(broker["reachable"] and broker["api_compatible"], broker)

    def test_doctor(self):
        # A fresh host: nobody ran the setup, so the one critical problem is
        # the missing cgroup root, fixed by the admin setup. Anything else
        # critical means the unit keeps the broker from doing its work.
        for user in (ALICE, BOB):
            with self.subTest(user=user):
                r = boxtest.run_user(user, "localdctl", "doctor", "--json", check=False)
                report = json.loads(r.out)
                critical = [p["id"] for p in report["problems"] if p["severity"] == "critical"]
                self.assertEqual(critical, ["cgroup.root_ready"], report)
                self.assertEqual(r.rc, 1, r.describe())
                self.assertEqual(report["strategy"], "systemd", report)
                self.assertFalse(report["ready"], report)
                text = boxtest.run_user(user, "localdctl", "doctor", check=False)
                self.assertEqual(text.rc, 1, text.describe())
                self.assertIn("cgroup.root_ready", text.out)
                self.assertIn("Strategy: systemd", text.out)


if __name__ == "__main__":
    boxtest.main()
