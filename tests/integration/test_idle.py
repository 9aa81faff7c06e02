"""Idle sessions give up their XML parser (c2s.parser_release_after) and get a new one,
with the stream's namespace context replayed, when they speak again."""

import time

from xmpp_raw import NS_CLIENT, XmppStream, q, to_str, wait_until

# hongyand does not say when it releases a parser. What shows it is the whitespace
# keepalive (RFC 6120 §4.6.1): each second's sweep releases a parser silent for
# parser_release_after seconds before it looks at keepalive_interval; so with both at one
# second, once the server's last write to a stream follows its last read from it, the
# sweep that writes a keepalive there has released that stream's parser (in that sweep
# or an earlier one).
IDLE = {"c2s.parser_release_after": 1, "c2s.keepalive_interval": 1}


def wait_parsers_released(*streams: XmppStream, timeout: float = 10.0) -> None:
    """A ping barrier on each stream (the server's last write there, the result, follows
    its last read), then reads each until a keepalive comes and nothing else (see IDLE).
    The streams idle side by side, so this takes one idle period, not one per stream."""
    starts = []
    for s in streams:
        s.sync()
        starts.append(len(s.raw))
    for s, start in zip(streams, starts):
        s.read_until(lambda raw, start=start: len(raw) > start and raw[start:].strip() == b"",
                     timeout=timeout)


def test_session_works_after_parser_release(start_server):
    server = start_server(IDLE)
    alice = server.login("alice", "alice-password", resource="a")
    bob = server.login("bob", "bob-password", resource="b")
    for _ in range(2):
        wait_parsers_released(alice, bob)
        r = alice.ping()
        assert r.get("type") == "result", to_str(r)
        # A stanza split over two reads across a release still parses as one. The pause
        # is the stimulus (two separate reads), not a wait for the server.
        alice.send("<message to='bob@localhost/b' type='chat'><bo")
        time.sleep(0.2)
        alice.send("dy>still here &amp; well</body></message>")
        m = bob.wait_for(lambda e: e.tag == q(NS_CLIENT, "message"))
        assert m.findtext(q(NS_CLIENT, "body")) == "still here & well"
        assert m.get("from") == "alice@localhost/a"


def test_stream_close_after_parser_release(start_server):
    """RFC 6120 §4.4: the client's </stream:stream> must still match the stream's
    opening tag in the rebuilt parser."""
    server = start_server(IDLE)
    s = server.login("alice", "alice-password")
    wait_parsers_released(s)
    s.send("</stream:stream>")
    assert s.wait_closed(5)
    wait_until(lambda: "stream closed by client" in server.log(), 5,
               "the server logs that the client closed the stream")
