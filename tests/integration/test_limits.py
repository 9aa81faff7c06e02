"""Bounds on input (DESIGN.md 'Limits and bad input'): stanza size, nesting depth,
attribute count, connections per IP, timeouts, read rate. Over a bound the stream ends
with the error RFC 6120 names (§4.9.3.14 <policy-violation/>, §4.9.3.4
<connection-timeout/>), and the server keeps serving everyone else."""

import time

import pytest

from xmpp_raw import (NS_CLIENT, NS_PING, XmppError, assert_still_serves, q, stream_header,
                      to_str, wait_until)

USER, PASSWORD = "alice", "alice-password"


def self_message(i, body):
    return f"<message to='alice@localhost/test' id='{i}'><body>{body}</body></message>"


def expect_policy_violation(server, s):
    assert s.stream_error() == "policy-violation"
    assert s.wait_closed(3)
    assert_still_serves(server)


# ----- stanza size -----

def test_stanza_under_size_limit(start_server):
    """A stanza just under limits.max_stanza_size is delivered; many stanzas together
    may exceed it (the bound is per stanza, RFC 6120 §13.12)."""
    server = start_server({"limits.max_stanza_size": 1024})
    s = server.login(USER, PASSWORD)
    s.send(self_message("big", "x" * 900))
    m = s.wait_for(lambda e: e.get("id") == "big")
    assert len(m.findtext(q(NS_CLIENT, "body"))) == 900
    s.send("".join(self_message(f"m{i}", "y" * 500) for i in range(20)))
    for i in range(20):
        s.wait_for(lambda e, i=i: e.get("id") == f"m{i}")


def test_stanza_over_size_limit(start_server):
    """RFC 6120 §4.9.3.14, §13.12: a stanza over limits.max_stanza_size →
    <policy-violation/>."""
    server = start_server({"limits.max_stanza_size": 1024})
    s = server.login(USER, PASSWORD)
    s.send(self_message("huge", "x" * 2000))
    expect_policy_violation(server, s)


def test_stanza_over_default_size_limit(server):
    """RFC 6120 §13.12: the default limit (262144 bytes) holds too."""
    s = server.login(USER, PASSWORD)
    s.send(self_message("ok", "x" * 200_000))
    s.wait_for(lambda e: e.get("id") == "ok", timeout=10)
    s.send_expecting_cutoff(self_message("huge", "x" * 300_000))
    expect_policy_violation(server, s)


@pytest.mark.parametrize("prefix", [
    "<message to='" + "a" * 3000,        # a start tag that never ends
    "<message><body>" + "x" * 3000,      # a text node that never ends
    "<message>" + "<a>" * 1 + "<b c='d'/>" * 300,  # children that never end
])
def test_unfinished_stanza_over_size_limit(start_server, prefix):
    """RFC 6120 §13.12: an unfinished stanza is cut off as soon as it passes the limit,
    not buffered without bound."""
    server = start_server({"limits.max_stanza_size": 1024})
    s = server.login(USER, PASSWORD)
    s.send(prefix)
    expect_policy_violation(server, s)


def test_stanza_size_limit_before_auth(start_server):
    """RFC 6120 §13.12: the bound holds before authentication too (here a SASL element)."""
    server = start_server({"limits.max_stanza_size": 1024})
    s = server.connect_secure()
    s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + "A" * 4000 + "</auth>")
    expect_policy_violation(server, s)


def test_preauth_stanza_size_limit(start_server):
    """Before authentication the bound is limits.max_stanza_size_preauth, much smaller
    than the one for stanzas after it (RFC 6120 §13.12)."""
    server = start_server({"limits.max_stanza_size_preauth": 2048})
    s = server.connect_secure()
    s.send_expecting_cutoff("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + "A" * 3000 + "</auth>")
    expect_policy_violation(server, s)
    # After authentication the same size passes.
    s = server.login(USER, PASSWORD)
    s.send(self_message("big", "x" * 3000))
    s.wait_for(lambda e: e.get("id") == "big")


def test_element_count_limit(start_server):
    """limits.max_elements bounds the elements of one stanza: each costs memory however
    few bytes it takes."""
    server = start_server({"limits.max_elements": 100})
    s = server.login(USER, PASSWORD)
    s.send(f"<message to='{USER}@localhost/test' id='ok'><x xmlns='urn:x'>{'<a/>' * 90}</x></message>")
    s.wait_for(lambda e: e.get("id") == "ok")
    s.send_expecting_cutoff(f"<message to='{USER}@localhost/test' id='no'><x xmlns='urn:x'>{'<a/>' * 200}</x></message>")
    expect_policy_violation(server, s)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_preauth_memory_bounded(server):
    """Unauthenticated connections cannot make the server hold much memory: 50 of them,
    each sending a stanza of tiny children under a 1,000-byte default namespace (before
    the limits on elements and size before authentication, each such connection made the
    server hold about 29 MiB), are cut off with <policy-violation/>, and the server grows
    by a few MiB at most."""
    ns = "urn:x:" + "n" * 994
    before = rss_kib(server.proc.pid)
    streams = []
    for _ in range(50):
        s = server.connect_secure()
        s.send_expecting_cutoff(f"<iq type='set' id='r'><query xmlns='{ns}'>" + "<a/>" * 50_000)
        streams.append(s)
    for s in streams:
        assert s.stream_error(timeout=10) == "policy-violation"
    grown = rss_kib(server.proc.pid) - before
    assert grown < 64 * 1024, f"the server grew by {grown} KiB"
    assert_still_serves(server)


def test_oversize_stream_header(start_server):
    """RFC 6120 §4.9.3.14, §4.9.1.2: a stream header over the size limit →
    header, <policy-violation/>."""
    server = start_server({"limits.max_stanza_size": 1024})
    s = server.connect()
    s.send(stream_header(extra="padding='" + "p" * 3000 + "'"))
    assert s.stream_error() == "policy-violation"


def test_oversize_stream_header_closed(start_server):
    """A stream header over the size limit closes the connection; others are served."""
    server = start_server({"limits.max_stanza_size": 1024})
    s = server.connect()
    s.send(stream_header(extra="padding='" + "p" * 3000 + "'"))
    assert s.wait_closed(3)
    assert_still_serves(server)


# ----- depth and attributes -----

def nested(depth):
    """A message whose deepest element is `depth` levels below the message itself."""
    return ("<message to='alice@localhost/test' id='deep'>" + "<x xmlns='urn:example'>" * depth
            + "</x>" * depth + "</message>")


def test_depth_within_limit(start_server):
    """Nesting within limits.max_depth is delivered intact."""
    server = start_server({"limits.max_depth": 8})
    s = server.login(USER, PASSWORD)
    s.send(nested(4))
    m = s.wait_for(lambda e: e.get("id") == "deep")
    assert to_str(m).count("urn:example") >= 1 and len(list(m.iter())) == 5


def test_depth_over_limit(start_server):
    """RFC 6120 §4.9.3.14: nesting deeper than limits.max_depth → <policy-violation/>."""
    server = start_server({"limits.max_depth": 8})
    s = server.login(USER, PASSWORD)
    s.send(nested(20))
    expect_policy_violation(server, s)


def test_depth_over_default_limit(server):
    """RFC 6120 §4.9.3.14: the default depth limit (32) holds; an unclosed deep
    nest is cut off as well."""
    s = server.login(USER, PASSWORD)
    s.send("<message>" + "<x>" * 1000)
    expect_policy_violation(server, s)


def attrs(n):
    return " ".join(f"a{i}='{i}'" for i in range(n))


def test_attributes_within_limit(start_server):
    """Elements with up to limits.max_attributes attributes are fine."""
    server = start_server({"limits.max_attributes": 8})
    s = server.login(USER, PASSWORD)
    s.send(f"<message to='alice@localhost/test' id='at'><x xmlns='urn:example' {attrs(8)}/></message>")
    m = s.wait_for(lambda e: e.get("id") == "at")
    assert len(m.find("{urn:example}x").attrib) == 8


@pytest.mark.parametrize("where", ["stanza", "child"])
def test_attributes_over_limit(start_server, where):
    """RFC 6120 §4.9.3.14: more than limits.max_attributes attributes on an element →
    <policy-violation/>."""
    server = start_server({"limits.max_attributes": 8})
    s = server.login(USER, PASSWORD)
    if where == "stanza":
        s.send(f"<message {attrs(9)}/>")
    else:
        s.send(f"<message><x xmlns='urn:example' {attrs(9)}/></message>")
    expect_policy_violation(server, s)


def test_attributes_over_default_limit(server):
    """RFC 6120 §4.9.3.14: the default attribute limit (64) holds before authentication."""
    s = server.connect_secure()
    s.send(f"<iq type='get' id='x' {attrs(200)}/>")
    expect_policy_violation(server, s)


# ----- connections per IP -----

def test_connections_per_ip(start_server):
    """limits.max_connections_per_ip: a connection over the limit is closed at once;
    when one closes, a new one is accepted."""
    server = start_server({"limits.max_connections_per_ip": 2})
    a = server.connect()
    a.open()
    b = server.connect()
    b.open()
    c = server.connect()
    assert c.wait_closed(3), c.raw
    assert b"<stream:features" not in c.raw
    a.starttls()  # the connections within the limit are unaffected
    a.logout()

    def served() -> bool:
        try:
            assert_still_serves(server)
            return True
        except (XmppError, OSError):
            return False
    # The slot comes back once the server is done with the connection, just after it
    # closed it; a refused attempt takes none (it is closed at once).
    wait_until(served, 5, "a new connection is served in the slot a freed")
    b.close()


def test_connections_per_ip_error(start_server):
    """RFC 6120 §4.9.3.14, §4.9.1.2: the connection over the limit gets the server's
    stream header and <policy-violation/>."""
    server = start_server({"limits.max_connections_per_ip": 1})
    a = server.connect()
    a.open()
    c = server.connect()
    c.send(stream_header())
    assert c.stream_error() == "policy-violation"


# ----- timeouts -----

def test_preauth_timeout(start_server):
    """RFC 6120 §4.9.3.4: a client that does not authenticate and bind within
    c2s.preauth_timeout gets <connection-timeout/>."""
    server = start_server({"c2s.preauth_timeout": 1})
    s = server.connect()
    s.open()
    t0 = time.monotonic()
    assert s.stream_error(timeout=5) == "connection-timeout"
    assert time.monotonic() - t0 < 4
    assert s.wait_closed(2)
    assert_still_serves(server)


def test_preauth_timeout_after_auth_without_bind(start_server):
    """RFC 6120 §4.9.3.4: authenticated but never bound counts as not set up either."""
    server = start_server({"c2s.preauth_timeout": 1})
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    s.auth_plain(USER, PASSWORD)
    s.open()
    assert s.stream_error(timeout=5) == "connection-timeout"


def test_preauth_timeout_silent_client(start_server):
    """RFC 6120 §4.9.3.4, §4.9.1.2: a client that sends nothing at all gets the server's
    stream header, then <connection-timeout/>."""
    server = start_server({"c2s.preauth_timeout": 1})
    s = server.connect()
    assert s.stream_error(timeout=5) == "connection-timeout"


def test_preauth_timeout_silent_client_closed(start_server):
    """A client that never sends a byte is disconnected after c2s.preauth_timeout."""
    server = start_server({"c2s.preauth_timeout": 1})
    s = server.connect()
    assert s.wait_closed(5)
    assert_still_serves(server)


def test_bound_session_outlives_preauth_timeout(start_server):
    """A bound session is not affected by c2s.preauth_timeout."""
    # The keepalive is the witness: the sweep that writes it to this session (a second
    # after its last output, so over a second after it connected) also checks the session
    # against c2s.preauth_timeout.
    server = start_server({"c2s.preauth_timeout": 1, "c2s.keepalive_interval": 1})
    s = server.login(USER, PASSWORD)
    start = len(s.raw)
    s.read_until(lambda raw: len(raw) > start, timeout=10)
    assert s.raw[start:].strip() == b"", s.raw[start:]
    assert s.ping().get("type") == "result"


def test_idle_timeout(start_server):
    """RFC 6120 §4.6.1, §4.9.3.4: a bound client silent for c2s.idle_timeout gets
    <connection-timeout/>; one that sends whitespace keepalives stays."""
    # The server's own keepalive to chatty is the witness: the sweep that writes it (a
    # second after chatty's last output, the bind result, so over a second after chatty's
    # last stanza) also checks chatty against c2s.idle_timeout, and only its whitespace
    # keeps it. (Server output does not count as the client speaking: quiet gets
    # keepalives too, and must still time out.)
    server = start_server({"c2s.idle_timeout": 1, "c2s.keepalive_interval": 1})
    quiet = server.login(USER, PASSWORD, resource="quiet")
    chatty = server.login(USER, PASSWORD, resource="chatty")
    start = len(chatty.raw)
    deadline = time.monotonic() + 10
    while not ((quiet.eof or quiet.reader.closed) and len(chatty.raw) > start):
        assert time.monotonic() < deadline, "no idle timeout for quiet or no keepalive for chatty"
        chatty.send(" ")
        time.sleep(0.3)  # the stimulus: chatty's whitespace pace, well within idle_timeout
        quiet.poll()
        chatty.poll()
    assert quiet.stream_error(timeout=3) == "connection-timeout"
    assert chatty.raw[start:].strip() == b"", chatty.raw[start:]
    assert chatty.ping().get("type") == "result"


def test_server_keepalive(start_server):
    """RFC 6120 §4.6.1: after c2s.keepalive_interval without output the server sends a
    whitespace keepalive."""
    server = start_server({"c2s.keepalive_interval": 1})
    s = server.login(USER, PASSWORD)
    before = len(s.raw)
    s.read_until(lambda raw: len(raw) > before, timeout=4)
    assert s.raw[before:].strip() == b"", s.raw[before:]
    assert s.ping().get("type") == "result"


# ----- read rate -----

def test_read_rate_throttles_without_loss(start_server):
    """limits.read_rate: a client sending faster than the rate is slowed down, not cut
    off, and nothing it sent is lost."""
    server = start_server({"limits.read_rate": 50000})
    s = server.login(USER, PASSWORD)
    n = 2000
    stanzas = "".join(f"<iq type='get' id='r{i}' to='localhost'><ping xmlns='{NS_PING}'/></iq>"
                      for i in range(n))
    assert len(stanzas) > 140000
    t0 = time.monotonic()
    s.send(stanzas)
    for i in range(n):
        r = s.next(timeout=10)
        assert r.get("id") == f"r{i}" and r.get("type") == "result", to_str(r)
    # 50 kB/s with a one-second burst: at least ~1.8 s for 140+ kB.
    assert time.monotonic() - t0 > 1.0
