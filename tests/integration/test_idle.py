"""Idle sessions give up their XML parser (c2s.parser_release_after) and get a new one,
with the stream's namespace context replayed, when they speak again."""

import time

from xmpp_raw import NS_CLIENT, q, to_str


def test_session_works_after_parser_release(start_server):
    server = start_server({"c2s.parser_release_after": 1})
    alice = server.login("alice", "alice-password", resource="a")
    bob = server.login("bob", "bob-password", resource="b")
    for _ in range(2):
        time.sleep(2.5)  # the sweep (every second) has released both parsers by now
        r = alice.ping()
        assert r.get("type") == "result", to_str(r)
        # A stanza split over two reads across a release still parses as one.
        alice.send("<message to='bob@localhost/b' type='chat'><bo")
        time.sleep(0.2)
        alice.send("dy>still here &amp; well</body></message>")
        m = bob.wait_for(lambda e: e.tag == q(NS_CLIENT, "message"))
        assert m.findtext(q(NS_CLIENT, "body")) == "still here & well"
        assert m.get("from") == "alice@localhost/a"


def test_stream_close_after_parser_release(start_server):
    """RFC 6120 §4.4: the client's </stream:stream> must still match the stream's
    opening tag in the rebuilt parser."""
    server = start_server({"c2s.parser_release_after": 1})
    s = server.login("alice", "alice-password")
    time.sleep(2.5)
    s.send("</stream:stream>")
    assert s.wait_closed(5)
    deadline = time.monotonic() + 5
    while "stream closed by client" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "stream closed by client" in server.log()
