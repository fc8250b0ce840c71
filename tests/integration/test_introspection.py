#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The running broker introspects to exactly dbus/dev.locald.Broker1.xml."""

import unittest
import xml.etree.ElementTree as ET

import brokertest as bt


def describe(xml_text, interface=bt.INTERFACE):
    """Methods, signals and properties of INTERFACE, annotations ignored."""
    root = ET.fromstring(xml_text)
    ifaces = [i for i in root.findall("interface") if i.get("name") == interface]
    if len(ifaces) != 1:
        raise AssertionError("%d <interface name=%s> elements" % (len(ifaces), interface))
    iface = ifaces[0]
    methods = {}
    for m in iface.findall("method"):
        methods[m.get("name")] = [(a.get("name"), a.get("type"), a.get("direction") or "in")
                                  for a in m.findall("arg")]
    signals = {}
    for s in iface.findall("signal"):
        signals[s.get("name")] = [(a.get("name"), a.get("type")) for a in s.findall("arg")]
    props = {p.get("name"): (p.get("type"), p.get("access")) for p in iface.findall("property")}
    return {"methods": methods, "signals": signals, "properties": props}


class Introspection(unittest.TestCase):
    def test_running_broker_matches_interface_xml(self):
        with open(bt.INTERFACE_XML) as f:
            expected = describe(f.read())
        r = bt.introspect(bt.ALICE)
        self.assertTrue(r.ok, r)
        actual = describe(r.value)
        self.maxDiff = None
        self.assertEqual(actual["methods"], expected["methods"])
        self.assertEqual(actual["signals"], expected["signals"])
        self.assertEqual(actual["properties"], expected["properties"])
        # The source of truth is not empty by accident.
        self.assertIn("SelfCheck", expected["methods"])

    def test_object_tree(self):
        r = bt.introspect(bt.ALICE)
        self.assertTrue(r.ok, r)
        names = {i.get("name") for i in ET.fromstring(r.value).findall("interface")}
        self.assertIn(bt.INTERFACE, names)
        self.assertIn("org.freedesktop.DBus.Properties", names)


if __name__ == "__main__":
    bt.main()
