"""XEP-0280 Message Carbons (section numbers of version 1.0.1), with the XEP-0334
<no-copy/> hint and RFC 6121 §8.5.2.1.1's delivery of a bare-JID message to the
highest-priority resources: raw streams for the exact stanzas, slixmpp's XEP-0280 plugin
as a real client at the end."""

from __future__ import annotations

import asyncio
from typing import Optional
import xml.etree.ElementTree as ET

import slix
from xmpp_raw import NS_CLIENT, XmppStream, local_name, q

A, AP = "alice", "alice-password"
B, BP = "bob", "bob-password"
AJ, BJ = "alice@localhost", "bob@localhost"
NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"


def is_presence(e: ET.Element) -> bool:
    return local_name(e.tag) == "presence"


def enable(s: XmppStream, on: bool = True) -> None:
    r = s.iq("set", f"<{'enable' if on else 'disable'} xmlns='{NS_CARBONS}'/>")
    assert r.get("type") == "result", ET.tostring(r)


def carbon(e: ET.Element, kind: str) -> Optional[ET.Element]:
    """The message inside a <received/> or <sent/> carbon, or None."""
    if local_name(e.tag) != "message":
        return None
    wrapper = e.find(q(NS_CARBONS, kind))
    if wrapper is None:
        return None
    forwarded = wrapper.find(q(NS_FORWARD, "forwarded"))
    assert forwarded is not None, ET.tostring(e)
    inner = forwarded.find(q(NS_CLIENT, "message"))
    assert inner is not None, ET.tostring(e)
    return inner


def wait_message(s: XmppStream, id_: str) -> ET.Element:
    return s.wait_for(lambda e: local_name(e.tag) == "message" and e.get("id") == id_)


def wait_carbon(s: XmppStream, kind: str, id_: str) -> tuple[ET.Element, ET.Element]:
    outer = s.wait_for(lambda e: (c := carbon(e, kind)) is not None and c.get("id") == id_)
    return outer, carbon(outer, kind)


def nothing_but_presence(*streams: XmppStream) -> None:
    for s in streams:
        s.no_element(allow=is_presence)


def chat(frm: XmppStream, to: str, id_: str, body: Optional[str] = "hi", type_: str = "chat",
         extra: str = "") -> None:
    b = f"<body>{body}</body>" if body is not None else ""
    t = f" type='{type_}'" if type_ else ""
    frm.send(f"<message to='{to}' id='{id_}'{t}>{b}{extra}</message>")


def test_the_server_advertises_carbons(server):
    """§3: the server's disco#info lists urn:xmpp:carbons:2."""
    s = server.login(A, AP)
    info = s.iq("get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", to="localhost")
    features = {f.get("var") for f in info.iter("{http://jabber.org/protocol/disco#info}feature")}
    assert NS_CARBONS in features


def test_enable_and_disable_as_often_as_the_client_likes(server):
    """§4, §5, §10.1: enable and disable answer with a result, also when repeated; a
    payload that is neither gets <bad-request/>."""
    s = server.online(A, AP, resource="a")
    enable(s)
    enable(s)
    enable(s, False)
    enable(s, False)
    r = s.iq("set", f"<toggle xmlns='{NS_CARBONS}'/>")
    assert r.get("type") == "error"
    assert r.find("{jabber:client}error/{urn:ietf:params:xml:ns:xmpp-stanzas}bad-request") is not None


def test_received_and_sent_copies_among_three_resources(server):
    """§6: a message to alice/a is copied to alice/b (carbons on) inside <received/>, from
    alice's bare JID to alice/b, with the same type; alice/c (carbons off) gets nothing.
    §7: what alice/a sends is copied to alice/b inside <sent/>, never back to alice/a."""
    a = server.online(A, AP, resource="a")
    b = server.online(A, AP, resource="b")
    c = server.online(A, AP, resource="c")
    bob = server.online(B, BP, resource="x")
    enable(a)
    enable(b)

    chat(bob, f"{AJ}/a", "in1", body="to a")
    assert wait_message(a, "in1").find(q(NS_CLIENT, "body")).text == "to a"
    outer, inner = wait_carbon(b, "received", "in1")
    assert (outer.get("from"), outer.get("to"), outer.get("type")) == (AJ, f"{AJ}/b", "chat")
    assert (inner.get("from"), inner.get("to")) == (f"{BJ}/x", f"{AJ}/a")
    assert inner.find(q(NS_CLIENT, "body")).text == "to a"

    chat(a, BJ, "out1", body="from a")
    assert wait_message(bob, "out1").get("from") == f"{AJ}/a"
    outer, inner = wait_carbon(b, "sent", "out1")
    assert (outer.get("from"), outer.get("to")) == (AJ, f"{AJ}/b")
    assert (inner.get("from"), inner.get("to")) == (f"{AJ}/a", BJ)
    # Barriers: the sender's own session and the resource without carbons saw no copy.
    nothing_but_presence(a, c, b)


def test_a_bare_jid_message_goes_to_the_highest_priority_and_carbons_reach_the_rest(server):
    """RFC 6121 §8.5.2.1.1 (a): a chat message to the bare JID goes to the available
    resource of the highest priority; §6: the other resources with carbons on get it
    inside <received/>; one with carbons off gets nothing."""
    high = server.online(A, AP, resource="high", priority=5)
    low = server.online(A, AP, resource="low", priority=1)
    other = server.online(A, AP, resource="other", priority=1)
    bob = server.online(B, BP, resource="x")
    enable(high)
    enable(low)
    chat(bob, AJ, "bare1")
    assert wait_message(high, "bare1").get("to") == AJ
    _, inner = wait_carbon(low, "received", "bare1")
    assert inner.get("to") == AJ
    bob.sync()
    nothing_but_presence(other, high, low)


def test_private_and_no_copy_keep_a_message_out_of_carbons(server):
    """§8: <private/> on a sent or received message makes no copies; XEP-0334 §4's
    <no-copy/> hint the same. The messages themselves are delivered."""
    a = server.online(A, AP, resource="a")
    b = server.online(A, AP, resource="b")
    bob = server.online(B, BP, resource="x")
    enable(a)
    enable(b)
    for n, extra in enumerate((f"<private xmlns='{NS_CARBONS}'/>",
                               "<no-copy xmlns='urn:xmpp:hints'/>")):
        chat(a, BJ, f"p-out{n}", extra=extra)
        wait_message(bob, f"p-out{n}")
        chat(bob, f"{AJ}/a", f"p-in{n}", extra=extra)
        wait_message(a, f"p-in{n}")
    bob.sync()
    a.sync()
    nothing_but_presence(b)


def test_only_instant_messages_are_copied(server):
    """§6 (the suggested rules): chat messages are copied, also with only a chat state,
    and normal ones with a body; a normal message without a body and a headline are not."""
    a = server.online(A, AP, resource="a")
    b = server.online(A, AP, resource="b")
    bob = server.online(B, BP, resource="x")
    enable(b)
    state = "<active xmlns='http://jabber.org/protocol/chatstates'/>"
    chat(bob, f"{AJ}/a", "m-headline", type_="headline")
    chat(bob, f"{AJ}/a", "m-state-normal", body=None, type_="", extra=state)
    chat(bob, f"{AJ}/a", "m-state-chat", body=None, extra=state)
    chat(bob, f"{AJ}/a", "m-normal", type_="normal")
    for id_ in ("m-headline", "m-state-normal", "m-state-chat", "m-normal"):
        wait_message(a, id_)
    bob.sync()
    got = [carbon(e, "received").get("id") for e in b.drain() if carbon(e, "received") is not None]
    assert got == ["m-state-chat", "m-normal"]


def test_a_resource_that_disabled_carbons_gets_no_more(server):
    """§5: after <disable/> the resource gets no copies; enabled again, it does."""
    a = server.online(A, AP, resource="a")
    b = server.online(A, AP, resource="b")
    bob = server.online(B, BP, resource="x")
    enable(b)
    enable(b, False)
    chat(bob, f"{AJ}/a", "d1")
    wait_message(a, "d1")
    bob.sync()
    nothing_but_presence(b)
    enable(b)
    chat(bob, f"{AJ}/a", "d2")
    wait_carbon(b, "received", "d2")


def test_slixmpp_gets_carbons_of_both_directions(server):
    """A real client: slixmpp's XEP-0280 plugin enables carbons and sees the message bob
    sent to alice's other resource and the one that resource sent to bob."""
    server.ensure_user(A, AP)
    server.ensure_user(B, BP)
    other = server.online(A, AP, resource="phone")
    bob = server.online(B, BP, resource="x")

    async def scenario(_loop):
        c = await slix.connect(f"{AJ}/desktop", AP, server.port)
        c.register_plugin("xep_0280")
        received: asyncio.Queue = asyncio.Queue()
        sent: asyncio.Queue = asyncio.Queue()
        c.add_event_handler("carbon_received",
                            lambda m: received.put_nowait(m["carbon_received"]["body"]))
        c.add_event_handler("carbon_sent", lambda m: sent.put_nowait(m["carbon_sent"]["body"]))
        await c["xep_0280"].enable()
        chat(bob, f"{AJ}/phone", "s1", body="to the phone")
        chat(other, BJ, "s2", body="from the phone")
        got = (await asyncio.wait_for(received.get(), 10), await asyncio.wait_for(sent.get(), 10))
        await slix.disconnect(c)
        return got

    assert slix.run(scenario) == ("to the phone", "from the phone")
