#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""D-Bus calls to dev.locald.Broker1, made by whatever user runs this.

brokertest.py starts it as an unprivileged test user inside the sandbox
(real uid, gid and supplementary groups of that user). Two modes:

  brokercall.py call METHOD [SIGNATURE ARGS_JSON] [--interactive] [--timeout MS]
      one call, one JSON object on stdout

  brokercall.py serve
      prints {"ready": true, "pid": ..., "unique_name": ...}, then reads one
      JSON request per line from stdin and answers each with one JSON line.
      Requests: {"op": "call", "method": M, "signature": S, "args": [...],
                 "interactive": bool, "timeout": ms}
                {"op": "get_property", "name": N}
                {"op": "introspect"}
                {"op": "raw", "dest": D, "path": P, "interface": I, "method": M,
                 "signature": S, "args": [...]}
                {"op": "reconnect"}    new connection (new unique name)
                {"op": "call_fds", ...as "call"...}   a call whose reply carries
                       file descriptors: they are kept here, and the answer's
                       "fds" lists their ids
                {"op": "listen", "fd": ID}   listen() on a kept socket; answers
                       its local address [host, port]
                {"op": "accept", "fd": ID, "send": TEXT, "timeout": ms}
                       accepts one connection on it, sends TEXT, closes it
                {"op": "fd_info", "fd": ID}  inode, SO_REUSEADDR, type and
                       listening state of a kept socket
                {"op": "close", "fd": ID}
                {"op": "emit", "dest": D, "path": P, "interface": I, "signal": N,
                 "signature": S, "args": [...]}   a signal unicast to D (flushed)

Answers: {"ok": true, "value": <reply unpacked>} or
         {"ok": false, "error": <D-Bus error name>, "message": <text>}
The bus is the system bus, i.e. DBUS_SYSTEM_BUS_ADDRESS.
"""

import json
import os
import socket
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

BUS_NAME = "dev.locald.Broker1"
OBJECT_PATH = "/dev/locald/Broker1"
INTERFACE = "dev.locald.Broker1"


def connect():
    address = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    if not address:
        raise SystemExit("brokercall: DBUS_SYSTEM_BUS_ADDRESS is not set")
    flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
             | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
    return Gio.DBusConnection.new_for_address_sync(address, flags, None, None)


def _variant(signature, args):
    if not signature:
        return None
    return GLib.Variant("(" + signature + ")", tuple(args))


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def dbus_call(conn, dest, path, interface, method, signature, args,
              interactive=False, timeout=25000):
    flags = Gio.DBusCallFlags.NONE
    if interactive:
        flags |= Gio.DBusCallFlags.ALLOW_INTERACTIVE_AUTHORIZATION
    try:
        reply = conn.call_sync(dest, path, interface, method,
                               _variant(signature, args), None, flags,
                               int(timeout), None)
    except GLib.Error as e:
        name = Gio.DBusError.get_remote_error(e)
        message = e.message
        if name:
            Gio.DBusError.strip_remote_error(e)
            message = e.message
        else:
            # PyGObject gives the domain as a string (newer) or a quark.
            domain = e.domain if isinstance(e.domain, str) else GLib.quark_to_string(e.domain)
            name = "%s:%d" % (domain, e.code)
        return {"ok": False, "error": name, "message": message}
    return {"ok": True, "value": _plain(reply.unpack()) if reply is not None else []}


_kept = {}


def call_fds(conn, req):
    flags = Gio.DBusCallFlags.NONE
    if req.get("interactive"):
        flags |= Gio.DBusCallFlags.ALLOW_INTERACTIVE_AUTHORIZATION
    try:
        reply, fd_list = conn.call_with_unix_fd_list_sync(
            BUS_NAME, OBJECT_PATH, INTERFACE, req["method"],
            _variant(req.get("signature", ""), req.get("args", [])), None, flags,
            int(req.get("timeout", 25000)), None, None)
    except GLib.Error as e:
        name = Gio.DBusError.get_remote_error(e)
        if name:
            Gio.DBusError.strip_remote_error(e)
        else:
            name = "%s:%d" % (GLib.quark_to_string(e.domain), e.code)
        return {"ok": False, "error": name, "message": e.message}
    ids = []
    for fd in (fd_list.steal_fds() if fd_list is not None else []):
        sock = socket.socket(fileno=fd)
        _kept[fd] = sock
        ids.append(fd)
    return {"ok": True, "value": _plain(reply.unpack()), "fds": ids}


def fd_op(req):
    op = req["op"]
    sock = _kept.get(req.get("fd"))
    if sock is None:
        return {"ok": False, "error": "brokercall.NoSuchFd", "message": "no kept fd %r" % req.get("fd")}
    try:
        if op == "listen":
            sock.listen(16)
            return {"ok": True, "value": list(sock.getsockname()[:2])}
        if op == "accept":
            sock.settimeout(req.get("timeout", 10000) / 1000.0)
            peer, _ = sock.accept()
            with peer:
                peer.sendall(req.get("send", "").encode())
            return {"ok": True, "value": True}
        if op == "fd_info":
            return {"ok": True, "value": {
                "inode": os.fstat(sock.fileno()).st_ino,
                "reuseaddr": sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR),
                "type": sock.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE),
                "listening": sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN),
                "family": sock.family,
                "sockname": list(sock.getsockname()[:2])}}
        if op == "close":
            _kept.pop(req["fd"]).close()
            return {"ok": True, "value": True}
    except OSError as e:
        return {"ok": False, "error": "brokercall.OSError", "message": str(e)}
    return {"ok": False, "error": "brokercall.BadRequest", "message": "unknown op %r" % op}


def handle(conn, req):
    op = req.get("op", "call")
    timeout = req.get("timeout", 25000)
    if op == "call_fds":
        return call_fds(conn, req)
    if op in ("listen", "accept", "fd_info", "close"):
        return fd_op(req)
    if op == "call":
        return dbus_call(conn, BUS_NAME, OBJECT_PATH, INTERFACE, req["method"],
                         req.get("signature", ""), req.get("args", []),
                         req.get("interactive", False), timeout)
    if op == "get_property":
        r = dbus_call(conn, BUS_NAME, OBJECT_PATH, "org.freedesktop.DBus.Properties",
                      "Get", "ss", [INTERFACE, req["name"]], False, timeout)
        if r["ok"]:
            r["value"] = r["value"][0]
        return r
    if op == "introspect":
        r = dbus_call(conn, BUS_NAME, req.get("path", OBJECT_PATH),
                      "org.freedesktop.DBus.Introspectable", "Introspect", "", [],
                      False, timeout)
        if r["ok"]:
            r["value"] = r["value"][0]
        return r
    if op == "raw":
        return dbus_call(conn, req["dest"], req["path"], req["interface"],
                         req["method"], req.get("signature", ""), req.get("args", []),
                         req.get("interactive", False), timeout)
    if op == "emit":
        try:
            conn.emit_signal(req["dest"], req["path"], req["interface"], req["signal"],
                             _variant(req.get("signature", ""), req.get("args", [])))
            conn.flush_sync(None)
        except GLib.Error as e:
            return {"ok": False, "error": "brokercall.EmitFailed", "message": e.message}
        return {"ok": True, "value": []}
    return {"ok": False, "error": "brokercall.BadRequest", "message": "unknown op %r" % op}


def serve():
    conn = connect()
    out = sys.stdout
    out.write(json.dumps({"ready": True, "pid": os.getpid(), "uid": os.getuid(),
                          "unique_name": conn.get_unique_name()}) + "\n")
    out.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        if req.get("op") == "reconnect":
            conn.close_sync(None)
            conn = connect()
            answer = {"ok": True, "value": conn.get_unique_name()}
        else:
            answer = handle(conn, req)
        out.write(json.dumps(answer) + "\n")
        out.flush()


def main(argv):
    if len(argv) >= 2 and argv[1] == "serve":
        serve()
        return 0
    if len(argv) >= 3 and argv[1] == "call":
        rest = argv[2:]
        interactive = "--interactive" in rest
        rest = [a for a in rest if a != "--interactive"]
        timeout = 25000
        if "--timeout" in rest:
            i = rest.index("--timeout")
            timeout = int(rest[i + 1])
            del rest[i:i + 2]
        method = rest[0]
        signature = rest[1] if len(rest) > 1 else ""
        args = json.loads(rest[2]) if len(rest) > 2 else []
        r = handle(connect(), {"op": "call", "method": method, "signature": signature,
                               "args": args, "interactive": interactive,
                               "timeout": timeout})
        print(json.dumps(r))
        return 0 if r["ok"] else 1
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
