# SPDX-License-Identifier: LGPL-2.1-or-later
"""A D-Bus client that writes the wire format itself (stdlib only).

The test suites that attack the broker need messages no well-behaved
library sends: a body that does not match the method's signature, any
combination of header flags (unknown bits too), strings with control
characters, noncharacters, invalid UTF-8 or embedded NULs (the bus itself
drops a sender that sends those, which is one more thing to check), calls
on connections that hang up before the reply, many connections at once.
GDBus and python-dbus validate what they send, so this module marshals
messages by hand (D-Bus specification, little-endian) over a plain
AF_UNIX socket with SASL EXTERNAL.

    conn = Connection(address)          # authenticated, Hello done
    serial = conn.send_call(dest, path, iface, member, "s", ["x"], flags=...)
    msg = conn.receive(timeout)         # Message or None; signals included
    reply = conn.call(...)              # send_call + wait for that reply
"""

import os
import select
import socket
import struct
import time

# Message types.
METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL = 1, 2, 3, 4
# Header flags.
NO_REPLY_EXPECTED = 0x1
NO_AUTO_START = 0x2
ALLOW_INTERACTIVE_AUTHORIZATION = 0x4
# Header fields.
F_PATH, F_INTERFACE, F_MEMBER, F_ERROR_NAME, F_REPLY_SERIAL = 1, 2, 3, 4, 5
F_DESTINATION, F_SENDER, F_SIGNATURE, F_UNIX_FDS = 6, 7, 8, 9

_FIELD_TYPES = {F_PATH: "o", F_INTERFACE: "s", F_MEMBER: "s", F_ERROR_NAME: "s",
                F_REPLY_SERIAL: "u", F_DESTINATION: "s", F_SENDER: "s",
                F_SIGNATURE: "g", F_UNIX_FDS: "u"}

_FIXED = {"y": ("B", 1), "b": ("I", 4), "n": ("h", 2), "q": ("H", 2), "i": ("i", 4),
          "u": ("I", 4), "x": ("q", 8), "t": ("Q", 8), "d": ("d", 8), "h": ("I", 4)}
_ALIGN = {"y": 1, "b": 4, "n": 2, "q": 2, "i": 4, "u": 4, "x": 8, "t": 8, "d": 8, "h": 4,
          "s": 4, "o": 4, "g": 1, "a": 4, "(": 8, "{": 8, "v": 1}


class ProtocolError(Exception):
    pass


class Disconnected(Exception):
    """The bus closed the connection (or we did)."""


def split_signature(sig):
    """Complete types of SIG, e.g. "sa{sv}(ii)" -> ["s", "a{sv}", "(ii)"]."""
    out, i = [], 0
    while i < len(sig):
        j = _type_end(sig, i)
        out.append(sig[i:j])
        i = j
    return out


def _type_end(sig, i):
    c = sig[i]
    if c == "a":
        return _type_end(sig, i + 1)
    if c in "({":
        close = ")" if c == "(" else "}"
        depth, j = 0, i
        while j < len(sig):
            if sig[j] in "({":
                depth += 1
            elif sig[j] in ")}":
                depth -= 1
                if depth == 0:
                    if sig[j] != close:
                        raise ProtocolError("bad signature %r" % sig)
                    return j + 1
            j += 1
        raise ProtocolError("unterminated signature %r" % sig)
    return i + 1


# ------------------------------------------------------------ marshalling

class _Writer:
    def __init__(self):
        self.buf = bytearray()

    def pad(self, n):
        while len(self.buf) % n:
            self.buf.append(0)

    def put(self, t, value):
        c = t[0]
        self.pad(_ALIGN[c])
        if c in _FIXED:
            fmt, _ = _FIXED[c]
            if c == "b":
                value = 1 if value else 0
            self.buf += struct.pack("<" + fmt, value)
        elif c in "so":
            # str is encoded as UTF-8 with surrogates passed through, so a
            # test can send lone surrogates; bytes are sent as they are.
            raw = value if isinstance(value, (bytes, bytearray)) else \
                value.encode("utf-8", "surrogatepass")
            self.buf += struct.pack("<I", len(raw)) + raw + b"\0"
        elif c == "g":
            raw = value if isinstance(value, (bytes, bytearray)) else value.encode()
            self.buf += struct.pack("<B", len(raw)) + raw + b"\0"
        elif c == "v":
            sig, inner = value
            self.put("g", sig)
            self.put(sig, inner)
        elif c == "a":
            elem = t[1:]
            self.pad(4)
            at = len(self.buf)
            self.buf += b"\0\0\0\0"
            self.pad(_ALIGN[elem[0]])
            start = len(self.buf)
            items = value.items() if isinstance(value, dict) else value
            for item in items:
                self.put(elem, item)
            struct.pack_into("<I", self.buf, at, len(self.buf) - start)
        elif c in "({":
            inner = split_signature(t[1:-1])
            for sub, v in zip(inner, value):
                self.put(sub, v)
        else:
            raise ProtocolError("cannot marshal type %r" % t)


def marshal(signature, values):
    """Body bytes for VALUES of SIGNATURE (offset 0, i.e. 8-aligned)."""
    w = _Writer()
    for t, v in zip(split_signature(signature), values):
        w.put(t, v)
    return bytes(w.buf)


class _Reader:
    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos

    def align(self, n):
        self.pos = (self.pos + n - 1) // n * n

    def get(self, t):
        c = t[0]
        self.align(_ALIGN[c])
        d = self.data
        if c in _FIXED:
            fmt, size = _FIXED[c]
            (v,) = struct.unpack_from("<" + fmt, d, self.pos)
            self.pos += size
            return bool(v) if c == "b" else v
        if c in "so":
            (n,) = struct.unpack_from("<I", d, self.pos)
            raw = d[self.pos + 4:self.pos + 4 + n]
            self.pos += 4 + n + 1
            return raw.decode("utf-8", "surrogateescape")
        if c == "g":
            n = d[self.pos]
            raw = d[self.pos + 1:self.pos + 1 + n]
            self.pos += 1 + n + 1
            return raw.decode()
        if c == "v":
            sig = self.get("g")
            return (sig, self.get(sig))
        if c == "a":
            (n,) = struct.unpack_from("<I", d, self.pos)
            self.pos += 4
            elem = t[1:]
            self.align(_ALIGN[elem[0]])
            end = self.pos + n
            items = []
            while self.pos < end:
                items.append(self.get(elem))
            if elem[0] == "{":
                return dict(items)
            return items
        if c in "({":
            return tuple(self.get(sub) for sub in split_signature(t[1:-1]))
        raise ProtocolError("cannot unmarshal type %r" % t)


def unmarshal(signature, data):
    r = _Reader(data)
    return [r.get(t) for t in split_signature(signature)]


# ------------------------------------------------------------ messages

class Message:
    def __init__(self, mtype, flags, serial, fields, body):
        self.type = mtype
        self.flags = flags
        self.serial = serial
        self.fields = fields
        self.body_bytes = body
        self._body = None

    @property
    def signature(self):
        return self.fields.get(F_SIGNATURE, "")

    @property
    def body(self):
        if self._body is None:
            self._body = unmarshal(self.signature, self.body_bytes) if self.signature else []
        return self._body

    reply_serial = property(lambda self: self.fields.get(F_REPLY_SERIAL))
    error_name = property(lambda self: self.fields.get(F_ERROR_NAME))
    sender = property(lambda self: self.fields.get(F_SENDER))
    member = property(lambda self: self.fields.get(F_MEMBER))
    interface = property(lambda self: self.fields.get(F_INTERFACE))
    path = property(lambda self: self.fields.get(F_PATH))

    @property
    def error_message(self):
        if self.type != ERROR:
            return None
        try:
            body = self.body
        except Exception:  # a malformed error body is reported as such
            return "<unparsable error body>"
        return body[0] if body and isinstance(body[0], str) else ""

    def __repr__(self):
        kind = {1: "call", 2: "return", 3: "error", 4: "signal"}.get(self.type, self.type)
        if self.type == ERROR:
            return "<error %s: %s>" % (self.error_name, self.error_message)
        return "<%s serial=%s reply_to=%s %s.%s sig=%r>" % (
            kind, self.serial, self.reply_serial, self.interface, self.member, self.signature)


def encode_message(mtype, flags, serial, fields, signature="", body=b"", declared_signature=None):
    """Wire bytes of one message. FIELDS: {code: value}; BODY: marshalled
    bytes; DECLARED_SIGNATURE, when given, is put in the header instead of
    SIGNATURE (a message that lies about its body)."""
    sig = signature if declared_signature is None else declared_signature
    fields = dict(fields)
    if sig:
        fields[F_SIGNATURE] = sig
    w = _Writer()
    w.buf += struct.pack("<cBBBII", b"l", mtype, flags & 0xFF, 1, len(body), serial)
    w.put("a(yv)", [(code, (_FIELD_TYPES[code], value)) for code, value in sorted(fields.items())])
    w.pad(8)
    return bytes(w.buf) + body


def _parse_address(address):
    for part in address.split(";"):
        kind, _, params = part.partition(":")
        if kind != "unix":
            continue
        kv = dict(p.split("=", 1) for p in params.split(",") if "=" in p)
        if "path" in kv:
            return kv["path"]
        if "abstract" in kv:
            return "\0" + kv["abstract"]
    raise ProtocolError("no unix: address in %r" % address)


class Connection:
    """One authenticated bus connection (SASL EXTERNAL, then Hello)."""

    def __init__(self, address=None, timeout=20.0, hello=True, unix_fds=False):
        address = address or os.environ["DBUS_SYSTEM_BUS_ADDRESS"]
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        self.sock.settimeout(timeout)
        self.sock.connect(_parse_address(address))
        self._buf = bytearray()
        self._serial = 0
        self.closed = False
        self.unique_name = None
        self.unix_fds = False
        self._auth(unix_fds)
        self.sock.setblocking(False)
        if hello:
            reply = self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                              "Hello", timeout=timeout)
            if reply is None or reply.type != METHOD_RETURN:
                raise ProtocolError("Hello failed: %r" % (reply,))
            self.unique_name = reply.body[0]

    def _auth(self, unix_fds):
        uid = str(os.geteuid()).encode().hex().encode()
        self.sock.sendall(b"\0AUTH EXTERNAL " + uid + b"\r\n")
        line = self._auth_line()
        if not line.startswith(b"OK "):
            raise ProtocolError("authentication refused: %r" % line)
        if unix_fds:
            self.sock.sendall(b"NEGOTIATE_UNIX_FD\r\n")
            self.unix_fds = self._auth_line() == b"AGREE_UNIX_FD"
        self.sock.sendall(b"BEGIN\r\n")

    def _auth_line(self):
        while b"\r\n" not in self._buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Disconnected("bus closed the connection during authentication")
            self._buf += chunk
        line, _, rest = bytes(self._buf).partition(b"\r\n")
        self._buf = bytearray(rest)
        return line

    def fileno(self):
        return self.sock.fileno()

    def next_serial(self):
        self._serial += 1
        return self._serial

    def send_raw(self, data, fds=()):
        """Writes DATA whole (blocking while the socket is full); FDS go
        with its first byte (SCM_RIGHTS)."""
        view = memoryview(data)
        while view:
            try:
                if fds:
                    n = self.sock.sendmsg([view], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                                    struct.pack("%di" % len(fds), *fds))])
                    fds = ()
                else:
                    n = self.sock.send(view)
            except BlockingIOError:
                select.select([], [self.sock], [], 5.0)
                continue
            except (BrokenPipeError, ConnectionResetError) as e:
                self.closed = True
                raise Disconnected(str(e))
            view = view[n:]

    def send_call(self, dest, path, interface, member, signature="", args=(), flags=0,
                  body=None, declared_signature=None, extra_fields=None, fds=()):
        """Sends a METHOD_CALL; returns its serial. BODY overrides the
        marshalled ARGS; any header field may be left out with None; FDS
        are passed along (an 'h' argument is an index into them)."""
        serial = self.next_serial()
        fields = {}
        for code, value in ((F_DESTINATION, dest), (F_PATH, path), (F_INTERFACE, interface),
                            (F_MEMBER, member)):
            if value is not None:
                fields[code] = value
        if extra_fields:
            fields.update(extra_fields)
        if fds:
            fields[F_UNIX_FDS] = len(fds)
        if body is None:
            body = marshal(signature, args) if signature else b""
        self.send_raw(encode_message(METHOD_CALL, flags, serial, fields, signature, body,
                                     declared_signature), fds)
        return serial

    def send_signal(self, dest, path, interface, member, signature="", args=()):
        serial = self.next_serial()
        fields = {F_PATH: path, F_INTERFACE: interface, F_MEMBER: member}
        if dest is not None:
            fields[F_DESTINATION] = dest
        body = marshal(signature, args) if signature else b""
        self.send_raw(encode_message(SIGNAL, 0, serial, fields, signature, body))
        return serial

    def _parse_one(self):
        b = self._buf
        if len(b) < 16:
            return None
        if b[0:1] != b"l":
            raise ProtocolError("big-endian message from the bus")
        body_len, _serial, fields_len = struct.unpack_from("<III", b, 4)
        header_len = 16 + fields_len
        header_len += (-header_len) % 8
        total = header_len + body_len
        if len(b) < total:
            return None
        raw = bytes(b[:total])
        del b[:total]
        r = _Reader(raw, 12)
        fields = {code: value for code, (_sig, value) in r.get("a(yv)")}
        return Message(raw[1], raw[2], _serial, fields, raw[header_len:])

    def receive(self, timeout=0.0):
        """The next message, or None after TIMEOUT seconds. Raises
        Disconnected when the bus closed the connection."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self._parse_one()
            if msg is not None:
                return msg
            if self.closed:
                raise Disconnected("connection closed")
            left = deadline - time.monotonic()
            if left < 0:
                return None
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return None
            self.fill()

    def fill(self):
        """Reads what the socket holds into the buffer (non-blocking)."""
        try:
            chunk = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        except (ConnectionResetError, OSError):
            chunk = b""
        if not chunk:
            self.closed = True
            return
        self._buf += chunk

    def pending(self):
        """Messages already read and complete (after fill())."""
        out = []
        while True:
            msg = self._parse_one()
            if msg is None:
                return out
            out.append(msg)

    def call(self, dest, path, interface, member, signature="", args=(), flags=0, timeout=25.0):
        """A method call and its reply (METHOD_RETURN or ERROR), or None
        on timeout. Other messages that arrive meanwhile are dropped."""
        serial = self.send_call(dest, path, interface, member, signature, args, flags)
        deadline = time.monotonic() + timeout
        while True:
            msg = self.receive(max(0.0, deadline - time.monotonic()))
            if msg is None:
                return None
            if msg.type in (METHOD_RETURN, ERROR) and msg.reply_serial == serial:
                return msg

    def add_match(self, rule):
        reply = self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                          "AddMatch", "s", [rule])
        if reply is None or reply.type != METHOD_RETURN:
            raise ProtocolError("AddMatch %r failed: %r" % (rule, reply))

    def close(self):
        if not self.closed:
            self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
