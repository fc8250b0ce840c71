#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The project's bus policy (dbus/dev.locald.Broker1.conf), enforced by the
real dbus-daemon: only root may own dev.locald.Broker1; anyone may call the
dev.locald.Broker1 interface and Introspectable, Properties (read) and Peer
on it, and nothing else."""

import unittest

import brokertest as bt

ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
USER = bt.ALICE


def raw(user, interface, method, signature="", *args):
    return bt.worker(user).request({"op": "raw", "dest": bt.BUS_NAME, "path": bt.OBJECT_PATH,
                                    "interface": interface, "method": method,
                                    "signature": signature, "args": list(args)})


class Policy(unittest.TestCase):
    def setUp(self):
        # Activate first, so every refusal below comes from the bus policy
        # and not from a missing owner.
        self.assertTrue(bt.call(USER, "SelfCheck").ok)

    def test_allowed_interfaces(self):
        self.assertTrue(raw(USER, "org.freedesktop.DBus.Peer", "Ping").ok)
        self.assertTrue(raw(USER, "org.freedesktop.DBus.Introspectable", "Introspect").ok)
        r = raw(USER, "org.freedesktop.DBus.Properties", "GetAll", "s", bt.INTERFACE)
        self.assertTrue(r.ok, r)
        r = raw(USER, "org.freedesktop.DBus.Properties", "Get", "ss", bt.INTERFACE, "ApiVersion")
        self.assertTrue(r.ok, r)

    def test_property_set_is_rejected_by_the_bus(self):
        # The bus decides on interface and member before looking at the
        # body, so a plain string stands in for the variant.
        r = raw(USER, "org.freedesktop.DBus.Properties", "Set", "sss", bt.INTERFACE, "Strategy", "x")
        self.assertFalse(r.ok)
        self.assertEqual(r.error, ACCESS_DENIED, r)
        self.assertIn("Rejected send message", r.message)

    def test_other_interfaces_are_rejected_by_the_bus(self):
        for interface, method in (("dev.locald.Evil1", "Run"),
                                  ("org.freedesktop.DBus.ObjectManager", "GetManagedObjects")):
            r = raw(USER, interface, method)
            self.assertEqual(r.error, ACCESS_DENIED, (interface, r))
            self.assertIn("Rejected send message", r.message)

    def test_only_root_may_own_the_name(self):
        for user in (USER, bt.CAROL):
            r = bt.bus_call("RequestName", "su", "dev.locald.Broker1", 0, user=user)
            self.assertEqual(r.error, ACCESS_DENIED, (user, r))
        # The running broker still owns it.
        self.assertTrue(bt.name_has_owner())


if __name__ == "__main__":
    bt.main()
