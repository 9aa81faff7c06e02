"""Blocking Command (XEP-0191) against a running hongyand, over raw streams: the
blocklist, pushes, and what blocking does to messages and presence."""

from __future__ import annotations

from im_helpers import (NS_BLOCKING, NS_BLOCKING_ERRORS, befriend, drain, expect_all, get_roster,
                        iq, is_message, is_presence, online, presence)
from xmpp_raw import (NS_CLIENT, NS_DISCO_INFO, NS_PING, XmppStream, drain_after, q,
                      stanza_error_condition, to_str)

A, AP = "alice", "alice-password"
B, BP = "bob", "bob-password"
C, CP = "carol", "carol-password"
AJ, BJ, CJ = "alice@localhost", "bob@localhost", "carol@localhost"




def blocklist(s):
    """The JIDs of the blocklist (§3.2), checking the result's shape."""
    r = iq(s, "get", f"<blocklist xmlns='{NS_BLOCKING}'/>")
    assert r.get("type") == "result", to_str(r)
    bl = r.find(q(NS_BLOCKING, "blocklist"))
    assert bl is not None, to_str(r)
    return [it.get("jid") for it in bl.findall(q(NS_BLOCKING, "item"))]


def block(s, *jids, verb="block"):
    inner = "".join(f"<item jid='{j}'/>" for j in jids)
    return iq(s, "set", f"<{verb} xmlns='{NS_BLOCKING}'>{inner}</{verb}>")


def unblock(s, *jids):
    return block(s, *jids, verb="unblock")


def is_blocking_push(verb):
    def pred(e):
        return (e.tag == q(NS_CLIENT, "iq") and e.get("type") == "set"
                and e.find(q(NS_BLOCKING, verb)) is not None)
    return pred


def push_jids(e, verb):
    return [it.get("jid") for it in e.find(q(NS_BLOCKING, verb)).findall(q(NS_BLOCKING, "item"))]


def sync(s: XmppStream) -> None:
    """A ping barrier: what s sent before has been handled; other elements stay queued."""
    s.sync()


def messages(elements):
    return [e for e in elements if e.tag == q(NS_CLIENT, "message")]


def test_disco_advertises_blocking(server):
    """XEP-0191 §4: the server MUST advertise urn:xmpp:blocking."""
    s = server.login(A, AP)
    r = s.iq("get", f"<query xmlns='{NS_DISCO_INFO}'/>", to="localhost")
    feats = {f.get("var") for f in r.find(q(NS_DISCO_INFO, "query")).findall(q(NS_DISCO_INFO, "feature"))}
    assert NS_BLOCKING in feats, to_str(r)


def test_block_pushes_to_resources_that_asked(server):
    """§3.2: an empty list at first; §3.3: block → empty result and a push of the
    <block/> to every resource of the user that requested the blocklist (the one that
    blocked too), not to the others."""
    server.add_user(B, BP)
    one = server.login(A, AP, resource="one")
    two = server.login(A, AP, resource="two")
    quiet = server.login(A, AP, resource="quiet")
    assert blocklist(one) == []
    assert blocklist(two) == []
    r = block(one, BJ)
    assert r.get("type") == "result" and len(r) == 0, to_str(r)
    for s in (one, two):
        push = s.wait_for(is_blocking_push("block"))
        assert push_jids(push, "block") == [BJ], to_str(push)
        assert push.get("from") in (None, AJ), to_str(push)
    assert not any(is_blocking_push("block")(e) for e in drain_after(one, quiet))
    assert blocklist(quiet) == [BJ]


def test_block_errors(server):
    """§3.3: a block without items → bad-request; an invalid JID → jid-malformed; the
    blocklist is unchanged."""
    s = server.login(A, AP)
    r = iq(s, "set", f"<block xmlns='{NS_BLOCKING}'/>")
    assert r.get("type") == "error" and stanza_error_condition(r) == "bad-request", to_str(r)
    for bad in ("@localhost", "user@"):
        r = block(s, bad)
        assert r.get("type") == "error" and stanza_error_condition(r) == "jid-malformed", to_str(r)
    assert blocklist(s) == []


def test_messages_to_and_from_blocked_contact(server):
    """§3.3 / §3.4: bob's message to alice is not delivered and bob gets
    service-unavailable; alice's message to bob is not routed and alice gets
    not-acceptable with <blocked xmlns='urn:xmpp:blocking:errors'/>."""
    alice = server.online(A, AP, resource="a")
    bob = server.online(B, BP, resource="b")
    assert block(alice, BJ).get("type") == "result"
    drain(alice)
    bob.send(f"<message to='{AJ}' id='in1' type='chat'><body>hello?</body></message>")
    err = bob.wait_for(is_message("in1"))
    assert err.get("type") == "error" and stanza_error_condition(err) == "service-unavailable", \
        to_str(err)
    bob.send(f"<message to='{AJ}/a' id='in2' type='chat'><body>full jid</body></message>")
    err = bob.wait_for(is_message("in2"))
    assert err.get("type") == "error", to_str(err)
    assert messages(drain_after(bob, alice)) == []
    alice.send(f"<message to='{BJ}' id='out1' type='chat'><body>psst</body></message>")
    err = alice.wait_for(is_message("out1"))
    assert err.get("type") == "error", to_str(err)
    assert stanza_error_condition(err) == "not-acceptable", to_str(err)
    e = err.find(q(NS_CLIENT, "error"))
    assert e.get("type") == "cancel", to_str(err)
    assert e.find(q(NS_BLOCKING_ERRORS, "blocked")) is not None, to_str(err)
    assert messages(drain_after(alice, bob)) == []


def test_presence_with_blocked_subscriber(server):
    """§3.3: blocking a subscriber sends it unavailable from each of the user's available
    resources; then no presence passes either way until unblock, which pushes <unblock/>,
    lets messages through again and sends the user's current presence to the contact."""
    alice = online(server, A, AP, "a")
    alice2 = online(server, A, AP, "a2")
    bob = online(server, B, BP, "b")
    befriend(alice, bob, AJ, BJ)
    drain(alice2)
    blocklist(alice)
    assert block(alice, BJ).get("type") == "result"
    expect_all(bob, [is_presence(f"{AJ}/a", "unavailable"), is_presence(f"{AJ}/a2", "unavailable")])
    # alice blocked: her barrier first, then what it caused elsewhere.
    drain(alice)
    drain(bob)
    drain(alice2)
    alice.send("<presence><show>dnd</show><status>do not disturb</status></presence>")
    assert not any(is_presence(AJ + "/a", None)(e) for e in drain_after(alice, bob))
    bob.send("<presence><show>away</show></presence>")
    sync(bob)
    for s in (alice, alice2):
        assert not any(is_presence(f"{BJ}/b", None)(e) for e in drain(s))
    # §3.4: unblock.
    r = unblock(alice, BJ)
    assert r.get("type") == "result", to_str(r)
    push = alice.wait_for(is_blocking_push("unblock"))
    assert push_jids(push, "unblock") == [BJ]
    a_now, a2_now = expect_all(bob, [is_presence(f"{AJ}/a"), is_presence(f"{AJ}/a2")])
    assert a_now.findtext(q(NS_CLIENT, "show")) == "dnd", to_str(a_now)
    assert a_now.findtext(q(NS_CLIENT, "status")) == "do not disturb"
    bob.send(f"<message to='{AJ}/a' id='again' type='chat'><body>back</body></message>")
    assert alice.wait_for(is_message("again")).findtext(q(NS_CLIENT, "body")) == "back"
    alice.send(f"<message to='{BJ}/b' id='reply' type='chat'><body>hi</body></message>")
    m = bob.wait_for(is_message("reply"))
    assert m.get("type") == "chat", to_str(m)
    drain(alice)
    bob.send("<presence><show>chat</show></presence>")
    p = alice.wait_for(is_presence(f"{BJ}/b"))
    assert p.findtext(q(NS_CLIENT, "show")) == "chat"


def test_unblock_all(server):
    """§3.5: an empty <unblock/> empties the list and is pushed as an empty <unblock/>."""
    one = server.login(A, AP, resource="one")
    two = server.login(A, AP, resource="two")
    blocklist(two)
    assert block(one, BJ, CJ).get("type") == "result"
    assert sorted(blocklist(one)) == [BJ, CJ]
    two.wait_for(is_blocking_push("block"))
    drain(one)
    r = iq(one, "set", f"<unblock xmlns='{NS_BLOCKING}'/>")
    assert r.get("type") == "result", to_str(r)
    for s in (one, two):
        push = s.wait_for(is_blocking_push("unblock"))
        assert push_jids(push, "unblock") == [], to_str(push)
    assert blocklist(one) == [] and blocklist(two) == []


def test_domain_block(server):
    """§3.3 (JID matching, XEP-0016 §2.1 order): a bare domain item blocks every user at
    that domain: carol's message to alice is refused; after unblocking it gets through."""
    alice = server.online(A, AP, resource="a")
    carol = server.online(C, CP, resource="c")
    assert block(alice, "localhost").get("type") == "result"
    assert blocklist(alice) == ["localhost"]
    drain(alice)
    carol.send(f"<message to='{AJ}' id='d1' type='chat'><body>domain</body></message>")
    err = carol.wait_for(is_message("d1"))
    assert err.get("type") == "error" and stanza_error_condition(err) == "service-unavailable", \
        to_str(err)
    assert messages(drain_after(carol, alice)) == []
    assert unblock(alice, "localhost").get("type") == "result"
    carol.send(f"<message to='{AJ}' id='d2' type='chat'><body>ok now</body></message>")
    assert alice.wait_for(is_message("d2")).findtext(q(NS_CLIENT, "body")) == "ok now"


def test_blocklist_survives_restart(start_server):
    server = start_server()
    s = server.login(A, AP)
    assert block(s, BJ, "spam.example").get("type") == "result"
    again = start_server(after=server)
    s2 = again.login(A, AP)
    assert sorted(blocklist(s2)) == [BJ, "spam.example"]


def test_disabled_blocking_module_blocks_nothing(start_server):
    """docs/configuration.md modules.disabled: with the blocking module off, a blocklist
    stored earlier is neither applied (messages pass both ways, §3.7 no longer applies)
    nor served (the iq gets service-unavailable, RFC 6120 §8.4), nor advertised."""
    server = start_server()
    s = server.login(A, AP)
    assert block(s, BJ).get("type") == "result"
    off = start_server({"modules.disabled": "blocking"}, after=server)
    alice = off.online(A, AP, resource="a")
    bob = off.online(B, BP, resource="b")
    bob.send(f"<message to='{AJ}' id='in' type='chat'><body>hello</body></message>")
    assert alice.wait_for(is_message("in")).findtext(q(NS_CLIENT, "body")) == "hello"
    alice.send(f"<message to='{BJ}' id='out' type='chat'><body>hi</body></message>")
    assert bob.wait_for(is_message("out")).findtext(q(NS_CLIENT, "body")) == "hi"
    r = iq(alice, "get", f"<blocklist xmlns='{NS_BLOCKING}'/>")
    assert r.get("type") == "error" and stanza_error_condition(r) == "service-unavailable", \
        to_str(r)
    info = iq(alice, "get", f"<query xmlns='{NS_DISCO_INFO}'/>", to="localhost")
    features = [f.get("var") for f in info.iter(q(NS_DISCO_INFO, "feature"))]
    assert NS_BLOCKING not in features and NS_PING in features


def test_blocklist_limit(start_server):
    """blocking.max_items: past it a block gets not-acceptable and the list is unchanged;
    re-blocking a JID already on the full list is not a new item."""
    server = start_server({"blocking.max_items": 2})
    s = server.login(A, AP)
    assert block(s, BJ).get("type") == "result"
    assert block(s, CJ).get("type") == "result"
    r = block(s, "dave@localhost")
    assert r.get("type") == "error" and stanza_error_condition(r) == "not-acceptable", to_str(r)
    assert sorted(blocklist(s)) == [BJ, CJ]
    assert block(s, BJ).get("type") == "result"
    assert sorted(blocklist(s)) == [BJ, CJ]


def test_blocked_message_to_offline_user_is_not_stored(server):
    """§3.3: stanzas from a blocked JID are never delivered, also not later from offline
    storage; the sender gets service-unavailable; other senders' messages are stored."""
    alice = server.login(A, AP)
    assert block(alice, BJ).get("type") == "result"
    alice.logout()
    bob = server.online(B, BP, resource="b")
    carol = server.online(C, CP, resource="c")
    bob.send(f"<message to='{AJ}' id='blocked' type='chat'><body>let me in</body></message>")
    err = bob.wait_for(is_message("blocked"))
    assert err.get("type") == "error" and stanza_error_condition(err) == "service-unavailable", \
        to_str(err)
    carol.send(f"<message to='{AJ}' id='fine' type='chat'><body>hi</body></message>")
    sync(carol)
    alice = server.login(A, AP, resource="again")
    alice.send("<presence/>")
    assert [m.get("id") for m in messages(drain(alice))] == ["fine"]


def test_iq_and_subscription_from_blocked_contact(server):
    """§3.3: an iq get from a blocked JID gets an error (service-unavailable), also for
    what the server answers on the user's behalf (vCard, last activity); a subscription
    request from it gets no answer at all and is not delivered, now or at a later login."""
    alice = server.online(A, AP, resource="a")
    bob = server.online(B, BP, resource="b")
    assert block(alice, BJ).get("type") == "result"
    drain(alice)
    for payload, to in ((f"<ping xmlns='{NS_PING}'/>", f"{AJ}/a"),
                        ("<vCard xmlns='vcard-temp'/>", AJ),
                        ("<query xmlns='jabber:iq:last'/>", AJ),
                        (f"<query xmlns='{NS_DISCO_INFO}'/>", AJ)):
        r = iq(bob, "get", payload, to=to)
        assert r.get("type") == "error", to_str(r)
        assert stanza_error_condition(r) == "service-unavailable", to_str(r)
    presence(bob, AJ, "subscribe")
    bob.no_element()  # a blocked presence must get no reply or error
    assert not any(e.tag == q(NS_CLIENT, "presence") for e in drain(alice))
    alice.logout()
    again = server.login(A, AP, resource="again")
    get_roster(again)
    again.send("<presence/>")
    assert not any(is_presence(BJ, "subscribe")(e) for e in drain(again))


def test_full_jid_block_is_that_resource_only(server):
    """§3.3 JID matching: an item with a full JID blocks that resource only."""
    alice = server.online(A, AP, resource="a")
    b1 = server.online(B, BP, resource="b1")
    b2 = server.online(B, BP, resource="b2")
    assert block(alice, f"{BJ}/b1").get("type") == "result"
    drain(alice)
    b1.send(f"<message to='{AJ}/a' id='f1' type='chat'><body>one</body></message>")
    err = b1.wait_for(is_message("f1"))
    assert err.get("type") == "error", to_str(err)
    b2.send(f"<message to='{AJ}/a' id='f2' type='chat'><body>two</body></message>")
    m = alice.wait_for(is_message("f2"))
    assert m.get("from") == f"{BJ}/b2"
    assert not any(is_message("f1")(e) for e in drain_after(b1, alice))
