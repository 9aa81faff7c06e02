"""Presence subscriptions (RFC 6121 §3) and presence (§4) between users of one server,
over raw streams, with slixmpp as a real client at the end. The state machine itself is
unit-tested row by row (tests/unit/server/subscription_test.cpp)."""

from __future__ import annotations

import slix
from im_helpers import (befriend, drain, expect_all, get_roster, is_presence, is_push, items,
                        online, presence, push_item, roster_query, set_item)
from xmpp_raw import (NS_CLIENT, drain_after, no_element_after, q, stanza_error_condition,
                      to_str)

A, AP = "alice", "alice-password"
B, BP = "bob", "bob-password"
AJ, BJ = "alice@localhost", "bob@localhost"




def test_subscription_handshake(server):
    """§3.1: request, pushes with ask='subscribe', approval, pushes 'to'/'from', and the
    contact's presence reaching the new subscriber."""
    alice = online(server, A, AP, "a")
    bob = online(server, B, BP, "b")
    presence(alice, BJ, "subscribe")
    # §3.1.2: the user's server pushes the item with ask='subscribe'.
    _, it = push_item(alice.wait_for(is_push(BJ)))
    assert it["subscription"] == "none" and it["ask"] == "subscribe"
    # §3.1.3: the request reaches the contact, from the bare JID; no roster item yet.
    req = bob.wait_for(is_presence(AJ, "subscribe"))
    assert req.get("to") == BJ
    assert AJ not in items(roster_query(get_roster(bob)))
    # §3.1.5: approval; the contact's roster gets 'from'.
    presence(bob, AJ, "subscribed")
    _, it = push_item(bob.wait_for(is_push(AJ)))
    assert it["subscription"] == "from" and it["ask"] is None
    # §3.1.6: the user gets 'subscribed', a push with 'to', and the contact's presence.
    sub, push, pres = expect_all(alice, [is_presence(BJ, "subscribed"), is_push(BJ),
                                         is_presence(f"{BJ}/b")])
    assert push_item(push)[1]["subscription"] == "to"
    # From now on bob's presence changes reach alice, but not the reverse. (Barriers
    # first, so that the presence waited for below is the new one.)
    drain_after(bob, alice)
    bob.send("<presence><show>away</show></presence>")
    away = alice.wait_for(is_presence(f"{BJ}/b"))
    assert away.findtext(q(NS_CLIENT, "show")) == "away"
    drain_after(alice, bob)
    alice.send("<presence><show>dnd</show></presence>")
    assert not any(is_presence(f"{AJ}/a")(e) for e in drain_after(alice, bob))


def test_request_to_offline_contact_is_delivered_at_each_login(server):
    """§3.1.3: an unanswered request is kept and shown again at every login until the
    contact answers."""
    server.add_user(B, BP)
    alice = online(server, A, AP, "a")
    presence(alice, BJ, "subscribe")
    alice.wait_for(is_push(BJ))
    for attempt in range(2):
        bob = server.login(B, BP, resource=f"b{attempt}")
        bob.send("<presence/>")
        bob.wait_for(is_presence(AJ, "subscribe"))
        bob.close()
    bob = online(server, B, BP, "b9")
    presence(bob, AJ, "subscribed")
    alice.wait_for(is_presence(BJ, "subscribed"))
    bob.close()
    bob = server.login(B, BP, resource="b10")
    bob.send("<presence/>")
    assert not any(is_presence(AJ, "subscribe")(e) for e in drain(bob))


def test_refused_request(server):
    """§3.2.2 / A.3.4: the contact refuses; the user's Pending Out is cleared."""
    alice = online(server, A, AP, "a")
    bob = online(server, B, BP, "b")
    presence(alice, BJ, "subscribe")
    bob.wait_for(is_presence(AJ, "subscribe"))
    alice.wait_for(is_push(BJ))
    presence(bob, AJ, "unsubscribed")
    _, push = expect_all(alice, [is_presence(BJ, "unsubscribed"), is_push(BJ)])
    it = push_item(push)[1]
    assert it["subscription"] == "none" and it["ask"] is None


def test_preapproval(server):
    """§3.4: bob approves in advance; alice's later request completes without asking bob."""
    alice = online(server, A, AP, "a")
    bob = online(server, B, BP, "b")
    presence(bob, AJ, "subscribed")
    _, it = push_item(bob.wait_for(is_push(AJ)))
    assert it["approved"] == "true" and it["subscription"] == "none"
    no_element_after(bob, alice)  # §3.4.2: not routed
    presence(alice, BJ, "subscribe")
    expect_all(alice, [is_presence(BJ, "subscribed"), is_presence(f"{BJ}/b")])
    elements = drain_after(alice, bob)
    assert not any(is_presence(AJ, "subscribe")(e) for e in elements)
    assert any(is_push(AJ)(e) and push_item(e)[1]["subscription"] == "from" for e in elements)


def test_unsubscribe_and_cancel(server):
    """§3.3: the user unsubscribes from the contact's presence (the contact's 'from'
    goes, and the user is told the contact is unavailable); §3.2: the user cancels the
    contact's subscription (unavailable first, then 'unsubscribed')."""
    alice = online(server, A, AP, "a")
    bob = online(server, B, BP, "b")
    befriend(alice, bob, AJ, BJ)
    assert items(roster_query(get_roster(alice)))[BJ]["subscription"] == "both"
    presence(alice, BJ, "unsubscribe")
    push, _ = expect_all(alice, [is_push(BJ), is_presence(f"{BJ}/b", "unavailable")])
    assert push_item(push)[1]["subscription"] == "from"
    _, push = expect_all(bob, [is_presence(AJ, "unsubscribe"), is_push(AJ)])
    assert push_item(push)[1]["subscription"] == "to"
    # Bob's presence no longer reaches alice.
    drain(alice)
    bob.send("<presence><show>xa</show></presence>")
    assert not any(is_presence(f"{BJ}/b")(e) for e in drain_after(bob, alice))
    # §3.2: alice cancels bob's subscription to her.
    presence(alice, BJ, "unsubscribed")
    assert push_item(alice.wait_for(is_push(BJ)))[1]["subscription"] == "none"
    _, _, push = expect_all(bob, [is_presence(f"{AJ}/a", "unavailable"),
                                  is_presence(AJ, "unsubscribed"), is_push(AJ)])
    assert push_item(push)[1]["subscription"] == "none"
    drain_after(alice, bob)
    alice.send("<presence><show>dnd</show></presence>")
    assert not any(is_presence(f"{AJ}/a")(e) for e in drain_after(alice, bob))


def test_removing_contact_cancels_both_directions(server):
    """§2.5.2: removing an item with subscription 'both' sends unsubscribe and
    unsubscribed; the contact's item drops to 'none'."""
    alice = online(server, A, AP, "a")
    bob = online(server, B, BP, "b")
    befriend(alice, bob, AJ, BJ)
    set_item(alice, BJ, subscription="remove")
    got = expect_all(bob, [is_presence(AJ, "unsubscribe"), is_presence(AJ, "unsubscribed"),
                           is_presence(f"{AJ}/a", "unavailable")])
    assert got
    assert items(roster_query(get_roster(bob)))[AJ]["subscription"] == "none"
    assert BJ not in items(roster_query(get_roster(alice)))


def test_subscribe_to_missing_user(server):
    """§3.1.2: a request to a local account that does not exist gets an error."""
    alice = online(server, A, AP, "a")
    presence(alice, "ghost@localhost", "subscribe")
    err = alice.wait_for(lambda e: e.get("type") == "error")
    assert stanza_error_condition(err) == "item-not-found"
    assert "ghost@localhost" not in items(roster_query(get_roster(alice)))


def test_initial_presence_gets_contacts_presence_and_own_resources(server):
    """§4.2: at initial presence the user gets the presence of each contact it is
    subscribed to and of its other resources (probes answered locally); its presence
    goes to subscribers and to its own resources."""
    alice = online(server, A, AP, "a")
    bob = online(server, B, BP, "b")
    befriend(alice, bob, AJ, BJ)
    bob.send("<presence><status>busy</status></presence>")
    drain(bob)
    drain(alice)
    alice2 = server.login(A, AP, resource="a2")
    alice2.send("<presence><priority>5</priority></presence>")
    own, contact, other_own = expect_all(alice2, [is_presence(f"{AJ}/a2"), is_presence(f"{BJ}/b"),
                                                  is_presence(f"{AJ}/a")])
    assert contact.findtext(q(NS_CLIENT, "status")) == "busy"
    expect_all(bob, [is_presence(f"{AJ}/a2")])
    expect_all(alice, [is_presence(f"{AJ}/a2")])


def test_unavailable_when_connection_drops(server):
    """§4.5.2 / §4.6.3: a resource that disappears without unavailable presence is
    announced unavailable by the server, to subscribers and to directed-presence
    recipients."""
    alice = online(server, A, AP, "a")
    bob = online(server, B, BP, "b")
    carol = online(server, "carol", "carol-password", "c")
    befriend(alice, bob, AJ, BJ)
    alice.send("<presence to='carol@localhost/c'/>")
    carol.wait_for(is_presence(f"{AJ}/a"))
    alice.sock.close()  # no </stream:stream>, no unavailable
    bob.wait_for(is_presence(f"{AJ}/a", "unavailable"))
    carol.wait_for(is_presence(f"{AJ}/a", "unavailable"))


def test_explicit_unavailable_and_directed_unavailable(server):
    """§4.5.1: broadcast unavailable reaches subscribers and the user's own resources;
    §4.6.3: a directed unavailable removes the recipient from the directed list."""
    alice = online(server, A, AP, "a")
    alice2 = online(server, A, AP, "a2")
    bob = online(server, B, BP, "b")
    carol = online(server, "carol", "carol-password", "c")
    befriend(alice, bob, AJ, BJ)
    drain(alice2)
    alice.send("<presence to='carol@localhost'/>")
    carol.wait_for(is_presence(f"{AJ}/a"))
    alice.send("<presence to='carol@localhost' type='unavailable'/>")
    carol.wait_for(is_presence(f"{AJ}/a", "unavailable"))
    alice.send("<presence type='unavailable'><status>bye</status></presence>")
    u = bob.wait_for(is_presence(f"{AJ}/a", "unavailable"))
    assert u.findtext(q(NS_CLIENT, "status")) == "bye"
    alice2.wait_for(is_presence(f"{AJ}/a", "unavailable"))
    assert not any(is_presence(f"{AJ}/a", "unavailable")(e) for e in drain_after(alice, carol))


def test_bad_priority_and_type(server):
    """§4.7.2.3: priority is an integer from -128 to 127; §4.7.1: unknown types are
    bad-request."""
    alice = server.login(A, AP)
    for bad in ("128", "-129", "high", ""):
        alice.send(f"<presence id='p{bad}'><priority>{bad}</priority></presence>")
        e = alice.wait_for(lambda e: e.get("id") == f"p{bad}")
        assert e.get("type") == "error" and stanza_error_condition(e) == "bad-request", to_str(e)
    alice.send("<presence id='t1' type='away'/>")
    e = alice.wait_for(lambda e: e.get("id") == "t1")
    assert stanza_error_condition(e) == "bad-request"
    alice.send("<presence><priority>-128</priority></presence>")
    alice.wait_for(is_presence(f"{AJ}/test"))


def test_slixmpp_subscription_and_presence(server):
    """Real clients: slixmpp alice asks bob (who auto-approves, as slixmpp does by
    default), then sees bob online and his status."""
    server.add_user(A, AP)
    server.add_user(B, BP)

    async def scenario(_loop):
        a = await slix.connect(f"{AJ}/slix", AP, server.port)
        b = await slix.connect(f"{BJ}/slix", BP, server.port)
        try:
            for c in (a, b):
                await c.get_roster()
                c.send_presence()
            a.send_presence(pto=BJ, ptype="subscribe")
            await slix.wait_until(
                lambda: a.client_roster[BJ]["subscription"] in ("to", "both"),
                "alice's roster shows her subscribed to bob")
            b.send_presence(pstatus="writing tests")

            def status() -> object:
                res = a.client_roster[BJ].resources
                return res["slix"]["status"] if "slix" in res else None
            await slix.wait_until(lambda: status() == "writing tests",
                                  "alice sees bob's new status")
            assert a.client_roster[BJ].resources["slix"]["status"] == "writing tests"
        finally:
            await slix.disconnect(a)
            await slix.disconnect(b)
    slix.run(scenario, timeout=20)


def test_directed_presence_to_subscriber_is_not_doubled(server):
    """§4.6.2: directed presence to a contact who already gets the broadcast does not put
    them on the directed list, so they hear of the final unavailable once."""
    alice = online(server, A, AP, "a")
    bob = online(server, B, BP, "b")
    befriend(alice, bob, AJ, BJ)
    alice.send(f"<presence to='{BJ}'><show>chat</show></presence>")
    bob.wait_for(is_presence(f"{AJ}/a"))
    alice.send("<presence type='unavailable'/>")
    got = [e for e in drain_after(alice, bob) if is_presence(f"{AJ}/a", "unavailable")(e)]
    assert len(got) == 1, got


def test_disabled_presence_module_handles_no_presence(start_server):
    """docs/configuration.md modules.disabled: with the presence module off the server
    takes no part in presence (RFC 6121 §4): initial presence is neither echoed nor
    broadcast, probes get nothing, subscription requests go nowhere; rosters (§2, the roster
    module), messages to full JIDs and resource conflicts still work."""
    server = start_server({"modules.disabled": "presence", "shared_groups.everyone": "Everyone"})
    server.add_user(A, AP)
    server.add_user(B, BP)
    alice = server.login(A, AP, resource="a")
    bob = server.login(B, BP, resource="b")
    assert set(items(roster_query(get_roster(alice)))) == {BJ}
    alice.send("<presence/>")
    bob.send("<presence/>")
    bob.send(f"<presence type='probe' to='{AJ}'/>")
    bob.send(f"<presence type='subscribe' to='{AJ}'/>")
    bob.send(f"<message to='{AJ}/a' id='m1' type='chat'><body>hi</body></message>")
    # First barrier: each stream's stanzas are handled; second: what they sent others is here.
    alice.sync()
    bob.sync()
    got = alice.sync() + bob.sync()
    assert [to_str(e) for e in got if e.tag == q(NS_CLIENT, "presence")] == []
    assert [e.get("id") for e in got if e.tag == q(NS_CLIENT, "message")] == ["m1"]
    # Sessions still enter and leave the registry without it: the same full JID again
    # replaces the older session (RFC 6120 §7.7.2.2).
    server.login(A, AP, resource="a")
    assert alice.stream_error() == "conflict"
