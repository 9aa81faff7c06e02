"""Server-handled iqs (XEP-0199 ping, XEP-0030 disco, XEP-0092 version) and routing
between users (RFC 6120 §8, §10; RFC 6121 §8), with error cases."""

import asyncio

import slix
from xmpp_raw import (NS_CLIENT, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_REGISTER,
                      NS_VERSION, assert_still_serves, no_element_after, q,
                      stanza_error_condition, to_str, wait_until)
from im_helpers import is_presence, online, presence


def body(el):
    return el.findtext(q(NS_CLIENT, "body"))


def is_id(i):
    return lambda e: e.get("id") == i


# ----- server features -----

def test_ping_server(server):
    """XEP-0199 §4.2: ping to the server gets an empty result from the server to the
    full JID (RFC 6120 §8.1.1.1 'to' on responses)."""
    s = server.login("alice", "alice-password", resource="r")
    r = s.ping()
    assert r.get("type") == "result", to_str(r)
    assert r.get("from") == "localhost"
    assert r.get("to") == "alice@localhost/r"
    assert len(r) == 0


def test_disco_info(server):
    """XEP-0030 §3.1: the server's identity is category 'server', type 'im', and the
    features include everything implemented here."""
    s = server.login("alice", "alice-password")
    r = s.iq("get", f"<query xmlns='{NS_DISCO_INFO}'/>", to="localhost")
    assert r.get("type") == "result", to_str(r)
    query = r.find(q(NS_DISCO_INFO, "query"))
    identities = [(i.get("category"), i.get("type")) for i in query.findall(q(NS_DISCO_INFO, "identity"))]
    assert ("server", "im") in identities
    features = {f.get("var") for f in query.findall(q(NS_DISCO_INFO, "feature"))}
    for ns in (NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_VERSION, NS_REGISTER):
        assert ns in features, features
    # XEP-0030 §3.1: each feature is listed once.
    assert len(features) == len(query.findall(q(NS_DISCO_INFO, "feature")))


def test_disco_info_unknown_node(server):
    """XEP-0030 §3.2 (error cases): a node the server does not know → <item-not-found/>."""
    s = server.login("alice", "alice-password")
    r = s.iq("get", f"<query xmlns='{NS_DISCO_INFO}' node='no-such-node'/>", to="localhost")
    assert r.get("type") == "error" and stanza_error_condition(r) == "item-not-found", to_str(r)


def test_disco_items(server):
    """XEP-0030 §4.1: disco#items on the server returns a (here empty) list."""
    s = server.login("alice", "alice-password")
    r = s.iq("get", f"<query xmlns='{NS_DISCO_ITEMS}'/>", to="localhost")
    assert r.get("type") == "result", to_str(r)
    assert r.find(q(NS_DISCO_ITEMS, "query")) is not None


def test_version(server):
    """XEP-0092 §2: name and version of the server software (and os)."""
    s = server.login("alice", "alice-password")
    r = s.iq("get", f"<query xmlns='{NS_VERSION}'/>", to="localhost")
    assert r.get("type") == "result", to_str(r)
    query = r.find(q(NS_VERSION, "query"))
    assert query.findtext(q(NS_VERSION, "name")) == "Hongyan"
    assert query.findtext(q(NS_VERSION, "version"))


def test_ping_disco_version_slixmpp(server):
    """XEP-0199, XEP-0030, XEP-0092 as slixmpp's plugins see them."""
    server.add_user("alice", "alice-password")

    async def scenario(loop):
        c = await slix.connect("alice@localhost/slix", "alice-password", server.port)
        try:
            rtt = await c["xep_0199"].ping("localhost", timeout=5)
            info = await c["xep_0030"].get_info(jid="localhost", timeout=5)
            items = await c["xep_0030"].get_items(jid="localhost", timeout=5)
            version = await c["xep_0092"].get_version("localhost", timeout=5)
            return (rtt, set(info["disco_info"]["features"]), info["disco_info"]["identities"],
                    list(items["disco_items"]["items"]), version["software_version"]["name"])
        finally:
            await slix.disconnect(c)

    rtt, features, identities, items, name = slix.run(scenario)
    assert rtt is not None
    assert NS_PING in features and NS_VERSION in features
    assert any(i[0] == "server" and i[1] == "im" for i in identities)
    assert items == []
    assert name == "Hongyan"


# ----- routing between users -----

def test_message_between_users(server):
    """RFC 6120 §8.1.2.1, RFC 6121 §8.5.3.1: a message to an online full JID is delivered
    with 'from' set by the server to the sender's full JID."""
    alice = server.login("alice", "alice-password", resource="a")
    bob = server.login("bob", "bob-password", resource="b")
    alice.send("<message to='bob@localhost/b' type='chat' id='m1'><body>hi bob</body></message>")
    m = bob.wait_for(is_id("m1"))
    assert m.tag == q(NS_CLIENT, "message")
    assert m.get("from") == "alice@localhost/a"
    assert m.get("to") == "bob@localhost/b"
    assert m.get("type") == "chat"
    assert body(m) == "hi bob"
    bob.send("<message to='alice@localhost/a' type='chat' id='m2'><body>hi alice</body></message>")
    m = alice.wait_for(is_id("m2"))
    assert m.get("from") == "bob@localhost/b" and body(m) == "hi alice"


def test_spoofed_from_is_replaced(server):
    """RFC 6120 §8.1.2.1: the server replaces a 'from' the client sets (spoofed or not)
    with the client's full JID."""
    alice = server.login("alice", "alice-password", resource="a")
    bob = server.login("bob", "bob-password", resource="b")
    for i, spoof in enumerate(["eve@localhost/x", "bob@localhost/b", "localhost",
                               "admin@example.org", "alice@localhost/other"]):
        alice.send(f"<message from='{spoof}' to='bob@localhost/b' id='s{i}'><body>x</body></message>")
        m = bob.wait_for(is_id(f"s{i}"))
        assert m.get("from") == "alice@localhost/a", (spoof, to_str(m))
    alice.send("<presence from='eve@localhost/x' to='bob@localhost/b' id='p1'/>")
    p = bob.wait_for(is_id("p1"))
    assert p.get("from") == "alice@localhost/a"


def test_message_to_bare_jid(server):
    """RFC 6121 §8.5.2.1.1: a message to the bare JID reaches the available resource."""
    alice = server.login("alice", "alice-password", resource="a")
    bob = server.online("bob", "bob-password", resource="b")
    alice.send("<message to='bob@localhost' type='chat' id='m1'><body>bare</body></message>")
    m = bob.wait_for(is_id("m1"))
    assert m.get("from") == "alice@localhost/a" and body(m) == "bare"


def test_message_to_offline_resource_goes_to_bare(server):
    """RFC 6121 §8.5.3.2.1: a chat message to a full JID with no such resource is treated
    as addressed to the bare JID."""
    alice = server.login("alice", "alice-password", resource="a")
    bob = server.online("bob", "bob-password", resource="b")
    alice.send("<message to='bob@localhost/gone' type='chat' id='m1'><body>x</body></message>")
    m = bob.wait_for(is_id("m1"))
    assert body(m) == "x"


def test_message_without_to_goes_to_own_account(server):
    """RFC 6120 §10.3.1: a message without 'to' is for the sender's bare JID."""
    a1 = server.online("alice", "alice-password", resource="one")
    a1.send("<message id='self1' type='chat'><body>note to self</body></message>")
    m = a1.wait_for(is_id("self1"))
    assert m.get("from") == "alice@localhost/one"


def test_iq_between_users(server):
    """RFC 6120 §8.2.3, RFC 6121 §8.5.3.1: an iq to the full JID of someone who shares
    presence with the sender (here bob approved alice's subscription: 'from') is delivered
    with the stamped 'from', and the answer is routed back the same way."""
    server.add_user("alice", "alice-password")
    server.add_user("bob", "bob-password")
    alice = online(server, "alice", "alice-password", "a")
    bob = online(server, "bob", "bob-password", "b")
    presence(alice, "bob@localhost", "subscribe")
    bob.wait_for(is_presence("alice@localhost", "subscribe"))
    presence(bob, "alice@localhost", "subscribed")
    alice.wait_for(is_presence("bob@localhost", "subscribed"))
    alice.send(f"<iq type='get' id='v1' to='bob@localhost/b'><query xmlns='{NS_VERSION}'/></iq>")
    req = bob.wait_for(is_id("v1"))
    assert req.get("from") == "alice@localhost/a" and req.get("type") == "get"
    bob.send(f"<iq type='result' id='v1' to='alice@localhost/a' from='spoof@localhost/z'>"
             f"<query xmlns='{NS_VERSION}'><name>bobclient</name></query></iq>")
    res = alice.wait_for(is_id("v1"))
    assert res.get("type") == "result" and res.get("from") == "bob@localhost/b"
    assert res.findtext(f"{q(NS_VERSION, 'query')}/{q(NS_VERSION, 'name')}") == "bobclient"


def test_iq_from_stranger_to_full_jid_is_refused(server):
    """RFC 6121 §8.5.3.1: an iq get or set to a full JID from someone the recipient does
    not share presence with is not delivered; the sender gets <service-unavailable/>, the
    same answer as for a resource that is not there (§8.5.3.2.3), so nothing leaks. Results
    and errors still pass, and so do requests between one's own resources and to someone
    who got directed presence from the recipient (§4.6)."""
    alice = online(server, "alice", "alice-password", "a")
    bob = online(server, "bob", "bob-password", "b")
    bob2 = online(server, "bob", "bob-password", "b2")
    bob.wait_for(is_presence("bob@localhost/b2"))
    for type_ in ("get", "set"):
        r = alice.iq(type_, f"<query xmlns='{NS_VERSION}'/>", to="bob@localhost/b")
        assert r.get("type") == "error", to_str(r)
        assert stanza_error_condition(r) == "service-unavailable", to_str(r)
        gone = alice.iq(type_, f"<query xmlns='{NS_VERSION}'/>", to="bob@localhost/gone")
        for e in (r, gone):
            e.set("id", "")
            e.set("from", "")
        assert to_str(r) == to_str(gone)
    no_element_after(alice, bob)
    # A result or an error is never refused.
    alice.send("<iq type='result' id='r1' to='bob@localhost/b'/>")
    assert bob.wait_for(is_id("r1")).get("from") == "alice@localhost/a"
    # One's own resources.
    bob2.send(f"<iq type='get' id='own' to='bob@localhost/b'><query xmlns='{NS_VERSION}'/></iq>")
    assert bob.wait_for(is_id("own")).get("from") == "bob@localhost/b2"
    # Directed presence from bob's resource lets alice's requests reach that resource.
    bob.send("<presence to='alice@localhost'/>")
    alice.wait_for(is_presence("bob@localhost/b"))
    alice.send(f"<iq type='get' id='d1' to='bob@localhost/b'><query xmlns='{NS_VERSION}'/></iq>")
    assert bob.wait_for(is_id("d1")).get("from") == "alice@localhost/a"
    r = alice.iq("get", f"<query xmlns='{NS_VERSION}'/>", to="bob@localhost/b2")
    assert stanza_error_condition(r) == "service-unavailable", to_str(r)
    # ... until it says it is unavailable to her.
    bob.send("<presence to='alice@localhost' type='unavailable'/>")
    alice.wait_for(is_presence("bob@localhost/b", "unavailable"))
    r = alice.iq("get", f"<query xmlns='{NS_VERSION}'/>", to="bob@localhost/b")
    assert stanza_error_condition(r) == "service-unavailable", to_str(r)


def test_iq_to_full_jid_without_the_rule(start_server):
    """c2s.iq_requires_subscription = false turns §8.5.3.1's rule off."""
    server = start_server({"c2s.iq_requires_subscription": False})
    alice = server.login("alice", "alice-password", resource="a")
    bob = server.login("bob", "bob-password", resource="b")
    alice.send(f"<iq type='get' id='v1' to='bob@localhost/b'><query xmlns='{NS_VERSION}'/></iq>")
    assert bob.wait_for(is_id("v1")).get("from") == "alice@localhost/a"


def test_messages_between_slixmpp_clients(server):
    """Two slixmpp clients exchange a chat message through the server."""
    server.add_user("alice", "alice-password")
    server.add_user("bob", "bob-password")

    async def scenario(loop):
        got = loop.create_future()
        a = await slix.connect("alice@localhost/sa", "alice-password", server.port)
        b = await slix.connect("bob@localhost/sb", "bob-password", server.port, direct_tls=False)
        b.add_event_handler("message", lambda m: got.done() or got.set_result(
            (str(m["from"]), m["body"])))
        try:
            a.send_message(mto="bob@localhost/sb", mbody="from slixmpp", mtype="chat")
            return await asyncio.wait_for(got, 5)
        finally:
            await slix.disconnect(a)
            await slix.disconnect(b)

    assert slix.run(scenario) == ("alice@localhost/sa", "from slixmpp")


# ----- errors (RFC 6120 §8.3) -----

def test_unknown_iq_to_server(server):
    """RFC 6120 §8.4: an iq get/set with a payload nobody here handles →
    <service-unavailable/>, with the same id, from the server."""
    s = server.login("alice", "alice-password")
    for type_ in ("get", "set"):
        r = s.iq(type_, "<query xmlns='urn:example:unknown'/>", to="localhost")
        assert r.get("type") == "error", to_str(r)
        assert stanza_error_condition(r) == "service-unavailable"
        assert r.get("from") in (None, "localhost")
    # ... also when addressed to the user's own account (no 'to', RFC 6120 §10.3.3)
    r = s.iq("get", "<query xmlns='urn:example:unknown'/>")
    assert stanza_error_condition(r) == "service-unavailable", to_str(r)


def test_iq_to_offline_full_jid(server):
    """RFC 6121 §8.5.3.2.3: an iq to a full JID with no such session →
    <service-unavailable/>."""
    server.add_user("bob", "bob-password")
    s = server.login("alice", "alice-password")
    r = s.iq("get", f"<query xmlns='{NS_VERSION}'/>", to="bob@localhost/nowhere")
    assert r.get("type") == "error" and stanza_error_condition(r) == "service-unavailable", to_str(r)
    r = s.iq("get", f"<query xmlns='{NS_VERSION}'/>", to="nobody@localhost/x")
    assert stanza_error_condition(r) == "service-unavailable", to_str(r)


def test_iq_to_other_users_bare_jid(server):
    """RFC 6121 §8.5.2.1.3 / §8.5.1: an iq to another account's bare JID that the server
    does not handle on its behalf → <service-unavailable/>."""
    server.add_user("bob", "bob-password")
    s = server.login("alice", "alice-password")
    r = s.iq("get", f"<query xmlns='{NS_VERSION}'/>", to="bob@localhost")
    assert stanza_error_condition(r) == "service-unavailable", to_str(r)
    r = s.iq("get", f"<query xmlns='{NS_VERSION}'/>", to="nobody@localhost")
    assert stanza_error_condition(r) == "service-unavailable", to_str(r)


def test_message_to_missing_user(server):
    """RFC 6121 §8.5.1: a message to an account that does not exist gets
    <service-unavailable/> (with the original id) rather than a silent loss."""
    s = server.login("alice", "alice-password")
    s.send("<message to='nobody@localhost' type='chat' id='off1'><body>anyone?</body></message>")
    e = s.wait_for(is_id("off1"))
    assert e.tag == q(NS_CLIENT, "message") and e.get("type") == "error", to_str(e)
    assert stanza_error_condition(e) == "service-unavailable"


def test_message_to_offline_user_without_offline_storage(start_server):
    """RFC 6121 §8.5.2.2 with the offline module off: the sender of a message to a user
    with no available resource is told, not left guessing."""
    server = start_server({"modules.disabled": "offline"})
    server.add_user("bob", "bob-password")
    s = server.login("alice", "alice-password")
    s.send("<message to='bob@localhost' type='chat' id='off1'><body>anyone?</body></message>")
    e = s.wait_for(is_id("off1"))
    assert e.get("type") == "error" and stanza_error_condition(e) == "service-unavailable"


def test_message_to_nonexistent_user(server):
    """RFC 6121 §8.5.1: no such user → <service-unavailable/> (the same answer as for an
    offline user, so accounts cannot be probed)."""
    s = server.login("alice", "alice-password")
    s.send("<message to='ghost@localhost/x' id='g1'><body>boo</body></message>")
    e = s.wait_for(is_id("g1"))
    assert e.get("type") == "error" and stanza_error_condition(e) == "service-unavailable", to_str(e)


def test_error_is_not_answered_with_error(server):
    """RFC 6120 §8.3.1: a stanza of type 'error' is never answered with another error."""
    s = server.login("alice", "alice-password")
    s.send("<message to='ghost@localhost' type='error' id='e1'><error type='cancel'>"
           "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
    s.send("<iq to='ghost@localhost/x' type='error' id='e2'><error type='cancel'>"
           "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
    s.no_element()
    assert s.ping().get("type") == "result"


def test_iq_result_to_server_not_answered(server):
    """RFC 6120 §8.2.3: a 'result' the server did not ask for gets no response."""
    s = server.login("alice", "alice-password")
    s.send("<iq type='result' id='stray' to='localhost'/>")
    s.no_element()


def test_iq_without_id(server):
    """RFC 6120 §8.2.3: an iq needs an 'id' → <bad-request/>."""
    s = server.login("alice", "alice-password")
    s.send(f"<iq type='get' to='localhost'><ping xmlns='{NS_PING}'/></iq>")
    e = s.next()
    assert e.get("type") == "error" and stanza_error_condition(e) == "bad-request", to_str(e)
    assert_still_serves(server)


def test_iq_bad_type_and_payload_count(server):
    """RFC 6120 §8.2.3: type must be get/set/result/error, and a get/set carries exactly
    one child → <bad-request/>."""
    s = server.login("alice", "alice-password")
    r = s.iq("fetch", f"<ping xmlns='{NS_PING}'/>", to="localhost")
    assert stanza_error_condition(r) == "bad-request", to_str(r)
    r = s.iq("get", "", to="localhost")
    assert stanza_error_condition(r) == "bad-request", to_str(r)
    r = s.iq("get", f"<ping xmlns='{NS_PING}'/><ping xmlns='{NS_PING}'/>", to="localhost")
    assert stanza_error_condition(r) == "bad-request", to_str(r)


def test_malformed_to(server):
    """RFC 6120 §8.3.3.8: a 'to' that is not a valid JID → <jid-malformed/>."""
    s = server.login("alice", "alice-password")
    s.send("<message to='a@b@c' id='j1'><body>x</body></message>")
    e = s.wait_for(is_id("j1"))
    assert stanza_error_condition(e) == "jid-malformed", to_str(e)
    r = s.iq("get", f"<ping xmlns='{NS_PING}'/>", to="@localhost")
    assert stanza_error_condition(r) == "jid-malformed", to_str(r)


def test_remote_domain(server):
    """RFC 6120 §10.4.3 / §8.3.3.15: without federation, a remote domain →
    <remote-server-not-found/>."""
    s = server.login("alice", "alice-password")
    r = s.iq("get", f"<ping xmlns='{NS_PING}'/>", to="example.org")
    assert r.get("type") == "error" and stanza_error_condition(r) == "remote-server-not-found", to_str(r)
    s.send("<message to='bob@example.org' id='r1'><body>x</body></message>")
    e = s.wait_for(is_id("r1"))
    assert stanza_error_condition(e) == "remote-server-not-found", to_str(e)


def test_error_reply_addressing(server):
    """RFC 6120 §8.3.1: the error goes back to the sender's full JID, from the entity
    that was addressed, with the original id."""
    s = server.login("alice", "alice-password", resource="a")
    s.send("<message to='ghost@localhost' id='ea1' type='chat'><body>x</body></message>")
    e = s.wait_for(is_id("ea1"))
    assert e.get("to") == "alice@localhost/a", to_str(e)
    assert e.get("from") == "ghost@localhost", to_str(e)
    err = e.find(q(NS_CLIENT, "error"))
    assert err is not None and err.get("type") == "cancel", to_str(e)


def test_iq_with_spoofed_from_answered_to_real_jid(server):
    """RFC 6120 §8.1.2.1: the server answers the stamped sender, never the spoofed one."""
    eve = server.login("eve", "eve-password", resource="e")
    s = server.login("alice", "alice-password", resource="a")
    s.send(f"<iq type='get' id='sp1' to='localhost' from='eve@localhost/e'><ping xmlns='{NS_PING}'/></iq>")
    r = s.wait_for(is_id("sp1"))
    assert r.get("type") == "result" and r.get("to") == "alice@localhost/a", to_str(r)
    no_element_after(s, eve)


def test_to_address_is_normalised(server):
    """RFC 7622 §3.2-§3.4: localpart and domain are case-insensitive, the resource is
    not; a stanza to BOB@LOCALHOST/b reaches bob@localhost/b."""
    alice = server.login("alice", "alice-password", resource="a")
    bob = server.login("bob", "bob-password", resource="b")
    alice.send("<message to='BOB@LocalHost/b' id='n1' type='chat'><body>x</body></message>")
    m = bob.wait_for(is_id("n1"))
    assert m.get("from") == "alice@localhost/a"
    r = alice.iq("get", f"<ping xmlns='{NS_PING}'/>", to="LOCALHOST")
    assert r.get("type") == "result", to_str(r)


def test_presence_to_offline_is_silent(server):
    """RFC 6121 §8.5.2.2.2 / §8.5.1: presence to an offline or unknown user is not
    answered with an error; broadcast presence gets no error either."""
    server.add_user("bob", "bob-password")
    s = server.login("alice", "alice-password")
    s.send("<presence/>")
    # §4.2.2: initial presence comes back to the sender's own resource.
    echo = s.next()
    assert echo.get("from") == "alice@localhost/test" and echo.get("type") is None
    s.send("<presence to='bob@localhost'/>")
    s.send("<presence to='ghost@localhost'/>")
    s.no_element()
    # §4.3.2: a probe from someone not subscribed is answered 'unsubscribed', not an error.
    s.send("<presence to='bob@localhost/x' type='probe' id='pr1'/>")
    r = s.next()
    assert r.get("type") == "unsubscribed" and r.get("from") == "bob@localhost"
    s.no_element()
    assert s.ping().get("type") == "result"


def test_headline_to_offline_user_is_dropped(server):
    """RFC 6121 §8.5.2.2.1: a message of type 'headline' for a user with no resources is
    silently ignored (no error back)."""
    server.add_user("bob", "bob-password")
    s = server.login("alice", "alice-password")
    s.send("<message to='bob@localhost' type='headline' id='h1'><body>news</body></message>")
    s.no_element()


def test_groupchat_to_bare_jid_is_refused(server):
    """RFC 6121 §8.5.2.1.1: a message of type 'groupchat' to a user's bare JID is not
    delivered to the resources; the sender gets <service-unavailable/>."""
    alice = server.login("alice", "alice-password", resource="a")
    bob = server.login("bob", "bob-password", resource="b")
    alice.send("<message to='bob@localhost' type='groupchat' id='g1'><body>x</body></message>")
    e = alice.wait_for(is_id("g1"), timeout=2)
    assert e.get("type") == "error" and stanza_error_condition(e) == "service-unavailable"
    no_element_after(alice, bob)


def test_groupchat_to_unknown_resource_is_refused(server):
    """RFC 6121 §8.5.3.2.1: a 'groupchat' message to a full JID with no such resource is
    not redirected to the bare JID; the sender gets <service-unavailable/>."""
    alice = server.login("alice", "alice-password", resource="a")
    bob = server.login("bob", "bob-password", resource="b")
    alice.send("<message to='bob@localhost/gone' type='groupchat' id='g2'><body>x</body></message>")
    e = alice.wait_for(is_id("g2"), timeout=2)
    assert e.get("type") == "error" and stanza_error_condition(e) == "service-unavailable"
    no_element_after(alice, bob)


# ----- XEP-0202 entity time and XEP-0012 last activity of the server -----

NS_TIME = "urn:xmpp:time"
NS_LAST = "jabber:iq:last"


def test_entity_time_of_server(server):
    """XEP-0202 §4: <time/> with <tzo/> and <utc/> (XEP-0082 DateTime, UTC)."""
    import datetime
    import re

    s = server.login("alice", "alice-password")
    r = s.iq("get", f"<time xmlns='{NS_TIME}'/>", to="localhost")
    assert r.get("type") == "result", to_str(r)
    t = r.find(q(NS_TIME, "time"))
    assert t.findtext(q(NS_TIME, "tzo")) == "+00:00"
    utc = t.findtext(q(NS_TIME, "utc"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", utc), utc
    then = datetime.datetime.strptime(utc, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - then).total_seconds()) < 60


def test_last_activity_of_server_is_uptime(server):
    """XEP-0012 §5: asked of a server, 'seconds' is the time since it started."""
    s = server.login("alice", "alice-password")

    def uptime() -> int:
        r = s.iq("get", f"<query xmlns='{NS_LAST}'/>", to="localhost")
        return int(r.find(q(NS_LAST, "query")).get("seconds"))

    first = uptime()
    assert first >= 0
    # Whole seconds: the next one comes within a second, however slow the machine.
    wait_until(lambda: uptime() > first, 5, "the server's uptime has grown")


def test_disabled_module_is_neither_answered_nor_advertised(start_server):
    """docs/configuration.md modules.disabled: a switched-off XEP answers like an unknown
    one (RFC 6120 §8.4 service-unavailable) and is not in disco#info (XEP-0030 §3.1)."""
    server = start_server({"modules.disabled": "time"})
    s = server.login("alice", "alice-password")
    r = s.iq("get", f"<time xmlns='{NS_TIME}'/>", to="localhost")
    assert stanza_error_condition(r) == "service-unavailable", to_str(r)
    info = s.iq("get", f"<query xmlns='{NS_DISCO_INFO}'/>", to="localhost")
    features = [f.get("var") for f in info.find(q(NS_DISCO_INFO, "query")).findall(q(NS_DISCO_INFO, "feature"))]
    assert NS_TIME not in features
    assert NS_LAST in features
