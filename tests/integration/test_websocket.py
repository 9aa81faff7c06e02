"""XMPP over WebSocket (RFC 7395) on the HTTP listener, and its discovery (XEP-0156): a
real WebSocket client (xmpp.js, npm @xmpp/client) chats with a slixmpp user on TCP; raw
frames check the framing rules, errors and limits. The session behind both transports is
the same code, so what the TCP tests prove about it holds here too."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import urllib.request
from pathlib import Path

import pytest
import websocket

import slix
from ws_raw import NS_FRAMING, WsStream, open_element
from xmpp_raw import NS_CLIENT, NS_PING, NS_SASL, NS_STREAMS, NS_TLS, q, to_str, \
    assert_still_serves

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
PW = "password-123"


def ws_url(server, tls: bool = False) -> str:
    return (f"wss://127.0.0.1:{server.https_port}" if tls else
            f"ws://127.0.0.1:{server.http_port}") + "/xmpp-websocket"


def connect_ws(server, tls: bool = False, **kw) -> WsStream:
    """A WebSocket client stream, closed at the test's end (so the server is not left
    waiting for its half of the closing handshake at shutdown)."""
    s = WsStream(ws_url(server, tls), **kw)
    server.streams.append(s)
    return s


def http_get(server, path: str, tls: bool = False) -> tuple[int, dict, bytes]:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    base = f"https://localhost:{server.https_port}" if tls else f"http://localhost:{server.http_port}"
    try:
        with urllib.request.urlopen(base + path, timeout=5, context=ctx if tls else None) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


# ----- a real client -----

def test_xmpp_js_over_websocket_chats_with_slixmpp_over_tcp(server):
    """xmpp.js logs in over ws:// (SCRAM), fetches its roster, goes online and chats with
    a slixmpp user on TCP, who sees its presence and answers."""
    server.ensure_user("alice", PW)
    server.ensure_user("bob", PW)
    for user, contact, name in (("alice", "bob", "Bob"), ("bob", "alice", "Alice")):
        r = server.ctl("roster", "add", user, f"{contact}@localhost", "-n", name, "-s", "both")
        assert r.returncode == 0, r.stderr

    async def scenario(loop):
        bob = await slix.connect("bob@localhost/tcp", PW, server.port)
        got = loop.create_future()

        def on_message(msg):
            if msg["body"] and not got.done():
                got.set_result((str(msg["from"]), msg["body"]))
                bob.send_message(mto=msg["from"], mbody="hello back", mtype="chat")

        bob.add_event_handler("message", on_message)
        bob.send_presence()
        await bob.get_roster()
        proc = await asyncio.create_subprocess_exec(
            "node", "--experimental-websocket", str(NODE_DIR / "ws_chat.mjs"),
            ws_url(server), "alice", PW, "bob@localhost/tcp",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=NODE_DIR)
        out, err = await asyncio.wait_for(proc.communicate(), 25)
        events = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        await slix.wait_until(lambda: "web" in bob.client_roster["alice@localhost"].resources
                              or got.done(), "bob sees alice online or her message")
        sender, body = await asyncio.wait_for(got, 5)
        await slix.disconnect(bob)
        return proc.returncode, events, err.decode(), sender, body

    rc, events, err, sender, body = slix.run(scenario, timeout=40)
    assert rc == 0, f"xmpp.js failed: {events} {err}"
    kinds = [e["event"] for e in events]
    assert kinds[0] == "online" and events[0]["jid"] == "alice@localhost/web", events
    roster = next(e for e in events if e["event"] == "roster")["items"]
    assert roster == [{"jid": "bob@localhost", "name": "Bob", "subscription": "both"}], roster
    answer = next(e for e in events if e["event"] == "message")
    assert answer["from"] == "bob@localhost/tcp" and answer["body"] == "hello back", events
    assert sender == "alice@localhost/web" and body == "hello from the web"


# ----- framing (RFC 7395 §3) -----

def test_framing_login_and_stanzas(server):
    """§3.3: <open/> is answered with <open/> (from, id, version, xml:lang) and features
    that declare the stream prefix; no STARTTLS over WebSocket (§3.9); SASL, a restart with
    a new <open/> (§3.7), binding, and stanzas in messages of their own that declare
    jabber:client."""
    server.ensure_user("alice", PW)
    s = connect_ws(server)
    assert s.ws.getsubprotocol() == "xmpp"
    s.send(open_element())
    o = s.next()
    assert o.tag == q(NS_FRAMING, "open") and o.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    features = s.next()
    assert features.tag == q(NS_STREAMS, "features")
    assert features.find(q(NS_TLS, "starttls")) is None
    mechs = [m.text for m in features.find(q(NS_SASL, "mechanisms"))]
    assert "SCRAM-SHA-256" in mechs and "PLAIN" not in mechs  # PLAIN only with TLS
    assert 'xmlns:stream="http://etherx.jabber.org/streams"' in s.frames[-1]
    s.close()
    s = connect_ws(server)
    assert s.login("alice", PW) == "alice@localhost/ws"
    pong = s.iq("get", f"<ping xmlns='{NS_PING}'/>", to="localhost")
    assert pong.tag == q(NS_CLIENT, "iq") and pong.get("type") == "result"
    assert s.frames[-1].startswith('<iq xmlns="jabber:client"'), s.frames[-1]
    s.send(f"<close xmlns='{NS_FRAMING}'/>")
    assert s.next().tag == q(NS_FRAMING, "close")
    assert s.closed()


def test_wss_offers_plain(server):
    """Over wss:// (the HTTPS listener, the c2s certificate) the connection is secure:
    PLAIN is offered, and works."""
    server.ensure_user("alice", PW)
    s = connect_ws(server, tls=True)
    features = s.open()
    assert "PLAIN" in [m.text for m in features.find(q(NS_SASL, "mechanisms"))]
    import base64
    initial = base64.b64encode(b"\0alice\0" + PW.encode()).decode()
    s.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{initial}</auth>")
    assert s.next().tag == q(NS_SASL, "success")


def test_subprotocol_required(server):
    """§3.1: without the 'xmpp' subprotocol there is no XMPP stream: 400."""
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        connect_ws(server, subprotocols=[])
    assert e.value.status_code == 400
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        connect_ws(server, subprotocols=["chat"])
    assert e.value.status_code == 400
    assert_still_serves(server)


def test_first_message_must_be_open(server):
    """§3.3.2, §3.4: a stream opened the RFC 6120 way (or anything but <open/>) gets
    <invalid-namespace/>, inside our own <open/>, then <close/> (§3.5)."""
    s = connect_ws(server)
    s.send("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
           "to='localhost' version='1.0'/>")
    assert s.next().tag == q(NS_FRAMING, "open")
    assert s.stream_error() == "invalid-namespace"
    assert s.closed()


@pytest.mark.parametrize("message,condition", [
    ("<presence xmlns='jabber:client'/><presence xmlns='jabber:client'/>", "not-well-formed"),
    ("<presence xmlns='jabber:client'>", "not-well-formed"),
    ("<presence xmlns='jabber:client'", "not-well-formed"),
])
def test_one_element_per_message(server, message, condition):
    """§3.3.3: a message holds exactly one complete element."""
    server.ensure_user("alice", PW)
    s = connect_ws(server)
    s.login("alice", PW)
    s.send(message)
    assert s.stream_error() == condition
    assert s.closed()
    assert_still_serves(server)


def test_binary_message_refused(server):
    """§3.2: XMPP travels in text messages."""
    s = connect_ws(server)
    s.open()
    s.send_binary(b"<presence/>")
    assert s.stream_error() == "bad-format"


def test_version_and_host_checked(server):
    """RFC 6120 §4.7.5 and §4.9.3.6 apply to <open/> as to a stream header."""
    s = connect_ws(server)
    s.send(open_element(version="2.0"))
    assert s.next().tag == q(NS_FRAMING, "open")
    assert s.stream_error() == "unsupported-version"
    s = connect_ws(server)
    s.send(open_element(to="elsewhere.example"))
    assert s.next().tag == q(NS_FRAMING, "open")
    assert s.stream_error() == "host-unknown"


def test_same_limits_as_tcp(start_server):
    """The stanza limits of c2s hold on WebSocket too: before authentication the small
    one (limits.max_stanza_size_preauth)."""
    server = start_server({"limits.max_stanza_size_preauth": 2048})
    s = connect_ws(server)
    s.open()
    s.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>" + "A" * 2500 + "</auth>")
    assert s.stream_error() == "policy-violation"
    assert_still_serves(server)


def test_preauth_timeout(start_server):
    """c2s.preauth_timeout holds for WebSocket clients (one connection code for all
    transports)."""
    server = start_server({"c2s.preauth_timeout": 1})
    s = connect_ws(server, timeout=10)
    s.open()
    assert s.stream_error() == "connection-timeout"


def test_keepalive_is_a_websocket_ping(start_server):
    """§3.8: no whitespace keepalives on WebSocket; the server pings instead."""
    server = start_server({"c2s.keepalive_interval": 1})
    server.ensure_user("alice", PW)
    s = connect_ws(server, timeout=10)
    s.login("alice", PW)
    frame = s.recv_frame(control=True)
    assert frame.opcode == websocket.ABNF.OPCODE_PING, frame


def test_plain_websocket_policy(start_server):
    """websocket.allow_plain: 'never' refuses ws:// even on loopback (403); wss:// still
    works."""
    server = start_server({"websocket.allow_plain": "never"})
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        connect_ws(server)
    assert e.value.status_code == 403
    connect_ws(server, tls=True).open()


def test_see_other_uri(start_server):
    """§3.6.1: the server can send clients elsewhere: <open/> is answered with <close/>
    and its see-other-uri."""
    server = start_server({"websocket.see_other_uri": "wss://other.example/xmpp-websocket"})
    s = connect_ws(server)
    s.send(open_element())
    c = s.next()
    assert c.tag == q(NS_FRAMING, "close"), to_str(c)
    assert c.get("see-other-uri") == "wss://other.example/xmpp-websocket"
    assert s.closed()


# ----- discovery (XEP-0156) and the HTTP listener -----

def test_host_meta(server):
    """XEP-0156 §3: the XRD and JSON documents name the WebSocket endpoint, readable from
    any origin (CORS)."""
    status, headers, body = http_get(server, "/.well-known/host-meta")
    assert status == 200
    assert headers["Content-Type"].startswith("application/xrd+xml")
    assert headers["Access-Control-Allow-Origin"] == "*"
    import xml.etree.ElementTree as ET
    xrd = ET.fromstring(body)
    links = {l.get("href") for l in xrd.findall("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
             if l.get("rel") == "urn:xmpp:alt-connections:websocket"}
    assert f"ws://localhost:{server.http_port}/xmpp-websocket" in links
    assert f"wss://localhost:{server.https_port}/xmpp-websocket" in links
    status, headers, body = http_get(server, "/.well-known/host-meta.json", tls=True)
    assert status == 200 and headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    assert doc == {"links": [{"rel": "urn:xmpp:alt-connections:websocket",
                              "href": f"wss://localhost:{server.https_port}/xmpp-websocket"}]}


def test_host_meta_public_urls(start_server):
    """websocket.public_urls: what a server behind a proxy announces."""
    server = start_server({"websocket.public_urls": "wss://chat.example.org/xmpp-websocket"})
    status, _, body = http_get(server, "/.well-known/host-meta.json")
    assert json.loads(body)["links"][0]["href"] == "wss://chat.example.org/xmpp-websocket"


def test_http_errors_and_limits(start_server):
    """Unknown paths get 404; a request over http.max_request_size gets 431; a client
    that sends nothing is closed after http.request_timeout."""
    server = start_server({"http.max_request_size": 1024, "http.request_timeout": 1})
    assert http_get(server, "/nothing-here")[0] == 404
    sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=10)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n")
    assert sock.recv(100).startswith(b"HTTP/1.1 431")
    sock.close()
    sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=10)
    assert sock.recv(1) == b"", "the silent HTTP client was not closed"
    sock.close()
    assert http_get(server, "/.well-known/host-meta")[0] == 200
