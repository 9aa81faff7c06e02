"""TCP is a byte stream (RFC 6120 §4.2 / §11): the server must not depend on how the
client's bytes are cut into reads. Whole logins one byte per write, every split point
of a stanza, many stanzas per write."""

import base64

import pytest

from xmpp_raw import (NS_BIND, NS_CLIENT, NS_PING, NS_SASL, NS_STREAMS, NS_TLS, ScramClient,
                      assert_still_serves, q, stream_header, to_str)

USER, PASSWORD = "alice", "alice-password"


def test_plain_phase_bytewise(server):
    """RFC 6120 §4.2, §5.4: stream header and <starttls/> one byte per write."""
    server.add_user(USER, PASSWORD)
    s = server.connect()
    s.send_bytewise(stream_header())
    s.expect(NS_STREAMS, "features")
    s.send_bytewise(f"<starttls xmlns='{NS_TLS}'/>")
    s.expect(NS_TLS, "proceed")


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
@pytest.mark.parametrize("direct_tls", [False, True], ids=["starttls", "direct-tls"])
def test_whole_login_bytewise(server, mechanism, direct_tls):
    """RFC 6120 §4-§7: every byte the client sends for a whole session (header, STARTTLS,
    SASL, restart, bind, a stanza, close) in its own write."""
    from xmpp_raw import _ElementReader
    server.add_user(USER, PASSWORD)
    s = server.connect(direct_tls=direct_tls)

    def restart():
        s.reader = _ElementReader()
        s.queue = []
        s.send_bytewise(stream_header())
        return s.expect(NS_STREAMS, "features")

    restart()
    if not direct_tls:
        s.send_bytewise(f"<starttls xmlns='{NS_TLS}'/>")
        s.expect(NS_TLS, "proceed")
        s._wrap_tls()
        restart()
    if mechanism == "PLAIN":
        data = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
        s.send_bytewise(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{data}</auth>")
    else:
        scram = ScramClient(USER, PASSWORD, mechanism)
        s.send_bytewise(f"<auth xmlns='{NS_SASL}' mechanism='{mechanism}'>"
                        f"{base64.b64encode(scram.first()).decode()}</auth>")
        ch = s.expect(NS_SASL, "challenge")
        final = scram.final(base64.b64decode(ch.text))
        s.send_bytewise(f"<response xmlns='{NS_SASL}'>{base64.b64encode(final).decode()}</response>")
    ok = s.expect(NS_SASL, "success")
    if mechanism != "PLAIN":
        scram.verify_server(base64.b64decode(ok.text))
    restart()
    s.send_bytewise(f"<iq type='set' id='b'><bind xmlns='{NS_BIND}'><resource>byte</resource></bind></iq>")
    r = s.wait_for(lambda e: e.get("id") == "b")
    assert r.findtext(f"{q(NS_BIND, 'bind')}/{q(NS_BIND, 'jid')}") == "alice@localhost/byte"
    s.send_bytewise("<message to='alice@localhost/byte' id='u'><body>鸿雁传书 ✉️</body></message>")
    m = s.wait_for(lambda e: e.get("id") == "u")
    assert m.findtext(q(NS_CLIENT, "body")) == "鸿雁传书 ✉️"
    s.send_bytewise("</stream:stream>")
    s.read_until("</stream:stream>")
    assert s.wait_closed(3)


def test_every_split_point_of_a_stanza(server):
    """Each way of cutting one stanza into two writes gives the same answer."""
    s = server.login(USER, PASSWORD)
    template = ("<iq type='get' id='{id}' to='localhost'>"
                f"<ping xmlns='{NS_PING}'/></iq>")
    probe = template.format(id="i000")
    for k in range(1, len(probe)):
        stanza = template.format(id=f"i{k:03d}").encode()
        s.send(stanza[:k])
        s.send(stanza[k:])
        r = s.wait_for(lambda e, k=k: e.get("id") == f"i{k:03d}", timeout=3)
        assert r.get("type") == "result", (k, to_str(r))


def test_every_split_point_of_a_utf8_message(server):
    """Multi-byte UTF-8 characters split across writes arrive intact (RFC 6120 §11.6)."""
    s = server.login(USER, PASSWORD)
    body = "鸿雁€😀"
    template = "<message to='alice@localhost/test' id='{id}'><body>" + body + "</body></message>"
    probe = template.format(id="u000").encode()
    start = probe.index(body.encode())
    for k in range(start, start + len(body.encode()) + 1):
        stanza = template.format(id=f"u{k:03d}").encode()
        s.send(stanza[:k])
        s.send(stanza[k:])
        m = s.wait_for(lambda e, k=k: e.get("id") == f"u{k:03d}", timeout=3)
        assert m.findtext(q(NS_CLIENT, "body")) == body


def test_many_stanzas_in_one_write(server):
    """Many stanzas in one write are all handled, in order (RFC 6120 §10.1 in-order
    processing)."""
    s = server.login(USER, PASSWORD)
    n = 200
    s.send("".join(f"<iq type='get' id='p{i}' to='localhost'><ping xmlns='{NS_PING}'/></iq>"
                   for i in range(n)))
    ids = []
    while len(ids) < n:
        ids.append(s.next().get("id"))
    assert ids == [f"p{i}" for i in range(n)]


def test_pipelined_stanzas_straddling_writes(server):
    """Writes that end in the middle of one stanza and start the next one."""
    s = server.login(USER, PASSWORD)
    data = "".join(f"<iq type='get' id='q{i}' to='localhost'><ping xmlns='{NS_PING}'/></iq>"
                   for i in range(30)).encode()
    for off in range(0, len(data), 37):
        s.send(data[off:off + 37])
    for i in range(30):
        assert s.wait_for(lambda e, i=i: e.get("id") == f"q{i}").get("type") == "result"


def test_auth_and_restart_in_one_write(server):
    """RFC 6120 §6.4.6: bytes that follow <success/> belong to the restarted stream. A
    client that sends its PLAIN <auth/> and, optimistically, the new stream header in the
    same write gets <success/> and then the features of the new stream."""
    from xmpp_raw import _ElementReader
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    mark = len(s.raw)
    data = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    s.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{data}</auth>" + stream_header())
    s.read_until(lambda raw: b"</stream:features>" in raw[mark:])
    s.expect(NS_SASL, "success")
    tail = s.raw[mark:]
    restarted = tail[tail.index(b"<stream:stream"):]
    s.reader = _ElementReader()
    s.queue = s.reader.feed(restarted)
    feats = s.expect(NS_STREAMS, "features")
    assert feats.find(q(NS_BIND, "bind")) is not None, to_str(feats)
    assert s.bind("pipelined") == "alice@localhost/pipelined"
    assert_still_serves(server)
