"""Bad input on the client stream: every case gets the stream error RFC 6120 names, the
server opens its own stream first when needed (§4.9.1.2), closes the connection, and
still serves a fresh client afterwards."""

import pytest

from xmpp_raw import NS_CLIENT, assert_still_serves, stream_header

USER, PASSWORD = "alice", "alice-password"
HEADER = stream_header()


def check_error(server, s, expected):
    """The stream error is one of `expected`; then the connection is closed and a fresh
    client still logs in."""
    if isinstance(expected, str):
        expected = (expected,)
    cond = s.stream_error()
    assert cond in expected, f"got <{cond}/>, expected {expected}"
    assert s.wait_closed(3), "the server did not close the connection after the stream error"
    assert_still_serves(server)
    return cond


def header_precedes_error(raw: bytes) -> bool:
    return b"<stream:stream" in raw and raw.index(b"<stream:stream") < raw.index(b"<stream:error")


# ----- bad stream headers (the server has not opened its stream yet) -----

BAD_HEADERS = {
    # RFC 6120 §4.9.3.13: not XML at all.
    "garbage": (b"hello, is this XMPP?\r\n", "not-well-formed"),
    "http request": (b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", "not-well-formed"),
    # RFC 6120 §11.1, §4.9.3.18: DTDs and entity declarations are restricted XML.
    "doctype": ("<?xml version='1.0'?><!DOCTYPE stream:stream>" + HEADER, "restricted-xml"),
    "entity declaration": (
        "<?xml version='1.0'?><!DOCTYPE s [<!ENTITY boom 'x'>]>" + HEADER, "restricted-xml"),
    "billion laughs": (
        "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
        "<!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>]>" + HEADER,
        "restricted-xml"),
    "processing instruction": ("<?xml version='1.0'?><?evil stuff?>" + HEADER, "restricted-xml"),
    "comment": ("<!-- hello -->" + HEADER, "restricted-xml"),
    # RFC 6120 §4.8.1, §4.9.3.10: stream namespace and content namespace.
    "wrong stream namespace": (stream_header(stream_ns="urn:not:streams"), "invalid-namespace"),
    "content namespace jabber:server": (stream_header(xmlns="jabber:server"), "invalid-namespace"),
    "content namespace unknown": (stream_header(xmlns="urn:example"), "invalid-namespace"),
    "no content namespace": (
        "<stream:stream to='localhost' version='1.0' "
        "xmlns:stream='http://etherx.jabber.org/streams'>", "invalid-namespace"),
    "root is not stream": (
        "<hello xmlns='jabber:client' to='localhost' version='1.0'>",
        ("invalid-namespace", "invalid-xml", "bad-format")),
    # RFC 6120 §4.7.2, §4.9.3.6: a domain this server does not serve.
    "host unknown": (stream_header(to="example.org"), "host-unknown"),
    # RFC 6120 §4.7.5, §4.9.3.25: version 1.0 required.
    "no version": (stream_header(version=None), "unsupported-version"),
    "version 2.0": (stream_header(version="2.0"), "unsupported-version"),
    "version 0.9": (stream_header(version="0.9"), "unsupported-version"),
    # RFC 6120 §11.6, §4.9.3.22: UTF-8 only.
    "encoding latin-1": ("<?xml version='1.0' encoding='ISO-8859-1'?>" + stream_header(xml_decl=False),
                         "unsupported-encoding"),
}


@pytest.mark.parametrize("direct_tls", [False, True], ids=["plain", "direct-tls"])
@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_bad_stream_header(server, case, direct_tls):
    """RFC 6120 §4.9.1.2: even when the client's header is bad, the server sends its own
    stream header, then the stream error (RFC 6120 §4.9.3.x, see the case), then
    </stream:stream>, and closes the connection."""
    data, expected = BAD_HEADERS[case]
    s = server.connect(direct_tls=direct_tls)
    s.send(data)
    check_error(server, s, expected)
    assert header_precedes_error(s.raw), s.raw


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_bad_stream_header_closes_and_server_survives(server, case):
    """RFC 6120 §4.9.1.1: a stream error is unrecoverable: whatever the server answers to
    a bad header, it closes the connection and keeps serving others."""
    data, _ = BAD_HEADERS[case]
    s = server.connect()
    s.send(data)
    assert s.wait_closed(3), s.raw
    assert b"<stream:features" not in s.raw
    assert_still_serves(server)


# ----- bad XML inside a stream: at each phase of the stream -----

BAD_XML = {
    # RFC 6120 §11.1, §4.9.3.18
    "processing instruction": ("<?evil stuff?>", "restricted-xml"),
    "comment": ("<!-- hi -->", "restricted-xml"),
    "comment in stanza": ("<message to='alice@localhost'><!-- x --><body>x</body></message>",
                          "restricted-xml"),
    "pi in stanza": ("<message to='alice@localhost'><?x y?><body>x</body></message>",
                     "restricted-xml"),
    # RFC 6120 §4.9.3.13: not well-formed.
    "doctype after root": ("<!DOCTYPE x>", ("not-well-formed", "restricted-xml")),
    "mismatched tags": ("<message><body>x</bod></message>", "not-well-formed"),
    "stray end tag": ("</message>", "not-well-formed"),
    "unbound prefix": ("<foo:bar/>", ("not-well-formed", "bad-namespace-prefix")),
    "undefined entity": ("<message><body>&nbsp;</body></message>", "not-well-formed"),
    "duplicate attribute": ("<message id='a' id='b'/>", "not-well-formed"),
    "control character": (b"<message><body>\x01</body></message>", "not-well-formed"),
    "bad char reference": ("<message><body>&#0;</body></message>", "not-well-formed"),
    "lt in attribute": ("<message id='a<b'/>", "not-well-formed"),
    "invalid utf-8": (b"<message><body>\xff\xfe\xc3</body></message>",
                      ("not-well-formed", "unsupported-encoding")),
    "overlong utf-8": (b"<message><body>\xc0\xaf</body></message>",
                       ("not-well-formed", "unsupported-encoding")),
    "nul byte": (b"<message>\x00</message>", "not-well-formed"),
}


def open_at(server, phase):
    """A stream at the given phase: 'plain' (after the header, before STARTTLS), 'tls'
    (after STARTTLS) or 'bound' (logged in, resource bound)."""
    if phase == "bound":
        return server.login(USER, PASSWORD)
    s = server.connect()
    s.open()
    if phase == "tls":
        s.starttls()
    return s


@pytest.mark.parametrize("phase", ["plain", "tls", "bound"])
@pytest.mark.parametrize("case", sorted(BAD_XML))
def test_bad_xml_in_stream(server, case, phase):
    """RFC 6120 §11 (XML usage): restricted and malformed XML ends the stream with the
    matching error in every phase of the stream."""
    data, expected = BAD_XML[case]
    s = open_at(server, phase)
    s.send(data)
    check_error(server, s, expected)


# ----- stanzas that are XML but not XMPP -----

@pytest.mark.parametrize("phase", ["tls", "bound"])
@pytest.mark.parametrize("element", ["<foo/>", "<body>hello</body>", "<query xmlns='jabber:client'/>"])
def test_unsupported_stanza_type(server, element, phase):
    """RFC 6120 §4.9.3.24: an unknown top-level element in jabber:client →
    <unsupported-stanza-type/>."""
    s = open_at(server, phase)
    s.send(element)
    check_error(server, s, "unsupported-stanza-type")


@pytest.mark.parametrize("phase", ["tls", "bound"])
@pytest.mark.parametrize("element", [
    "<message xmlns='jabber:server' to='alice@localhost'/>",
    "<iq xmlns='urn:example' type='get' id='1'/>",
])
def test_stanza_in_wrong_namespace(server, element, phase):
    """RFC 6120 §4.9.3.10, §11.2: top-level elements must be in the content namespace
    jabber:client → <invalid-namespace/>."""
    s = open_at(server, phase)
    s.send(element)
    check_error(server, s, "invalid-namespace")


def test_whitespace_between_stanzas_is_fine(server):
    """RFC 6120 §4.6.1: whitespace between stanzas (keepalives) is allowed."""
    s = server.login(USER, PASSWORD)
    s.send(" \n\t \r\n ")
    assert s.ping().get("type") == "result"
    s.send("\n" * 1000)
    assert s.ping().get("type") == "result"


def test_client_closes_stream(server):
    """RFC 6120 §4.4: when the client closes its stream, the server closes its own and
    then the TCP connection."""
    s = server.login(USER, PASSWORD)
    s.send("</stream:stream>")
    s.read_until("</stream:stream>", timeout=3)
    assert s.wait_closed(3)
    assert b"<stream:error" not in s.raw
    assert_still_serves(server)


def test_client_drops_tcp(server):
    """A client that vanishes mid-stanza (no closing tag) does not hurt anyone."""
    s = server.login(USER, PASSWORD)
    s.send("<message to='alice@localhost'><body>half a mess")
    s.sock.close()
    s.eof = True
    assert_still_serves(server)


def test_error_after_starttls_has_new_header(server):
    """RFC 6120 §5.4.3.3, §4.9.1.2: after STARTTLS the client must send a new header;
    if that header is bad, the server still opens its (new) stream before the error."""
    from xmpp_raw import _ElementReader
    s = server.connect()
    s.open()
    s.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    s.expect("urn:ietf:params:xml:ns:xmpp-tls", "proceed")
    s._wrap_tls()
    s.reader = _ElementReader()
    before = len(s.raw)
    s.send(stream_header(xmlns="jabber:server"))
    assert s.stream_error() == "invalid-namespace"
    assert header_precedes_error(s.raw[before:])
    assert_still_serves(server)


def test_error_after_sasl_restart_has_new_header(server):
    """RFC 6120 §6.4.6, §4.9.1.2: the same after the SASL restart (here: the new header
    names another host)."""
    from xmpp_raw import _ElementReader
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    s.auth_plain(USER, PASSWORD)
    s.reader = _ElementReader()
    before = len(s.raw)
    s.send(stream_header(to="example.org"))
    assert s.stream_error() == "host-unknown"
    assert header_precedes_error(s.raw[before:])
    assert_still_serves(server)


@pytest.mark.parametrize("root", [
    "<hello xmlns='jabber:client'/>",
    "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
    "to='localhost' version='1.0'/>",
])
def test_self_closing_bad_root(server, root):
    """RFC 6120 §4.8.1, §4.9.3.10: a bad root element is refused even when it is written
    as an empty element (open and close in one tag)."""
    s = server.connect()
    s.send(root)
    assert s.stream_error() == "invalid-namespace"
    assert header_precedes_error(s.raw)
    assert_still_serves(server)


def test_stanza_in_ns_of_client_is_default(server):
    """Sanity check of the harness: the same stanzas that are refused above are fine in
    the right namespace (RFC 6120 §4.8.2 default namespace)."""
    s = server.online(USER, PASSWORD)
    s.send(f"<message xmlns='{NS_CLIENT}' to='alice@localhost' id='ok1'><body>fine</body></message>")
    assert s.wait_for(lambda e: e.get("id") == "ok1").get("type") is None


def test_stream_error_survives_unread_input(server):
    """RFC 6120 §4.9.1.1: the stream error and the stream's close reach a client that
    kept sending after its mistake. The server reads and drops the rest before it closes
    the connection: closing with unread input would reset it, and a reset can make the
    client's kernel throw away the error before the client reads it."""
    s = server.login(USER, PASSWORD)
    junk = "<message><body>" + "x" * 65536 + "</body></message>"
    s.send("<foo/>" + junk * 16)
    assert s.stream_error() == "unsupported-stanza-type"
    assert s.wait_closed(5)
