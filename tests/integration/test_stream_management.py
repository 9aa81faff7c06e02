"""XEP-0198 Stream Management (section numbers of version 1.6): acknowledgements both
ways, resumption on a new connection, and what happens to unacknowledged stanzas when a
session ends without a resume. Raw streams count 'h' exactly; slixmpp's XEP-0198 plugin
is the real client at the end."""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Callable, Optional
import xml.etree.ElementTree as ET

import slix
from im_helpers import befriend, drain, friends, is_presence, online
from xmpp_raw import NS_CLIENT, NS_STANZA_ERRORS, XmppStream, local_name, ns_of, q, wait_until

A, AP = "alice", "alice-password"
B, BP = "bob", "bob-password"
AJ, BJ = "alice@localhost", "bob@localhost"
NS_SM = "urn:xmpp:sm:3"


def track(s: XmppStream) -> None:
    """Records every element the stream reads, in order (s.seen), to count 'h'."""
    seen: list[ET.Element] = []
    feed = s.reader.feed

    def counting(data: bytes) -> list[ET.Element]:
        els = feed(data)
        seen.extend(els)
        return els

    s.reader.feed = counting  # type: ignore[method-assign]
    s.seen = seen  # type: ignore[attr-defined]


def enable(s: XmppStream, resume: bool = True, max_: Optional[int] = None) -> ET.Element:
    track(s)
    attrs = " resume='true'" if resume else ""
    if max_ is not None:
        attrs += f" max='{max_}'"
    s.send(f"<enable xmlns='{NS_SM}'{attrs}/>")
    return s.wait_for(lambda e: ns_of(e.tag) == NS_SM)


def stanzas_through(s: XmppStream, pred: Callable[[ET.Element], bool]) -> int:
    """The client's 'h' (§4) if it handled everything up to the first element matching
    pred: the stanzas received after <enabled/>, that one included."""
    start = next(i for i, e in enumerate(s.seen) if e.tag == q(NS_SM, "enabled"))
    h = 0
    for e in s.seen[start + 1:]:
        if ns_of(e.tag) == NS_CLIENT:
            h += 1
        if pred(e):
            return h
    raise AssertionError("no such element was received")


def all_stanzas(s: XmppStream) -> int:
    """The client's 'h' for everything received so far."""
    start = next(i for i, e in enumerate(s.seen) if e.tag == q(NS_SM, "enabled"))
    return sum(1 for e in s.seen[start + 1:] if ns_of(e.tag) == NS_CLIENT)


def is_msg(id_: str) -> Callable[[ET.Element], bool]:
    return lambda e: local_name(e.tag) == "message" and e.get("id") == id_


def drop(s: XmppStream) -> None:
    """The phone loses its network: the TCP connection goes (a reset) and the stream is
    never closed."""
    s.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.sock.close()
    s.eof = True


def send_chat(s: XmppStream, to: str, id_: str, body: Optional[str] = None) -> None:
    s.send(f"<message to='{to}' type='chat' id='{id_}'><body>{body or id_}</body></message>")


def resume_stream(server, previd: str, h: int) -> tuple[XmppStream, ET.Element]:
    """A new connection that authenticates and asks to resume (§5) instead of binding."""
    s = server.connect()
    s.open()
    s.starttls()
    el = s.auth(A, AP)
    assert local_name(el.tag) == "success", ET.tostring(el)
    feats = s.open()
    assert feats.find(q(NS_SM, "sm")) is not None, ET.tostring(feats)
    s.send(f"<resume xmlns='{NS_SM}' previd='{previd}' h='{h}'/>")
    return s, s.wait_for(lambda e: ns_of(e.tag) == NS_SM)


def chat_ids(els: list[ET.Element]) -> list[str]:
    return [e.get("id") for e in els
            if local_name(e.tag) == "message" and e.find(q(NS_CLIENT, "body")) is not None]


def pair(server) -> tuple[XmppStream, XmppStream]:
    """alice's phone and bob's desk, online and subscribed to each other."""
    return friends(server, (A, AP, "phone"), (B, BP, "desk"))


def test_feature_offered_after_authentication_only(server):
    """§2: the <sm/> feature comes with the post-authentication features."""
    server.add_user(A, AP)
    s = server.connect()
    feats = s.open()
    assert feats.find(q(NS_SM, "sm")) is None
    s.starttls()
    s.auth(A, AP)
    feats = s.open()
    assert feats.find(q(NS_SM, "sm")) is not None


def test_enable_before_binding_fails(server):
    """§3: <enable/> before resource binding gets <failed/> with <unexpected-request/>;
    the stream goes on and binding works."""
    server.add_user(A, AP)
    s = server.connect()
    s.open()
    s.starttls()
    s.auth(A, AP)
    s.open()
    s.send(f"<enable xmlns='{NS_SM}'/>")
    failed = s.expect(NS_SM, "failed")
    assert failed.find(q(NS_STANZA_ERRORS, "unexpected-request")) is not None
    s.bind("phone")
    s.sync()


def test_enabled_with_resumption_and_client_max(server):
    """§3, §5: resume='true' gets an id and the server's timeout, at most the client's
    'max'; a second <enable/> fails."""
    s = server.login(A, AP)
    enabled = enable(s, max_=60)
    assert enabled.tag == q(NS_SM, "enabled"), ET.tostring(enabled)
    assert enabled.get("resume") in ("true", "1")
    assert len(enabled.get("id") or "") >= 16
    assert enabled.get("max") == "60"
    s.send(f"<enable xmlns='{NS_SM}'/>")
    assert s.expect(NS_SM, "failed").find(q(NS_STANZA_ERRORS, "unexpected-request")) is not None


def test_server_counts_what_it_handled(server):
    """§4: the server's 'h' counts every stanza received after <enable/>, errors included."""
    s = server.login(A, AP)
    enable(s, resume=False)
    s.send(f"<r xmlns='{NS_SM}'/>")
    assert s.expect(NS_SM, "a").get("h") == "0"
    s.ping()
    s.send("<presence/>")
    s.send("<message to='nobody@localhost' type='chat' id='x'><body>?</body></message>")
    s.sync()
    s.send(f"<r xmlns='{NS_SM}'/>")
    a = s.wait_for(lambda e: e.tag == q(NS_SM, "a"))
    assert a.get("h") == "4", ET.tostring(a)  # ping, presence, message, the barrier ping


def test_server_asks_for_acknowledgements(server):
    """§4: the server requests acks (<r/>) for what it sent; the client's <a/> answers."""
    a, b = pair(server)
    enable(a)
    for i in range(6):
        send_chat(b, AJ, f"m{i}")
    # An <r/> comes after five unacknowledged stanzas at the latest, among the messages.
    requested = got_all = False
    while not (requested and got_all):
        e = a.next()
        requested = requested or e.tag == q(NS_SM, "r")
        got_all = got_all or is_msg("m5")(e)
    a.send(f"<a xmlns='{NS_SM}' h='{stanzas_through(a, is_msg('m5'))}'/>")
    a.sync()


def test_acknowledging_more_than_was_sent_is_a_stream_error(server):
    """§4: an 'h' beyond what the server sent ends the stream with <undefined-condition/>."""
    s = server.login(A, AP)
    enable(s)
    s.send(f"<a xmlns='{NS_SM}' h='1000'/>")
    assert s.stream_error() == "undefined-condition"


def test_resume_delivers_everything_exactly_once(server):
    """§5: the connection drops without the stream closing; what the client did not
    acknowledge, and what arrived meanwhile, comes on the resumed stream once, in order;
    the server's 'h' in <resumed/> tells the client what of its own output arrived."""
    a, b = pair(server)
    sm_id = enable(a).get("id")
    send_chat(b, AJ, "m1")
    send_chat(b, AJ, "m2")
    a.wait_for(is_msg("m2"))
    send_chat(a, BJ, "from-a")
    b.wait_for(is_msg("from-a"))
    h = stanzas_through(a, is_msg("m1"))  # m2 arrived, but the client "lost" it
    drop(a)
    send_chat(b, AJ, "m3")
    send_chat(b, AJ, "m4")
    b.sync()
    assert not [e for e in drain(b) if e.get("type") == "error"]

    s, resumed = resume_stream(server, sm_id, h)
    assert resumed.tag == q(NS_SM, "resumed"), ET.tostring(resumed)
    assert resumed.get("previd") == sm_id
    # Of the old stream's stanzas, the server handled all: the presence, the roster
    # fetch, subscription handling and the message are all counted.
    assert int(resumed.get("h")) >= 1
    s.jid = f"{AJ}/phone"
    got = chat_ids(s.drain())
    assert got == ["m2", "m3", "m4"], got
    # The session is the same one: contacts never saw it go.
    assert not [e for e in drain(b) if is_presence(f"{AJ}/phone", "unavailable")(e)]
    send_chat(b, AJ, "m5")
    s.wait_for(is_msg("m5"))


def test_resume_on_a_websocket(server):
    """§5 across transports and threads: a session begun over TCP is resumed over
    WebSocket (RFC 7395), and what arrived meanwhile comes there."""
    from ws_raw import WsStream

    a, b = pair(server)
    sm_id = enable(a).get("id")
    send_chat(b, AJ, "m1")
    a.wait_for(is_msg("m1"))
    h = stanzas_through(a, is_msg("m1"))
    drop(a)
    send_chat(b, AJ, "m2")
    b.sync()
    ws = WsStream(f"ws://127.0.0.1:{server.http_port}/xmpp-websocket")
    server.streams.append(ws)
    feats = ws.authenticate(A, AP)
    assert feats.find(q(NS_SM, "sm")) is not None
    ws.send(f"<resume xmlns='{NS_SM}' previd='{sm_id}' h='{h}'/>")
    resumed = ws.wait_for(lambda e: ns_of(e.tag) == NS_SM)
    assert resumed.tag == q(NS_SM, "resumed"), ET.tostring(resumed)
    m = ws.wait_for(lambda e: local_name(e.tag) == "message")
    assert m.get("id") == "m2"
    send_chat(b, AJ, "m3")
    assert ws.wait_for(lambda e: local_name(e.tag) == "message").get("id") == "m3"


def test_resume_replaces_a_connection_the_server_thought_alive(server):
    """§5: the old connection is still open on the server's side (the client lost it
    silently); the resume closes it and the session goes on on the new one."""
    a, b = pair(server)
    sm_id = enable(a).get("id")
    send_chat(b, AJ, "m1")
    a.wait_for(is_msg("m1"))
    h = stanzas_through(a, is_msg("m1"))
    s, resumed = resume_stream(server, sm_id, h)
    assert resumed.tag == q(NS_SM, "resumed"), ET.tostring(resumed)
    assert a.wait_closed(), "the old connection stays open"
    s.jid = f"{AJ}/phone"
    send_chat(b, AJ, "m2")
    s.wait_for(is_msg("m2"))
    assert chat_ids(s.drain()) == []


def test_resume_with_an_unknown_id_fails_and_binding_still_works(server):
    """§5: an unknown or foreign id gets <failed/> with <item-not-found/>; the client then
    binds a new session on the same stream."""
    server.add_user(A, AP)
    server.add_user(B, BP)
    b = server.login(B, BP)
    bob_id = enable(b).get("id")
    s, failed = resume_stream(server, "no-such-id", 0)
    assert failed.tag == q(NS_SM, "failed")
    assert failed.find(q(NS_STANZA_ERRORS, "item-not-found")) is not None
    s2, failed2 = resume_stream(server, bob_id, 0)  # alice cannot take bob's session
    assert failed2.find(q(NS_STANZA_ERRORS, "item-not-found")) is not None
    s2.bind("laptop")
    s2.sync()
    b.sync()  # bob's session was not touched


def test_timed_out_session_puts_unacknowledged_messages_offline(start_server):
    """§5: when the client does not come back in time, the session ends (contacts hear
    it go) and each message the client had not acknowledged goes to offline storage, as
    if sent to a resource that is gone (RFC 6121 §8.5.3.2.1); a late resume fails."""
    server = start_server(sm__resume_timeout=1)
    a, b = pair(server)
    sm_id = enable(a).get("id")
    send_chat(b, AJ, "acked")
    send_chat(b, AJ, "unacked")
    a.wait_for(is_msg("unacked"))
    a.send(f"<a xmlns='{NS_SM}' h='{stanzas_through(a, is_msg('acked'))}'/>")
    a.sync()
    drop(a)
    send_chat(b, AJ, "while-away")
    b.wait_for(is_presence(f"{AJ}/phone", "unavailable"), timeout=15)

    s, failed = resume_stream(server, sm_id, 0)
    assert failed.tag == q(NS_SM, "failed")
    s.bind("phone")
    s.send("<presence/>")
    got = chat_ids(s.drain())
    assert got == ["unacked", "while-away"], got


def test_killed_during_a_burst_nothing_is_lost_or_acknowledged_twice(start_server):
    """The client dies in the middle of a burst and never resumes: every message was
    either acknowledged by it or is in offline storage, and none of the acknowledged
    ones comes again."""
    server = start_server(sm__resume_timeout=1)
    a, b = pair(server)
    enable(a)
    ids = [f"b{i}" for i in range(200)]
    for i in ids:
        send_chat(b, AJ, i)
    b.sync()  # all of them reached alice's session
    a.wait_for(is_msg("b20"))
    acked_through = "b20"
    a.send(f"<a xmlns='{NS_SM}' h='{stanzas_through(a, is_msg(acked_through))}'/>")
    a.sync()
    drop(a)
    b.wait_for(is_presence(f"{AJ}/phone", "unavailable"), timeout=15)
    b.sync()

    s = server.login(A, AP, resource="phone")
    s.send("<presence/>")
    # Storing them may still be under way at login: those come once stored, or directly.
    got: list[str] = []
    while len(got) < len(ids) - 21:
        got += chat_ids([s.next(timeout=15)])
    got += chat_ids(s.drain())
    acked = ids[:21]
    assert not set(acked) & set(got), "acknowledged messages came again"
    assert sorted(got) == sorted(ids[21:]), got


def test_clean_close_puts_unacknowledged_messages_offline(server):
    """A stream closed with </stream> is not resumable (§5); what the client did not
    acknowledge is treated as undelivered, not lost."""
    a, b = pair(server)
    enable(a, resume=False)
    send_chat(b, AJ, "unacked")
    a.wait_for(is_msg("unacked"))
    a.logout()
    b.wait_for(is_presence(f"{AJ}/phone", "unavailable"))
    s = server.login(A, AP, resource="phone")
    s.send("<presence/>")
    assert chat_ids(s.drain()) == ["unacked"]


def test_offline_messages_stay_stored_until_acknowledged(server):
    """Stored offline messages are deleted only once the client acknowledged them: a
    client that got them but dropped before its <a/> gets them again at the next login."""
    server.add_user(A, AP)
    server.add_user(B, BP)
    b = online(server, B, BP, "desk")
    send_chat(b, AJ, "stored")
    b.sync()
    a = server.login(A, AP, resource="phone")
    enable(a, resume=False)
    a.send("<presence/>")
    a.wait_for(is_msg("stored"))
    drop(a)
    a2 = server.login(A, AP, resource="phone2")
    a2.send("<presence/>")
    assert chat_ids(a2.drain()) == ["stored"]


def test_sessions_waiting_for_a_resume_are_bounded_per_account(start_server):
    """sm.max_waiting_per_user: beyond it, a dropped connection ends its session at once
    (its contacts hear it go) while the one already waiting can still be resumed."""
    server = start_server(sm__max_waiting_per_user=1)
    server.add_user(A, AP)
    server.add_user(B, BP)
    phone = online(server, A, AP, "phone")
    tablet = online(server, A, AP, "tablet")
    b = online(server, B, BP, "desk")
    befriend(phone, b, AJ, BJ)
    drain(tablet)
    phone_id = enable(phone).get("id")
    enable(tablet)
    phone.poll()
    h = all_stanzas(phone)
    drop(phone)
    wait_until(lambda: "the session waits" in server.log(), 10, "the phone's session waits")
    drop(tablet)
    b.wait_for(is_presence(f"{AJ}/tablet", "unavailable"))
    s, resumed = resume_stream(server, phone_id, h)
    assert resumed.tag == q(NS_SM, "resumed"), ET.tostring(resumed)


def test_slixmpp_resumes_after_losing_its_connection(server):
    """slixmpp's XEP-0198 plugin, as a phone: its TCP connection dies, messages are sent
    to it meanwhile, it reconnects and resumes; each message arrives exactly once."""
    server.add_user(A, AP)
    server.add_user(B, BP)

    async def scenario(loop: asyncio.AbstractEventLoop) -> list[str]:
        alice = slix.Client(f"{AJ}/phone", AP)
        alice.register_plugin("xep_0198")
        got: list[str] = []
        alice.add_event_handler("message", lambda m: got.append(m["body"]))
        resumed = loop.create_future()
        alice.add_event_handler("session_resumed",
                                lambda _e: resumed.done() or resumed.set_result(True))
        alice.connect(("127.0.0.1", server.port))
        await asyncio.wait_for(alice.started, 10)
        await slix.wait_until(lambda: alice["xep_0198"].sm_id is not None, "SM enabled")
        bob = await slix.connect(f"{BJ}/desk", BP, server.port)
        bob.send_message(mto=f"{AJ}/phone", mbody="before", mtype="chat")
        await slix.wait_until(lambda: got == ["before"], "the first message arrived")
        lost = loop.create_future()
        alice.add_event_handler("disconnected", lambda _e: lost.done() or lost.set_result(True))
        alice.transport.abort()  # no </stream>: the network is gone
        await asyncio.wait_for(lost, 5)
        for i in range(3):
            bob.send_message(mto=f"{AJ}/phone", mbody=f"gap{i}", mtype="chat")
        await bob["xep_0199"].ping(f"localhost", timeout=5)  # the server has them
        alice.connect(("127.0.0.1", server.port))
        await asyncio.wait_for(resumed, 10)
        bob.send_message(mto=f"{AJ}/phone", mbody="after", mtype="chat")
        await slix.wait_until(lambda: "after" in got, "the last message arrived")
        await alice["xep_0199"].ping("localhost", timeout=5)
        await slix.disconnect(bob)
        await slix.disconnect(alice)
        return got

    got = slix.run(scenario, timeout=40)
    assert got == ["before", "gap0", "gap1", "gap2", "after"], got
