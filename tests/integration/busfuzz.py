#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""One fuzzing client of tests/integration/test_bus_fuzz.py.

    busfuzz.py CONFIG_JSON

Runs as whatever user starts it (the test starts one per user) and sends
CONFIG["calls"] random messages to dev.locald.Broker1, built from
CONFIG["seed"] alone, so the same seed sends the same messages in the same
order (only the timing differs). Prints one JSON object: counts and every
anomaly found, each with the index and description of the call that showed
it. An anomaly is a call that expected a reply and got none within
CONFIG["reply_timeout"], an error name outside the documented set, or an
answer the rules below forbid:

  - a caller polkit refuses ("denied") never gets a method of the broker's
    interface to succeed;
  - SelfCheck with the right signature succeeds for root and granted users
    (or is refused as Busy when they have too many calls in flight);
  - a wrong signature on one of the broker's methods is InvalidArgs;
  - an argument with a Unicode noncharacter (valid UTF-8, legal in D-Bus)
    is InvalidArgs, like any other malformed argument;
  - CleanupPath below a directory the caller cannot search answers only
    NotFound (or InvalidArgs for a malformed path): nothing about what is
    inside.

The methods and their argument types come from the interface XML, the one
source of truth, so every method is fuzzed as soon as it exists.
"""

import json
import os
import random
import select
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
import rawdbus as rd  # noqa: E402

BUS = "dev.locald.Broker1"
PATH = "/dev/locald/Broker1"
IFACE = "dev.locald.Broker1"
PROPS = "org.freedesktop.DBus.Properties"
INTROSPECTABLE = "org.freedesktop.DBus.Introspectable"
PEER = "org.freedesktop.DBus.Peer"

E = "org.freedesktop.DBus.Error."
LE = "dev.locald.Broker1.Error."
# Every error name a caller may see: the broker's documented ones
# (docs/api.md), the bus policy's AccessDenied, and sd-bus's standard
# answers to unknown objects, interfaces, methods and properties.
ALLOWED_ERRORS = {
    E + "AccessDenied", E + "InteractiveAuthorizationRequired", E + "InvalidArgs",
    E + "UnknownMethod", E + "UnknownObject", E + "UnknownInterface", E + "UnknownProperty",
    E + "PropertyReadOnly", E + "ServiceUnknown",
    LE + "AuthorizationUnavailable", LE + "Failed", LE + "NotOwner", LE + "UnsafePath",
    LE + "CrossesMount", LE + "NotFound", LE + "NotSetUp", LE + "Unsupported", LE + "Busy",
}

NONCHARACTERS = ["\ufdd0", "\ufdef", "\ufffe", "\uffff", "\U0001fffe", "\U0010ffff"]
CONTROL = ["\n", "\r", "\t", "\x1b[31m", "\x7f", "\x01", "\x85", "\u2028", "\u202e"]
MULTIBYTE = ["é", "€", "😀", "ß"]


def interface_methods(xml_path):
    """{method: in-signature} from the interface XML."""
    root = ET.parse(xml_path).getroot()
    out = {}
    for iface in root.iter("interface"):
        if iface.get("name") != IFACE:
            continue
        for m in iface.iter("method"):
            out[m.get("name")] = "".join(a.get("type") for a in m.iter("arg")
                                         if a.get("direction", "in") == "in")
    return out


def interface_properties(xml_path):
    root = ET.parse(xml_path).getroot()
    return [p.get("name") for iface in root.iter("interface") if iface.get("name") == IFACE
            for p in iface.iter("property")]


class Generator:
    """Random calls, all drawn from one seeded generator."""

    def __init__(self, rng, cfg):
        self.rng = rng
        self.cfg = cfg
        self.methods = interface_methods(cfg["interface_xml"])
        self.properties = interface_properties(cfg["interface_xml"])
        self.paths = cfg["paths"]

    # ---- strings

    def sized(self, nbytes, alphabet):
        """A string of about NBYTES bytes of UTF-8, cut on a character boundary."""
        out, n = [], 0
        while n < nbytes:
            c = self.rng.choice(alphabet)
            out.append(c)
            n += len(c.encode())
        return "".join(out)

    def component(self):
        r = self.rng
        return r.choice([".", "..", ".locald", "", "a", "x" * r.choice([1, 255, 256]),
                         "cgroup.procs", "cgroup.kill", ".keeper", "user-0", "user-%d" % r.randrange(2000),
                         "svc", "..." , " ", "-", "*", "%s", "%n", "\\", r.choice(NONCHARACTERS),
                         r.choice(CONTROL), r.choice(MULTIBYTE) * r.randrange(1, 4)])

    def path_like(self):
        r = self.rng
        base = r.choice(list(self.paths.values()) + ["/", "/tmp", "/etc", "/proc/self", "/sys/fs/cgroup",
                                                     "/home", ""])
        parts = [base.rstrip("/")] if base else []
        for _ in range(r.randrange(0, 5)):
            parts.append(self.component())
        s = "/".join(parts)
        if r.random() < 0.2:
            s = s.replace("/", "//", 1)
        if r.random() < 0.1:
            s += "/"
        return s

    def string(self):
        r = self.rng
        kind = r.randrange(14)
        if kind == 0:
            return r.choice(["", "/", ".", "..", ".locald", "/.locald", "/.locald/x", "x/../..",
                             "../../etc", "/etc/.locald/../shadow", "a/./b", "a//b"])
        if kind == 1:
            n = r.choice([4095, 4096, 4097, 255, 256, 1023, 1024, 1025])
            return self.sized(n, ["a"] if r.random() < 0.5 else MULTIBYTE + ["a"])
        if kind == 2:
            # A path of about PATH_MAX bytes under a real .locald.
            head = r.choice(list(self.paths.values())) + "/.locald/"
            return head + self.sized(max(0, r.choice([4095, 4096, 4097]) - len(head)), ["a", "/b", "é"])
        if kind == 3:
            return self.sized(r.choice([65536, 1 << 20]) if r.random() < 0.05 else 8192, ["a", "/", "é"])
        if kind == 4:
            # Binary without NUL that is still valid UTF-8 (the bus drops
            # anything else): every code point class, surrogates excepted.
            return "".join(chr(c) for c in (r.choice([r.randrange(1, 0x80), r.randrange(0x80, 0x800),
                                                      r.randrange(0x800, 0xD800), r.randrange(0xE000, 0x10000),
                                                      r.randrange(0x10000, 0x110000)])
                                            for _ in range(r.randrange(1, 64))))
        if kind == 5:
            return self.path_like() + r.choice(NONCHARACTERS) + self.component()
        if kind == 6:
            return self.path_like() + r.choice(CONTROL)
        if kind in (7, 8, 9, 10):
            return self.path_like()
        if kind == 11:
            # cgroup-relative names
            return "/".join(self.component() for _ in range(r.randrange(1, 4)))
        if kind == 12:
            # The caller's own project: removals that really happen, next to
            # entries of another user and a symlink out.
            if r.random() < 0.6:
                return self.paths["own"] + "/.locald/t%d" % r.randrange(8)
            return r.choice(list(self.paths.values())) + "/.locald/" + "/".join(
                r.choice(["t%d" % r.randrange(8), "link", "bobfile", "sub", "x", "..", "."])
                for _ in range(r.randrange(1, 4)))
        return r.choice(list(self.paths.values())) + r.choice(["", "/.locald", "/.locald/", "/.locald/.locald/x",
                                                               "/x/.locald/y", "/.locald/t1"])

    def value(self, t):
        r = self.rng
        c = t[0]
        if c in "so":
            return self.string() if c == "s" else r.choice(["/", "/a/b", "/dev/locald/Broker1"])
        if c == "g":
            return r.choice(["", "s", "a{sv}"])
        if c in "ynqiuxt":
            bits = {"y": 8, "n": 16, "q": 16, "i": 32, "u": 32, "x": 64, "t": 64}[c]
            signed = c in "nix"
            v = r.choice([0, 1, 2, 22, 80, 443, 1023, 1024, 8080, 65535, 65536, (1 << bits) - 1,
                          r.randrange(1 << bits)]) % (1 << bits)
            if signed and v >= 1 << (bits - 1):
                v -= 1 << bits
            return v
        if c == "b":
            return r.random() < 0.5
        if c == "d":
            return r.choice([0.0, -1.0, 1e308, float("nan")])
        if c == "h":
            return 0
        if c == "a":
            return [self.value(t[1:]) for _ in range(r.randrange(3))] if t[1] != "{" else \
                {self.value(rd.split_signature(t[2:-1])[0]): self.value(rd.split_signature(t[2:-1])[1])
                 for _ in range(r.randrange(3))}
        if c == "v":
            return ("s", self.string())
        if c == "(":
            return tuple(self.value(s) for s in rd.split_signature(t[1:-1]))
        raise ValueError(t)

    def flags(self):
        r = self.rng
        f = 0
        if r.random() < 0.08:
            f |= rd.NO_REPLY_EXPECTED
        if r.random() < 0.2:
            f |= rd.NO_AUTO_START
        if r.random() < 0.3:
            f |= rd.ALLOW_INTERACTIVE_AUTHORIZATION
        if r.random() < 0.05:
            f |= r.choice([0x08, 0x10, 0x40, 0x80, 0xF8])  # unknown bits: to be ignored
        return f

    # ---- calls

    def call(self):
        """A dict: dest, path, interface, member, signature, args, flags,
        rule (what the answer must be; see the module docstring)."""
        r = self.rng
        kind = r.random()
        c = {"dest": BUS, "path": PATH, "interface": IFACE, "flags": self.flags(), "rule": None,
             "signature": "", "args": []}
        if kind < 0.55:
            member = r.choice(sorted(self.methods))
            sig = self.methods[member]
            c["member"] = member
            if r.random() < 0.15:
                c["signature"] = r.choice(["", "s", "ss", "i", "as", "v", "(s)", "a{sv}", "ay", "o", "g", "t",
                                           "u", "b", "su", "uu"])
                c["args"] = [self.value(t) for t in rd.split_signature(c["signature"])]
                c["rule"] = "wrong_signature" if c["signature"] != sig else "method"
            else:
                c["signature"] = sig
                c["args"] = [self.value(t) for t in rd.split_signature(sig)]
                c["rule"] = "method"
            if "h" in c["signature"]:
                c["fds"] = True
            if c["rule"] == "method" and any(isinstance(a, str) and any(n in a for n in NONCHARACTERS)
                                             for a in c["args"]):
                c["rule"] = "nonchar"
            elif (c["rule"] == "method" and member == "CleanupPath" and c["args"]
                  and isinstance(c["args"][0], str) and c["args"][0].startswith(self.paths["unsearchable"] + "/")):
                c["rule"] = "unsearchable"
            elif c["rule"] == "method" and member == "SelfCheck":
                c["rule"] = "selfcheck"
        elif kind < 0.62:
            c["member"] = r.choice(["selfcheck", "SelfCheck2", "Kill", "", "Introspect", "Get", "x" * 255,
                                    "CleanupPath_", "SetupCgroupRoot"])
            if c["member"] == "":
                c["member"] = None  # no MEMBER field at all: the bus refuses it
                c["rule"] = "bus_rejects"
            else:
                c["interface"] = r.choice([IFACE, "dev.locald.Broker2", "org.freedesktop.DBus", None,
                                           "org.freedesktop.DBus.ObjectManager", "a.b"])
                c["rule"] = "any"
        elif kind < 0.67:
            c["path"] = r.choice(["/", "/dev", "/dev/locald", "/dev/locald/Broker1/x", "/dev/locald/Broker2",
                                  "/org/freedesktop/DBus"])
            c["interface"] = r.choice([IFACE, INTROSPECTABLE, PROPS, PEER])
            c["member"] = r.choice(["SelfCheck", "Introspect", "GetAll", "Ping"])
            if c["member"] == "GetAll":
                c["signature"], c["args"] = "s", [IFACE]
            c["rule"] = "any"
        elif kind < 0.80:
            c["interface"] = PROPS
            m = r.choice(["Get", "Get", "GetAll", "Set"])
            c["member"] = m
            name = r.choice(self.properties + ["Nope", "", "version", self.string()])
            iface = r.choice([IFACE, IFACE, "", "org.freedesktop.DBus.Peer", "x.y"])
            if m == "Get":
                c["signature"], c["args"] = "ss", [iface, name]
            elif m == "GetAll":
                c["signature"], c["args"] = "s", [iface]
            else:
                c["signature"], c["args"] = "ssv", [iface, name, ("s", "x")]
            if r.random() < 0.1:
                c["signature"], c["args"] = "i", [1]
            c["rule"] = "property"
        elif kind < 0.88:
            c["interface"] = INTROSPECTABLE
            c["member"] = "Introspect"
            c["rule"] = "any"
        else:
            c["interface"] = PEER
            c["member"] = r.choice(["Ping", "GetMachineId", "Pong"])
            c["rule"] = "any"
        return c


def describe(c):
    def short(a):
        s = repr(a)
        return s if len(s) <= 120 else s[:100] + "...(%d chars)" % len(s)
    return "%s %s %s.%s(%s %s) flags=0x%x" % (c.get("dest"), c.get("path"), c.get("interface"), c.get("member"),
                                              c.get("signature"), ", ".join(short(a) for a in c.get("args", [])),
                                              c.get("flags", 0))


def judge(kind, c, msg, methods):
    """None when MSG is an acceptable answer to call C from a KIND caller,
    else why not. METHODS: the interface's methods."""
    if msg.type == rd.ERROR:
        name = msg.error_name
        if name not in ALLOWED_ERRORS:
            return "undocumented error %s: %s" % (name, msg.error_message)
    rule = c["rule"]
    ok = msg.type == rd.METHOD_RETURN
    name = msg.error_name
    if c["interface"] == IFACE and c["path"] == PATH and kind == "denied" and ok and c["member"] in methods:
        return "a denied caller's call succeeded"
    if rule == "selfcheck" and kind in ("root", "granted", "default") and not ok and name != LE + "Busy":
        return "SelfCheck refused for a %s caller: %s: %s" % (kind, name, msg.error_message)
    if rule == "wrong_signature" and name not in (E + "InvalidArgs",):
        return "wrong signature answered %s" % (name or "with success")
    if rule == "nonchar" and name not in (E + "InvalidArgs", LE + "Busy"):
        return "noncharacter argument answered %s (%s), not InvalidArgs" % (name or "with success",
                                                                           msg.error_message)
    if rule == "unsearchable" and kind != "root" and name not in (LE + "NotFound", E + "InvalidArgs", E + "AccessDenied",
                                               LE + "Busy", LE + "AuthorizationUnavailable"):
        return "CleanupPath below an unsearchable directory answered %s: %s" % (
            name or "with success", msg.error_message)
    return None


class Fuzzer:
    def __init__(self, cfg):
        self.cfg = cfg
        self.kind = cfg["kind"]
        self.rng = random.Random(cfg["seed"])
        self.gen = Generator(self.rng, cfg)
        self.address = cfg["address"]
        self.timeout = cfg.get("reply_timeout", 30.0)
        self.max_outstanding = cfg.get("outstanding", 4)
        self.stats = {"seed": cfg["seed"], "user": cfg["user"], "kind": self.kind, "sent": 0,
                      "expect_reply": 0, "replies": 0, "ok": 0, "errors": {}, "no_reply_expected": 0,
                      "unrequested_replies": 0, "hangup_calls": 0, "hangups": 0, "bus_rejected": 0,
                      "bus_kept": 0, "forged_signals": 0, "connections": 0, "missing": 0,
                      "anomaly_count": 0, "anomalies": [], "max_latency": 0.0}
        self.conns = []
        self.outstanding = {}   # conn -> {serial: (deadline, index, call, t0)}
        self.devnull = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)

    def anomaly(self, index, c, what):
        self.stats["anomaly_count"] += 1
        if len(self.stats["anomalies"]) < 40:
            self.stats["anomalies"].append({"index": index, "call": describe(c), "what": what})

    def connect(self):
        conn = rd.Connection(self.address, unix_fds=True)
        self.stats["connections"] += 1
        return conn

    def send(self, conn, index, c, track=True):
        fds = (self.devnull,) if c.get("fds") and conn.unix_fds else ()
        serial = conn.send_call(c["dest"], c["path"], c["interface"], c["member"], c["signature"],
                                c["args"], c["flags"], fds=fds)
        self.stats["sent"] += 1
        if c["flags"] & rd.NO_REPLY_EXPECTED:
            self.stats["no_reply_expected"] += 1
            return
        if track:
            self.stats["expect_reply"] += 1
            now = time.monotonic()
            self.outstanding.setdefault(conn, {})[serial] = (now + self.timeout, index, c, now)

    def handle(self, conn, msg):
        if msg.type not in (rd.METHOD_RETURN, rd.ERROR):
            return
        entry = self.outstanding.get(conn, {}).pop(msg.reply_serial, None)
        if entry is None:
            self.stats["unrequested_replies"] += 1
            return
        _deadline, index, c, t0 = entry
        self.stats["replies"] += 1
        self.stats["max_latency"] = max(self.stats["max_latency"], time.monotonic() - t0)
        if msg.type == rd.METHOD_RETURN:
            self.stats["ok"] += 1
        else:
            self.stats["errors"][msg.error_name] = self.stats["errors"].get(msg.error_name, 0) + 1
        why = judge(self.kind, c, msg, self.gen.methods)
        if why:
            self.anomaly(index, c, why)

    def pump(self, wait):
        """Reads whatever arrived (waiting at most WAIT s), checks deadlines."""
        live = [c for c in self.conns if not c.closed]
        if live:
            r, _, _ = select.select(live, [], [], wait)
            for conn in r:
                conn.fill()
                for msg in conn.pending():
                    self.handle(conn, msg)
        now = time.monotonic()
        for conn in list(self.outstanding):
            table = self.outstanding[conn]
            if conn.closed and table:
                for serial, (_d, index, c, _t) in list(table.items()):
                    self.stats["missing"] += 1
                    self.anomaly(index, c, "the bus closed our connection before the reply")
                table.clear()
            for serial, (deadline, index, c, _t) in list(table.items()):
                if now > deadline:
                    del table[serial]
                    self.stats["missing"] += 1
                    self.anomaly(index, c, "no reply within %.0f s" % self.timeout)

    def hangup(self, index):
        """A fresh connection sends a few calls and goes away at once."""
        conn = self.connect()
        for _ in range(self.rng.randrange(1, 17)):
            c = self.gen.call()
            if c["rule"] == "bus_rejects":
                continue
            c["flags"] &= ~rd.NO_REPLY_EXPECTED
            try:
                self.send(conn, index, c, track=False)
            except rd.Disconnected:
                self.anomaly(index, c, "the bus dropped a connection for a well-formed call")
                break
            self.stats["hangup_calls"] += 1
        if self.rng.random() < 0.5:
            time.sleep(self.rng.random() * 0.005)
        conn.close()
        self.stats["hangups"] += 1

    def bus_rejects(self, index):
        """Messages the bus must refuse (invalid UTF-8, an embedded NUL, a
        body that does not match its signature, no member): sent on a
        connection of their own, which the bus drops; the broker never
        sees them."""
        r = self.rng
        conn = self.connect()
        what = r.randrange(4)
        try:
            if what == 0:
                conn.send_call(BUS, PATH, IFACE, "CleanupPath", "s", [b"/tmp/\xff\xfe/.locald/x"])
            elif what == 1:
                conn.send_call(BUS, PATH, IFACE, "KillCgroup", "s", [b"a\0b"])
            elif what == 2:
                conn.send_call(BUS, PATH, IFACE, "KillCgroup", "s", ["x"], declared_signature="u",
                               body=rd.marshal("s", ["xxxxxxxx"]))
            else:
                conn.send_call(BUS, PATH, IFACE, "KillCgroup", "s", ["\ud800"])  # a lone surrogate
            self.stats["sent"] += 1
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                msg = conn.receive(deadline - time.monotonic())
                if msg is None:
                    break
                if msg.type == rd.METHOD_RETURN and msg.reply_serial and msg.reply_serial > 1:
                    self.anomaly(index, {"dest": BUS, "member": "invalid message %d" % what},
                                 "a message the bus should refuse was answered with success")
            self.stats["bus_kept"] += 1
        except rd.Disconnected:
            self.stats["bus_rejected"] += 1
        finally:
            conn.close()

    def forge(self, index):
        """A NameOwnerChanged and a JobRemoved signal, unicast to the broker,
        claiming that connections near our own unique name left (they are
        other fuzzing clients', of any user): the broker must ignore
        signals that do not come from the bus driver or systemd."""
        conn = self.conns[0]
        base = conn.unique_name.rsplit(".", 1)
        n = int(base[1])
        victim = "%s.%d" % (base[0], max(1, n + self.rng.randrange(-8, 9)))
        conn.send_signal(BUS, "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameOwnerChanged", "sss",
                         [victim, victim, ""])
        conn.send_signal(BUS, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "JobRemoved",
                         "uoss", [self.rng.randrange(1, 1000), "/org/freedesktop/systemd1/job/%d"
                                  % self.rng.randrange(1000), "locald-user-1000.scope", "failed"])
        self.stats["forged_signals"] += 2
        self.stats["sent"] += 2

    def run(self):
        n = self.cfg["calls"]
        self.conns = [self.connect() for _ in range(self.cfg.get("connections", 3))]
        i = 0
        while i < n:
            r = self.rng.random()
            if r < 0.02:
                self.hangup(i)
                i += 1
                continue
            if r < 0.025:
                self.bus_rejects(i)
                i += 1
                continue
            if r < 0.03:
                self.forge(i)
                i += 1
                continue
            if r < 0.04:
                # Retire a connection once its calls are answered; a new one takes its place.
                old = self.rng.randrange(len(self.conns))
                conn = self.conns[old]
                while self.outstanding.get(conn) and not conn.closed:
                    self.pump(0.05)
                self.outstanding.pop(conn, None)
                conn.close()
                self.conns[old] = self.connect()
                continue
            conn = self.rng.choice(self.conns)
            while len(self.outstanding.get(conn, {})) >= self.max_outstanding:
                self.pump(0.05)
            c = self.gen.call()
            if c["rule"] == "bus_rejects":
                self.bus_rejects(i)
            else:
                try:
                    self.send(conn, i, c)
                except rd.Disconnected:
                    self.anomaly(i, c, "the bus dropped our connection on send")
                    idx = self.conns.index(conn)
                    self.conns[idx] = self.connect()
            i += 1
            self.pump(0)
        end = time.monotonic() + self.timeout + 1
        while any(self.outstanding.values()) and time.monotonic() < end:
            self.pump(0.1)
        self.pump(0)
        for conn in self.conns:
            conn.close()
        return self.stats


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    stats = Fuzzer(cfg).run()
    json.dump(stats, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
