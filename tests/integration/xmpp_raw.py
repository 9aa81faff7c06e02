"""A raw XMPP client over sockets for black-box tests of hongyand.

It speaks just enough of RFC 6120 to drive the server by hand: open a stream,
STARTTLS or direct TLS (XEP-0368), SASL PLAIN and SCRAM-SHA-1/-256 (RFC 5802,
RFC 7677, written here from the RFCs), resource binding, and stanzas. Input
is parsed incrementally, so a test can wait for "the next element" or "the
stream error" with a short timeout, and can also look at the raw bytes.

Tests wait for conditions, never for time: "nothing arrives" is checked with a
barrier (XmppStream.sync(): a ping round trip on the same stream, see no_element()),
and effects of the server's own timers are polled for with wait_until().
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import os
import re
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from typing import Callable, Optional, Union

NS_STREAMS = "http://etherx.jabber.org/streams"
NS_CLIENT = "jabber:client"
NS_STREAM_ERRORS = "urn:ietf:params:xml:ns:xmpp-streams"
NS_STANZA_ERRORS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_REGISTER = "jabber:iq:register"
NS_REGISTER_FEATURE = "http://jabber.org/features/iq-register"
NS_PING = "urn:xmpp:ping"
NS_VERSION = "jabber:iq:version"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"

DEFAULT_TIMEOUT = 5.0
DOMAIN = "localhost"

_ids = itertools.count(1)


def new_id(prefix: str = "t") -> str:
    return f"{prefix}{next(_ids)}"


def q(ns: str, name: str) -> str:
    """ElementTree's qualified name: {ns}name."""
    return f"{{{ns}}}{name}"


def xml_escape(s: str) -> str:
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def ns_of(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def stanza_error_condition(el: ET.Element, ns: str = NS_CLIENT) -> Optional[str]:
    """The defined condition of a stanza error (RFC 6120 §8.3.3), or None. `ns` is the
    stream's default namespace (jabber:component:accept on a component stream)."""
    err = el.find(q(ns, "error"))
    if err is None:
        return None
    for child in err:
        if ns_of(child.tag) == NS_STANZA_ERRORS and local_name(child.tag) != "text":
            return local_name(child.tag)
    return None


def to_str(el: ET.Element) -> str:
    return ET.tostring(el, encoding="unicode")


class XmppError(AssertionError):
    pass


class StreamClosed(XmppError):
    pass


def stream_header(to: Optional[str] = DOMAIN, version: Optional[str] = "1.0",
                  xmlns: str = NS_CLIENT, stream_ns: str = NS_STREAMS,
                  extra: str = "", xml_decl: bool = True) -> str:
    attrs = []
    if to is not None:
        attrs.append(f"to='{to}'")
    if version is not None:
        attrs.append(f"version='{version}'")
    attrs.append(f"xmlns='{xmlns}'")
    attrs.append(f"xmlns:stream='{stream_ns}'")
    decl = "<?xml version='1.0'?>" if xml_decl else ""
    return f"{decl}<stream:stream {' '.join(attrs)}{(' ' + extra) if extra else ''}>"


class _ElementReader:
    """Incremental parser for one XML stream from the server: yields the stream header
    (a start event at depth 0) and each complete top-level element."""

    def __init__(self) -> None:
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.header: Optional[ET.Element] = None
        self.closed = False  # saw </stream:stream>
        self.broken: Optional[str] = None  # the server sent something that is not XML
        # Character data between top-level elements other than whitespace (RFC 6120 §4.6.1
        # allows only whitespace there, as keepalives), in the order received.
        self.stray_text: list[str] = []
        self._last_top: Optional[ET.Element] = None

    def feed(self, data: bytes) -> list[ET.Element]:
        out: list[ET.Element] = []
        if self.broken or self.closed:
            return out
        try:
            self.parser.feed(data)
            for event, el in self.parser.read_events():
                if event == "start":
                    if self.depth == 0:
                        self.header = el
                    elif self.depth == 1:
                        self._note_text_before_top()
                    self.depth += 1
                else:
                    self.depth -= 1
                    if self.depth == 1:
                        out.append(el)
                        self._last_top = el
                        if self.header is not None and el in list(self.header):
                            self.header.remove(el)
                    elif self.depth == 0:
                        self._note_text_before_top()
                        self.closed = True
        except ET.ParseError as e:
            self.broken = str(e)
        return out

    def _note_text_before_top(self) -> None:
        # The parser has just attached the text before this event to the previous
        # top-level element's tail (or to the header's text before the first one).
        text = self._last_top.tail if self._last_top is not None else (
            self.header.text if self.header is not None else None)
        if text and text.strip():
            self.stray_text.append(text)


class XmppStream:
    """One client connection to the server.

    Every element the server sends on the current stream is queued; `next()`,
    `expect()` and `wait_for()` take from the queue. `raw` holds every byte received
    on this connection (all streams)."""

    def __init__(self, port: int, host: str = "127.0.0.1", direct_tls: bool = False,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.sock: Union[socket.socket, ssl.SSLSocket] = socket.create_connection(
            (host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.tls = False
        self.to: Optional[str] = DOMAIN
        if direct_tls:
            self._wrap_tls()
        self.raw = b""
        self.reader = _ElementReader()
        self.queue: list[ET.Element] = []
        self.features: Optional[ET.Element] = None
        self.eof = False
        self.jid: Optional[str] = None
        self.authenticated = False

    # ----- bytes -----

    def _wrap_tls(self) -> None:
        # SNI (RFC 6066) names the domain of the stream, as clients do.
        self.sock = client_tls_context().wrap_socket(self.sock, server_hostname=self.to or DOMAIN)
        self.sock.settimeout(self.timeout)
        self.tls = True

    def send(self, data: Union[str, bytes]) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def send_expecting_cutoff(self, data: Union[str, bytes]) -> None:
        """Sends input the server is expected to refuse: it may close the connection
        before all of it is written, which is not an error here."""
        try:
            self.send(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass

    def send_bytewise(self, data: Union[str, bytes], delay: float = 0.0) -> None:
        """Sends one byte per write: every possible split point of the input."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        for i in range(len(data)):
            self.sock.sendall(data[i:i + 1])
            if delay:
                time.sleep(delay)

    def _pump(self, deadline: float) -> bool:
        """Reads once (until the deadline); False on timeout or end of connection."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(max(remaining, 0.001))
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return False
        except ssl.SSLWantReadError:
            return True
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            self.eof = True
            return False
        if not data:
            self.eof = True
            return False
        self.raw += data
        self.queue.extend(self.reader.feed(data))
        return True

    def poll(self, timeout: float = 0.0) -> None:
        """Takes in what has arrived (waiting up to timeout for something), without
        failing: for loops that watch several streams at once."""
        self._pump(time.monotonic() + max(timeout, 0.001))

    def read_until(self, needle: Union[str, Callable[[bytes], bool]],
                   timeout: Optional[float] = None) -> bytes:
        """Reads until `needle` (a substring or a predicate on all bytes received so far)
        holds; returns the raw bytes. Raises on timeout."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        pred = needle if callable(needle) else (lambda raw: needle.encode() in raw)
        while not pred(self.raw):
            if not self._pump(deadline):
                if pred(self.raw):
                    break
                raise XmppError(f"timed out or closed waiting for {needle!r}; got {self.raw[-2000:]!r}")
        return self.raw

    def wait_closed(self, timeout: Optional[float] = None) -> bool:
        """Reads until the server closes the TCP connection; True if it did."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while not self.eof:
            if not self._pump(deadline) and not self.eof and time.monotonic() >= deadline:
                return False
        return True

    # ----- elements -----

    def next(self, timeout: Optional[float] = None) -> ET.Element:
        """The next top-level element from the server."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while not self.queue:
            if not self._pump(deadline):
                if self.queue:
                    break
                if self.eof:
                    raise StreamClosed(f"connection closed; received {self.raw[-2000:]!r}")
                if time.monotonic() >= deadline:
                    raise XmppError(f"timed out waiting for an element; received {self.raw[-2000:]!r}")
        return self.queue.pop(0)

    def wait_for(self, pred: Callable[[ET.Element], bool],
                 timeout: Optional[float] = None) -> ET.Element:
        """The first element matching pred; elements before it are dropped."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise XmppError(f"timed out waiting for a matching element; received {self.raw[-2000:]!r}")
            el = self.next(remaining)
            if pred(el):
                return el

    def expect(self, ns: str, name: str, timeout: Optional[float] = None) -> ET.Element:
        """The next element, which must be {ns}name."""
        el = self.next(timeout)
        if el.tag != q(ns, name):
            raise XmppError(f"expected <{name} xmlns='{ns}'/>, got {to_str(el)}")
        return el

    # ----- barriers: "everything caused so far has arrived" -----

    def sync(self, timeout: Optional[float] = None) -> list[ET.Element]:
        """A barrier: sends an XEP-0199 ping to the server and reads until its result.

        The server handles one stream's stanzas in order, each to its end (storage and IM
        jobs and the hand-over of deliveries to other sessions included), and writes to a
        stream in order. So when the result is here, everything the stanzas sent before
        it caused on this stream has arrived, and whatever they caused for other sessions
        has been handed to those sessions: a barrier on such a stream then shows it (see
        no_element_after()). Elements received before the result stay queued, in order,
        and are returned; the result itself is consumed.

        Only with a bound resource: before binding, hongyand ends the stream on an iq
        other than the bind request (<not-authorized/>, RFC 6120 §4.9.3.12; before
        authentication, except XEP-0077 registration); see silent_for()."""
        if self.jid is None:
            raise XmppError("a ping barrier needs a bound resource (before it an iq ends the "
                            "stream, RFC 6120 §4.9.3.12); see silent_for()")
        ping_id = new_id("barrier")
        self.send(f"<iq type='get' id='{ping_id}' to='{DOMAIN}'><ping xmlns='{NS_PING}'/></iq>")
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)

        def position() -> int:
            for i, e in enumerate(self.queue):
                if e.tag == q(NS_CLIENT, "iq") and e.get("id") == ping_id:
                    return i
            return -1

        while (i := position()) < 0:
            if not self._pump(deadline):
                if position() >= 0:
                    continue
                if self.eof:
                    raise StreamClosed(f"connection closed before the barrier ping's result; "
                                       f"received {self.raw[-2000:]!r}")
                if time.monotonic() >= deadline:
                    raise XmppError(f"no result for the barrier ping; received {self.raw[-2000:]!r}")
        pong = self.queue.pop(i)
        if pong.get("type") != "result":
            raise XmppError(f"the barrier ping failed: {to_str(pong)}")
        return self.queue[:i]

    def drain(self, timeout: Optional[float] = None) -> list[ET.Element]:
        """A barrier (sync()), then takes and returns every element received before its
        result: all that this stream's stanzas so far caused here, and whatever other
        sessions had handed to this one before the ping was read."""
        n = len(self.sync(timeout))
        before, self.queue = self.queue[:n], self.queue[n:]
        return before

    def no_element(self, *, allow: Optional[Callable[[ET.Element], bool]] = None,
                   timeout: Optional[float] = None) -> list[ET.Element]:
        """Asserts that nothing arrives: a barrier (sync()), and nothing but its result
        before it, except whitespace (keepalives, RFC 6120 §4.6.1) and elements that
        `allow` accepts (returned). Elements already queued count as arrived.

        This proves that the stanzas this stream sent so far caused nothing here. For
        what another stream's stanzas caused, use no_element_after(sender, self)."""
        stray = len(self.reader.stray_text)
        got = self.drain(timeout)
        bad = [e for e in got if allow is None or not allow(e)]
        if bad:
            raise XmppError("unexpected element(s) before the barrier: "
                            + " ".join(to_str(e) for e in bad))
        if len(self.reader.stray_text) > stray:
            raise XmppError(f"unexpected character data between stanzas: "
                            f"{self.reader.stray_text[stray:]!r}")
        return got

    def silent_for(self, seconds: float, reason: str) -> None:
        """Before resource binding only, where the ping barrier is impossible (an iq
        ends the stream, RFC 6120 §4.9.3.12): asserts that no element arrives within
        `seconds`. Unlike no_element() this can pass by luck on a
        slow machine, so the caller must say why no barrier is possible."""
        if self.jid is not None:
            raise XmppError("the stream is bound: use no_element(), a real barrier")
        if not reason.strip():
            raise ValueError("silent_for() needs the reason a barrier is impossible")
        try:
            el = self.next(seconds)
        except StreamClosed:
            raise XmppError(f"connection closed unexpectedly (waited because {reason})")
        except XmppError:
            return
        raise XmppError(f"unexpected element {to_str(el)}")

    def stream_error(self, timeout: Optional[float] = None) -> str:
        """Waits for <stream:error/> and returns its defined condition (RFC 6120 §4.9.3).
        Elements before it are skipped. Also checks the server opened its stream first
        (RFC 6120 §4.9.1.2) and closed the stream afterwards."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            remaining = deadline - time.monotonic()
            el = self.next(max(remaining, 0.001))
            if el.tag == q(NS_STREAMS, "error"):
                break
        if self.reader.header is None or local_name(self.reader.header.tag) != "stream":
            raise XmppError("stream error without a stream header first")
        conds = [local_name(c.tag) for c in el
                 if ns_of(c.tag) == NS_STREAM_ERRORS and local_name(c.tag) != "text"]
        if len(conds) != 1:
            raise XmppError(f"stream error must carry exactly one condition: {to_str(el)}")
        # RFC 6120 §4.9.1.1: the error is followed by the closing stream tag.
        self.read_until(lambda raw: self.reader.closed, timeout=max(deadline - time.monotonic(), 1.0))
        return conds[0]

    # ----- stream negotiation -----

    def open(self, to: Optional[str] = "", **kw) -> ET.Element:
        """Opens a (new) stream and returns the server's <stream:features/>. Without `to`,
        the domain of this connection's first stream (default: localhost)."""
        if to == "":
            to = self.to
        self.to = to
        self.reader = _ElementReader()
        self.queue = []
        self.send(stream_header(to=to, **kw))
        self.features = self.expect(NS_STREAMS, "features")
        header = self.reader.header
        assert header is not None and header.tag == q(NS_STREAMS, "stream")
        return self.features

    @property
    def header(self) -> Optional[ET.Element]:
        return self.reader.header

    def mechanisms(self) -> list[str]:
        assert self.features is not None
        mechs = self.features.find(q(NS_SASL, "mechanisms"))
        if mechs is None:
            return []
        return [m.text or "" for m in mechs.findall(q(NS_SASL, "mechanism"))]

    def starttls(self) -> ET.Element:
        """RFC 6120 §5.4: STARTTLS, TLS handshake, stream restart. Returns new features."""
        self.send(f"<starttls xmlns='{NS_TLS}'/>")
        self.expect(NS_TLS, "proceed")
        self._wrap_tls()
        return self.open()

    def sasl_auth(self, mechanism: str, initial: Optional[bytes]) -> None:
        if initial is None:
            self.send(f"<auth xmlns='{NS_SASL}' mechanism='{mechanism}'/>")
        else:
            data = base64.b64encode(initial).decode() if initial else "="
            self.send(f"<auth xmlns='{NS_SASL}' mechanism='{mechanism}'>{data}</auth>")

    def sasl_response(self, data: bytes) -> None:
        enc = base64.b64encode(data).decode() if data else "="
        self.send(f"<response xmlns='{NS_SASL}'>{enc}</response>")

    def auth_plain(self, user: str, password: str, authzid: str = "") -> ET.Element:
        """RFC 4616 PLAIN. Returns <success/> or <failure/>."""
        self.sasl_auth("PLAIN", f"{authzid}\0{user}\0{password}".encode())
        el = self.next()
        if el.tag == q(NS_SASL, "success"):
            self.authenticated = True
        return el

    def auth_scram(self, user: str, password: str, mechanism: str = "SCRAM-SHA-256",
                   tamper_proof: bool = False) -> ET.Element:
        """RFC 5802 SCRAM without channel binding. Returns <success/> or <failure/>;
        on success the server signature is verified."""
        client = ScramClient(user, password, mechanism)
        self.sasl_auth(mechanism, client.first())
        el = self.next()
        if el.tag != q(NS_SASL, "challenge"):
            return el
        final = client.final(base64.b64decode(el.text or ""))
        if tamper_proof:
            final = client.tampered_final()
        self.sasl_response(final)
        el = self.next()
        if el.tag == q(NS_SASL, "success"):
            data = base64.b64decode(el.text) if el.text and el.text != "=" else b""
            client.verify_server(data)
            self.authenticated = True
        return el

    def auth(self, user: str, password: str, mechanism: str = "SCRAM-SHA-256") -> ET.Element:
        if mechanism == "PLAIN":
            return self.auth_plain(user, password)
        return self.auth_scram(user, password, mechanism)

    def bind(self, resource: Optional[str] = None) -> str:
        """RFC 6120 §7: binds a resource and returns the full JID."""
        iq_id = new_id("bind")
        inner = f"<resource>{xml_escape(resource)}</resource>" if resource is not None else ""
        self.send(f"<iq type='set' id='{iq_id}'><bind xmlns='{NS_BIND}'>{inner}</bind></iq>")
        el = self.wait_for(lambda e: e.get("id") == iq_id)
        if el.get("type") != "result":
            raise XmppError(f"bind failed: {to_str(el)}")
        jid = el.findtext(f"{q(NS_BIND, 'bind')}/{q(NS_BIND, 'jid')}")
        assert jid, to_str(el)
        self.jid = jid
        return jid

    def login(self, user: str, password: str, mechanism: str = "SCRAM-SHA-256",
              resource: Optional[str] = "test") -> str:
        """From a fresh plain connection (or a direct TLS one): everything up to a bound
        resource. Returns the full JID."""
        self.open()
        if not self.tls:
            self.starttls()
        el = self.auth(user, password, mechanism)
        if el.tag != q(NS_SASL, "success"):
            raise XmppError(f"authentication failed: {to_str(el)}")
        feats = self.open()
        assert feats.find(q(NS_BIND, "bind")) is not None, to_str(feats)
        return self.bind(resource)

    # ----- stanzas -----

    def iq(self, type_: str, payload: str, to: Optional[str] = None,
           timeout: Optional[float] = None, extra: str = "") -> ET.Element:
        """Sends an iq and returns the response with the same id."""
        iq_id = new_id("iq")
        to_attr = f" to='{to}'" if to else ""
        self.send(f"<iq type='{type_}' id='{iq_id}'{to_attr}{extra}>{payload}</iq>")
        return self.wait_for(lambda e: e.tag == q(NS_CLIENT, "iq") and e.get("id") == iq_id,
                             timeout)

    def ping(self, to: str = DOMAIN) -> ET.Element:
        return self.iq("get", f"<ping xmlns='{NS_PING}'/>", to=to)

    def register(self, user: str, password: str) -> ET.Element:
        """XEP-0077 §3.1: the registration iq; returns the server's answer."""
        return self.iq("set", f"<query xmlns='{NS_REGISTER}'><username>{xml_escape(user)}"
                              f"</username><password>{xml_escape(password)}</password></query>")

    def logout(self, timeout: Optional[float] = None) -> None:
        """RFC 6120 §4.4: closes the stream and waits until the server has closed its
        own and the TCP connection. The server ends the session (the resource leaves the
        routing table, the unavailable presence is broadcast) before it writes its
        closing tag, so afterwards every stanza it handles finds the resource gone."""
        self.send("</stream:stream>")
        if not self.wait_closed(timeout):
            raise XmppError(f"the server did not close the connection; received {self.raw[-500:]!r}")
        self.close()

    def close(self) -> None:
        try:
            if not self.eof:
                self.send("</stream:stream>")
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        self.eof = True


def client_tls_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# ----- SCRAM (RFC 5802; SHA-256 per RFC 7677) -----

def _saslname(name: str) -> str:
    # RFC 5802 §5.1: ',' and '=' are escaped in the username.
    return name.replace("=", "=3D").replace(",", "=2C")


class ScramClient:
    def __init__(self, user: str, password: str, mechanism: str = "SCRAM-SHA-256",
                 nonce: Optional[str] = None) -> None:
        self.hash = {"SCRAM-SHA-1": hashlib.sha1, "SCRAM-SHA-256": hashlib.sha256}[mechanism]
        self.hash_name = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256"}[mechanism]
        self.user = user
        self.password = password
        self.cnonce = nonce or base64.b64encode(os.urandom(18)).decode()
        self.gs2_header = "n,,"
        self.first_bare = f"n={_saslname(user)},r={self.cnonce}"
        self.server_signature = b""
        self.final_without_proof = ""
        self.auth_message = ""
        self.client_key = b""

    def _hmac(self, key: bytes, msg: bytes) -> bytes:
        return hmac.new(key, msg, self.hash).digest()

    def first(self) -> bytes:
        return (self.gs2_header + self.first_bare).encode()

    def final(self, server_first: bytes) -> bytes:
        sf = server_first.decode()
        attrs = dict(kv.split("=", 1) for kv in sf.split(","))
        nonce, salt, iterations = attrs["r"], base64.b64decode(attrs["s"]), int(attrs["i"])
        if not nonce.startswith(self.cnonce):
            raise XmppError("server nonce does not extend the client nonce")
        salted = hashlib.pbkdf2_hmac(self.hash_name, self.password.encode(), salt, iterations)
        self.client_key = self._hmac(salted, b"Client Key")
        stored_key = self.hash(self.client_key).digest()
        channel = base64.b64encode(self.gs2_header.encode()).decode()
        self.final_without_proof = f"c={channel},r={nonce}"
        self.auth_message = f"{self.first_bare},{sf},{self.final_without_proof}"
        signature = self._hmac(stored_key, self.auth_message.encode())
        proof = bytes(a ^ b for a, b in zip(self.client_key, signature))
        server_key = self._hmac(salted, b"Server Key")
        self.server_signature = self._hmac(server_key, self.auth_message.encode())
        self.proof = proof
        return f"{self.final_without_proof},p={base64.b64encode(proof).decode()}".encode()

    def tampered_final(self) -> bytes:
        bad = bytes([self.proof[0] ^ 1]) + self.proof[1:]
        return f"{self.final_without_proof},p={base64.b64encode(bad).decode()}".encode()

    def verify_server(self, server_final: bytes) -> None:
        m = re.fullmatch(rb"v=([A-Za-z0-9+/=]+)", server_final)
        if not m or base64.b64decode(m.group(1)) != self.server_signature:
            raise XmppError(f"bad server signature in SCRAM success: {server_final!r}")


# ----- conveniences used by several test files -----

def wait_until(pred: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.02) -> None:
    """Polls pred until it holds, for effects of the server's own timers (a timeout, the
    directory-feed poll) and of other processes: as short as the condition allows, with
    a deadline generous enough for a slow machine. Raises naming `what`."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() >= deadline:
            raise XmppError(f"timed out after {timeout} s waiting until {what}")
        time.sleep(interval)


def no_element_after(sender: XmppStream, *receivers: XmppStream,
                     allow: Optional[Callable[[ET.Element], bool]] = None) -> None:
    """What `sender` sent so far causes nothing on `receivers`: a barrier on the
    sender's stream (its stanzas have been routed, deliveries handed to the receivers'
    sessions), then no_element() on each receiver (what was handed over is written).
    The sender's own elements stay queued."""
    sender.sync()
    for r in receivers:
        r.no_element(allow=allow)


def drain_after(sender: XmppStream, receiver: XmppStream) -> list[ET.Element]:
    """Everything `sender`'s stanzas so far (and the receiver's own) caused on
    `receiver`: a barrier on the sender's stream, then receiver.drain()."""
    sender.sync()
    return receiver.drain()


def assert_still_serves(server, user: str = "probe", password: str = "probe-password") -> None:
    """After any bad input: a fresh client still logs in over STARTTLS and gets a pong."""
    server.ensure_user(user, password)
    s = server.connect()
    try:
        s.login(user, password, resource=new_id("probe"))
        pong = s.ping()
        assert pong.get("type") == "result", to_str(pong)
    finally:
        s.close()
