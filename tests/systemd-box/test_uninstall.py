#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""make uninstall on a real systemd host removes every file make install put
there, and systemd and the bus forget the broker. A file of its own: it
leaves its box without the project."""

import unittest

import boxtest
from boxtest import ALICE, UNIT

# What an installation must contain at least (the files localdctl status checks).
KEY_FILES = ("/usr/libexec/locald-brokerd",
             "/usr/share/dbus-1/system-services/dev.locald.Broker1.service",
             "/usr/share/dbus-1/system.d/dev.locald.Broker1.conf",
             "/usr/share/polkit-1/actions/dev.locald.broker.policy",
             "/usr/share/dbus-1/interfaces/dev.locald.Broker1.xml",
             "/usr/bin/localdctl")


class Uninstall(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.manifest = boxtest.manifest()
        cls.before = boxtest.present(cls.manifest)
        # Uninstalled the way an administrator would on a live system: the
        # broker has been running; stop it, remove the files, reload.
        boxtest.running_broker_pid(ALICE)
        boxtest.run_root("systemctl", "stop", UNIT)
        boxtest.uninstall()
        cls.after = boxtest.present(cls.manifest)

    def test_install_put_every_recorded_file_in_place(self):
        for f in KEY_FILES:
            self.assertIn(f, self.manifest)
        self.assertEqual(self.before, self.manifest)

    def test_no_installed_file_remains(self):
        self.assertEqual(self.after, [])

    def test_systemd_forgot_the_unit(self):
        self.assertEqual(boxtest.unit_show(UNIT, "LoadState")["LoadState"], "not-found")

    def test_bus_name_is_no_longer_activatable(self):
        r = boxtest.busctl(ALICE, "SelfCheck", check=False)
        self.assertNotEqual(r.rc, 0, r.describe())
        # busctl prints org.freedesktop.DBus.Error.ServiceUnknown's message.
        self.assertIn("not provided by any .service files", r.err + r.out)


if __name__ == "__main__":
    boxtest.main()
