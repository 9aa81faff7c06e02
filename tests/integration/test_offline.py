"""Offline messages (XEP-0160) with delayed-delivery stamps (XEP-0203), and the message
delivery rules of RFC 6121 §8.5 for local users, over raw streams; slixmpp as a real
client at the end."""

from __future__ import annotations

import asyncio
import datetime
import re
import time

import slix
from im_helpers import NS_DELAY, drain, is_message, is_presence
from xmpp_raw import NS_CLIENT, XmppStream, drain_after, q, stanza_error_condition, to_str

A, AP = "alice", "alice-password"
B, BP = "bob", "bob-password"
AJ, BJ = "alice@localhost", "bob@localhost"

# XEP-0082 DateTime, which XEP-0203 §3 requires in UTC.
STAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z")


def sync(s: XmppStream) -> None:
    """A ping round trip: the server has handled everything s sent before it (the
    messages are stored or refused). Other elements (errors, say) stay queued."""
    s.sync()


def sleep_until_past(t: datetime.datetime) -> None:
    """Part of the stimulus, not a wait for the server: lets the wall clock pass `t`, so
    that a stamp taken later than the message's receipt would be seen to be later."""
    while (left := (t - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) > 0:
        time.sleep(left)


def send_msg(s, to, id_, body="hi", type_=None):
    t = f" type='{type_}'" if type_ else ""
    b = f"<body>{body}</body>" if body is not None else ""
    s.send(f"<message to='{to}' id='{id_}'{t}>{b}</message>")


def messages(elements):
    return [e for e in elements if e.tag == q(NS_CLIENT, "message")]


def stamp_of(msg):
    """Checks the one <delay/> (XEP-0203 §3) and returns its stamp as a UTC datetime."""
    delays = msg.findall(q(NS_DELAY, "delay"))
    assert len(delays) == 1, to_str(msg)
    d = delays[0]
    assert d.get("from") == "localhost", to_str(msg)
    m = STAMP.fullmatch(d.get("stamp") or "")
    assert m, f"stamp is not an XEP-0082 UTC DateTime: {to_str(msg)}"
    frac = float(m.group(7)) if m.group(7) else 0.0
    return datetime.datetime(*(int(m.group(i)) for i in range(1, 7)),
                             tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=frac)


def test_stored_and_delivered_in_order_with_delay(server):
    """XEP-0160 §3 and RFC 6121 §8.5.2.2: chat and normal messages to a user with no
    resource are stored; at initial presence with priority >= 0 they are delivered in
    order, with the original from/to and a XEP-0203 <delay/> (from the server, stamped
    with the time the message was received, in UTC)."""
    server.add_user(A, AP)
    bob = server.online(B, BP, resource="b")
    before = datetime.datetime.now(datetime.timezone.utc)
    send_msg(bob, AJ, "m1", "first", "chat")
    send_msg(bob, AJ, "m2", "second", "normal")
    send_msg(bob, AJ, "m3", "third")
    sync(bob)
    after = datetime.datetime.now(datetime.timezone.utc)
    assert not messages(drain(bob)), "the sender got an error for a stored message"
    # Two seconds after receipt: a stamp taken at delivery would be past the bound below
    # even at second precision.
    sleep_until_past(after + datetime.timedelta(seconds=2))
    alice = server.login(A, AP, resource="a")
    alice.send("<presence/>")
    got = messages(drain(alice))
    assert [m.get("id") for m in got] == ["m1", "m2", "m3"], [to_str(m) for m in got]
    assert [m.findtext(q(NS_CLIENT, "body")) for m in got] == ["first", "second", "third"]
    assert [m.get("type") for m in got] == ["chat", "normal", None]
    for m in got:
        assert m.get("from") == f"{BJ}/b" and m.get("to") == AJ, to_str(m)
        stamp = stamp_of(m)
        # Stamped when the server received it (before the delivery a second later), not
        # at delivery; second precision is fine.
        assert before - datetime.timedelta(seconds=2) <= stamp <= after + datetime.timedelta(
            seconds=1), (stamp, before, after)


def test_delivered_once(server):
    """XEP-0160 §3: once delivered the messages are gone; the next login gets none."""
    server.add_user(A, AP)
    bob = server.online(B, BP, resource="b")
    send_msg(bob, AJ, "once", "only once", "chat")
    sync(bob)
    alice = server.login(A, AP, resource="a")
    alice.send("<presence/>")
    assert [m.get("id") for m in messages(drain(alice))] == ["once"]
    alice.logout()
    again = server.login(A, AP, resource="a2")
    again.send("<presence/>")
    assert messages(drain(again)) == []


def test_negative_priority_resource_gets_nothing(server):
    """RFC 6121 §8.5.2.1 / XEP-0160 §3: a resource with negative priority never gets
    bare-JID messages, stored or live: initial presence with priority -1 delivers nothing,
    a message sent while it is the only resource is stored too, and both are delivered
    when a resource with priority >= 0 comes online."""
    server.add_user(A, AP)
    bob = server.online(B, BP, resource="b")
    send_msg(bob, AJ, "before", "while offline", "chat")
    sync(bob)
    neg = server.login(A, AP, resource="neg")
    neg.send("<presence><priority>-1</priority></presence>")
    neg.wait_for(is_presence(f"{AJ}/neg"))
    send_msg(bob, AJ, "during", "while only negative", "normal")
    sync(bob)
    assert messages(drain(neg)) == []
    assert not messages(drain(bob)), "the sender got an error"
    pos = server.login(A, AP, resource="pos")
    pos.send("<presence><priority>0</priority></presence>")
    got = messages(drain(pos))
    assert [m.get("id") for m in got] == ["before", "during"], [to_str(m) for m in got]
    for m in got:
        stamp_of(m)
    assert messages(drain(neg)) == []


def test_raising_priority_delivers_offline_messages(server):
    """XEP-0160 §3: a resource that goes from a negative to a non-negative priority (a
    subsequent presence, RFC 6121 §4.4) takes the stored messages then."""
    server.add_user(A, AP)
    bob = server.online(B, BP, resource="b")
    neg = server.login(A, AP, resource="neg")
    neg.send("<presence><priority>-5</priority></presence>")
    neg.wait_for(is_presence(f"{AJ}/neg"))
    send_msg(bob, AJ, "kept", "while negative", "chat")
    sync(bob)
    assert messages(drain(neg)) == []
    neg.send("<presence><priority>3</priority></presence>")
    got = messages(drain(neg))
    assert [m.get("id") for m in got] == ["kept"], [to_str(m) for m in got]
    stamp_of(got[0])


def test_bare_jid_message_reaches_both_available_resources(server):
    """RFC 6121 §8.5.2.1.1: with two available resources of equal priority, a bare-JID
    message goes to both (no negative-priority one ever gets it), live and undelayed."""
    bob = server.online(B, BP, resource="b")
    one = server.online(A, AP, resource="one", priority=1)
    two = server.online(A, AP, resource="two", priority=1)
    neg = server.online(A, AP, resource="neg", priority=-5)
    for s in (one, two, neg):
        drain(s)
    send_msg(bob, AJ, "both", "to both", "normal")
    for s in (one, two):
        m = s.wait_for(is_message("both"))
        assert m.get("from") == f"{BJ}/b" and m.get("to") == AJ
        assert m.find(q(NS_DELAY, "delay")) is None, to_str(m)
    assert messages(drain_after(bob, neg)) == []


def test_headline_to_offline_user_is_dropped_silently(server):
    """RFC 6121 §8.5.2.2 / XEP-0160 §3: a headline is neither stored nor answered with an
    error."""
    server.add_user(A, AP)
    bob = server.online(B, BP, resource="b")
    send_msg(bob, AJ, "news", "headline", "headline")
    send_msg(bob, AJ, "kept", "normal")
    sync(bob)
    assert messages(drain(bob)) == []
    alice = server.login(A, AP, resource="a")
    alice.send("<presence/>")
    assert [m.get("id") for m in messages(drain(alice))] == ["kept"]


def test_groupchat_to_bare_jid_is_an_error(server):
    """RFC 6121 §8.5.2.2 (Table 1): a groupchat message to a bare JID gets
    service-unavailable and is not stored."""
    server.add_user(A, AP)
    bob = server.online(B, BP, resource="b")
    send_msg(bob, AJ, "gc", "room?", "groupchat")
    err = bob.wait_for(is_message("gc"))
    assert err.get("type") == "error" and stanza_error_condition(err) == "service-unavailable", \
        to_str(err)
    assert err.get("from") == AJ, to_str(err)
    alice = server.login(A, AP, resource="a")
    alice.send("<presence/>")
    assert messages(drain(alice)) == []


def test_chat_state_only_message_is_not_stored(server):
    """XEP-0160 §3 (and XEP-0085 §5.4): a message with only a chat state notification is
    not stored; one with a body is."""
    server.add_user(A, AP)
    bob = server.online(B, BP, resource="b")
    bob.send(f"<message to='{AJ}' id='cs' type='chat'>"
             "<active xmlns='http://jabber.org/protocol/chatstates'/></message>")
    bob.send(f"<message to='{AJ}' id='body' type='chat'><body>real</body>"
             "<active xmlns='http://jabber.org/protocol/chatstates'/></message>")
    sync(bob)
    alice = server.login(A, AP, resource="a")
    alice.send("<presence/>")
    assert [m.get("id") for m in messages(drain(alice))] == ["body"]


def test_storage_limit(start_server):
    """XEP-0160 §3 / offline.max_messages: past the limit the sender gets
    service-unavailable; the stored ones are delivered."""
    server = start_server({"offline.max_messages": 3})
    server.add_user(A, AP)
    bob = server.online(B, BP, resource="b")
    for i in range(1, 5):
        send_msg(bob, AJ, f"n{i}", f"number {i}", "chat")
    err = bob.wait_for(is_message("n4"))
    assert err.get("type") == "error" and stanza_error_condition(err) == "service-unavailable", \
        to_str(err)
    assert not any(m.get("id") in ("n1", "n2", "n3") for m in messages(drain(bob)))
    alice = server.login(A, AP, resource="a")
    alice.send("<presence/>")
    assert [m.get("id") for m in messages(drain(alice))] == ["n1", "n2", "n3"]


def test_storage_limit_in_bytes(start_server):
    """offline.max_bytes: the stored stanzas of one user together stay under the limit;
    a message that would pass it is refused like one past the count, and a small one
    still fits after it (the limit is on bytes, not on a count reached)."""
    server = start_server({"offline.max_bytes": 2048})
    server.add_user(A, AP)
    bob = server.online(B, BP, resource="b")
    big = "x" * 600
    for i in range(1, 4):
        send_msg(bob, AJ, f"b{i}", big, "chat")
    err = bob.wait_for(is_message("b3"))
    assert err.get("type") == "error" and stanza_error_condition(err) == "service-unavailable", \
        to_str(err)
    send_msg(bob, AJ, "small", "hi", "chat")
    assert not any(m.get("id") in ("b1", "b2", "small") for m in messages(drain(bob)))
    alice = server.login(A, AP, resource="a")
    alice.send("<presence/>")
    assert [m.get("id") for m in messages(drain(alice))] == ["b1", "b2", "small"]


def test_messages_survive_restart(start_server):
    """XEP-0160 §3: storage is persistent; the stamp is the original receive time."""
    server = start_server()
    server.add_user(A, AP)
    bob = server.online(B, BP, resource="b")
    before = datetime.datetime.now(datetime.timezone.utc)
    send_msg(bob, AJ, "p1", "persist 1", "chat")
    send_msg(bob, AJ, "p2", "persist 2", "normal")
    sync(bob)
    after = datetime.datetime.now(datetime.timezone.utc)
    data = server.data_dir
    server.close_clients()
    assert server.terminate() == 0
    # Two seconds after receipt: a stamp renewed at the restart (or at delivery) would be
    # past the upper bound below even at second precision.
    sleep_until_past(after + datetime.timedelta(seconds=2))
    again = start_server(data_dir=data)
    again.users = dict(server.users)
    alice = again.login(A, AP, resource="a")
    restart_done = datetime.datetime.now(datetime.timezone.utc)
    alice.send("<presence/>")
    got = messages(drain(alice))
    assert [m.get("id") for m in got] == ["p1", "p2"], [to_str(m) for m in got]
    assert [m.findtext(q(NS_CLIENT, "body")) for m in got] == ["persist 1", "persist 2"]
    for m in got:
        assert m.get("from") == f"{BJ}/b"
        stamp = stamp_of(m)
        assert before - datetime.timedelta(seconds=2) <= stamp < restart_done, stamp
        # The original receive time, not the restart's.
        assert stamp <= after + datetime.timedelta(seconds=1), (stamp, after)


def test_message_to_nonexistent_user(server):
    """RFC 6121 §8.5.1: a message to an account that does not exist gets
    service-unavailable (the server chose the error over silence)."""
    bob = server.online(B, BP, resource="b")
    for type_ in ("chat", "normal"):
        send_msg(bob, "ghost@localhost", f"g-{type_}", "anyone?", type_)
        err = bob.wait_for(is_message(f"g-{type_}"))
        assert err.get("type") == "error", to_str(err)
        assert stanza_error_condition(err) == "service-unavailable", to_str(err)


def test_session_without_presence_does_not_consume(server):
    """XEP-0160 §3 / RFC 6121 §4.2: stored messages wait for initial presence; a session
    that binds and never sends presence does not get (or lose) them."""
    server.add_user(A, AP)
    bob = server.online(B, BP, resource="b")
    send_msg(bob, AJ, "w1", "wait for presence", "chat")
    sync(bob)
    quiet = server.login(A, AP, resource="quiet")
    assert messages(drain(quiet)) == []
    quiet.logout()
    alice = server.login(A, AP, resource="a")
    alice.send("<presence/>")
    got = messages(drain(alice))
    assert [m.get("id") for m in got] == ["w1"], [to_str(m) for m in got]
    stamp_of(got[0])


def test_error_message_to_offline_user_is_ignored(server):
    """RFC 6121 §8.5.2.2: a message of type error to an account with no resource is
    ignored: not stored, and no error about an error (RFC 6120 §8.3.1)."""
    server.add_user(A, AP)
    bob = server.online(B, BP, resource="b")
    bob.send(f"<message to='{AJ}' id='e1' type='error'><error type='cancel'>"
             "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
    send_msg(bob, AJ, "ok", "stored")
    sync(bob)
    assert messages(drain(bob)) == []
    alice = server.login(A, AP, resource="a")
    alice.send("<presence/>")
    assert [m.get("id") for m in messages(drain(alice))] == ["ok"]


def test_full_jid_messages_to_offline_user(server):
    """RFC 6121 §8.5.3.2.1 (Table 1, 'account, no resources, full JID'): a normal message
    to a full JID that matches no resource MUST be ignored or answered with an error,
    never stored; a chat one is stored or refused (O/E), not both."""
    server.add_user(A, AP)
    bob = server.online(B, BP, resource="b")
    send_msg(bob, f"{AJ}/gone", "fn", "normal to full", "normal")
    send_msg(bob, f"{AJ}/gone", "fc", "chat to full", "chat")
    sync(bob)
    back = {m.get("id"): m for m in messages(drain(bob))}
    for m in back.values():
        assert m.get("type") == "error", to_str(m)
    alice = server.login(A, AP, resource="a")
    alice.send("<presence/>")
    got = [m.get("id") for m in messages(drain(alice))]
    assert "fn" not in got, f"a normal message to a full JID was stored: {got}"
    assert ("fc" in got) != ("fc" in back), (got, list(back))


def test_full_jid_without_match_while_online(server):
    """RFC 6121 §8.5.3.2.1 (Table 1, 'one non-negative resource, full JID no match'): a
    chat message is handled as if sent to the bare JID and reaches the available
    resource; a normal or headline one is ignored or refused, never delivered to another
    resource (nor stored)."""
    bob = server.online(B, BP, resource="b")
    alice = server.online(A, AP, resource="a")
    drain(alice)
    send_msg(bob, f"{AJ}/other", "c", "chat", "chat")
    send_msg(bob, f"{AJ}/other", "n", "normal", "normal")
    send_msg(bob, f"{AJ}/other", "h", "headline", "headline")
    # drain() is bob's barrier: his messages are routed before alice's barrier below.
    for m in messages(drain(bob)):
        assert m.get("type") == "error" and m.get("id") in ("n", "h"), to_str(m)
    got = [m.get("id") for m in messages(drain(alice))]
    assert got == ["c"], got
    alice.logout()
    again = server.login(A, AP, resource="again")
    again.send("<presence/>")
    assert messages(drain(again)) == []


def test_slixmpp_offline_message(server):
    """Real clients: slixmpp bob writes to alice while she is offline; slixmpp alice logs
    in and gets it, with its XEP-0203 delay stamp."""
    server.add_user(A, AP)
    server.add_user(B, BP)

    async def scenario(_loop):
        b = await slix.connect(f"{BJ}/slix", BP, server.port)
        try:
            b.send_presence()
            b.send_message(mto=AJ, mbody="see you later", mtype="chat")
            await b["xep_0199"].send_ping("localhost", timeout=5)
        finally:
            await slix.disconnect(b)
        a = await slix.connect(f"{AJ}/slix", AP, server.port)
        try:
            a.register_plugin("xep_0203")
            got: asyncio.Queue = asyncio.Queue()
            a.add_event_handler("message", lambda m: got.put_nowait(m))
            a.send_presence()
            msg = await asyncio.wait_for(got.get(), 5)
            assert msg["body"] == "see you later"
            assert msg["from"].bare == BJ
            stamp = msg["delay"]["stamp"]
            assert stamp is not None
            now = datetime.datetime.now(datetime.timezone.utc)
            assert abs((now - stamp).total_seconds()) < 30, stamp
            assert str(msg["delay"]["from"]) == "localhost"
        finally:
            await slix.disconnect(a)
    slix.run(scenario, timeout=25)


def test_disabled_offline_module_keeps_stored_messages_stored(start_server):
    """docs/configuration.md modules.disabled: with the offline module off, messages stored
    earlier are not delivered at initial presence (XEP-0160 §3 is the module's), and stay
    stored: with the module back on they arrive."""
    server = start_server()
    server.add_user("bob", "bob-password")
    alice = server.login("alice", "alice-password")
    alice.send("<message to='bob@localhost' type='chat' id='kept'><body>later</body></message>")
    alice.sync()
    data, users = server.data_dir, dict(server.users)
    server.close_clients()
    assert server.terminate() == 0

    off = start_server({"modules.disabled": "offline"}, data_dir=data)
    off.users = users
    bob = off.login("bob", "bob-password", resource="b")
    bob.send("<presence/>")
    got = bob.sync()
    assert [e.get("id") for e in got if e.tag == q(NS_CLIENT, "message")] == []
    assert any(e.tag == q(NS_CLIENT, "presence") for e in got)  # the echo: it is online
    off.close_clients()
    assert off.terminate() == 0

    on = start_server(data_dir=data)
    on.users = users
    bob = on.login("bob", "bob-password", resource="b")
    bob.send("<presence/>")
    got = [e for e in bob.sync() if e.tag == q(NS_CLIENT, "message")]
    assert [(e.get("id"), e.findtext(q(NS_CLIENT, "body"))) for e in got] == [("kept", "later")]
