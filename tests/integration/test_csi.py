"""XEP-0352 Client State Indication (section numbers of version 1.0.0): while a phone says
it is inactive, presence updates wait (only the latest per contact) and chat states are
dropped; messages go out at once. Raw streams, then slixmpp's XEP-0352 plugin."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import slix
from im_helpers import befriend, drain, friends, online
from xmpp_raw import NS_CLIENT, XmppStream, local_name, q

A, AP = "alice", "alice-password"
B, BP = "bob", "bob-password"
AJ, BJ = "alice@localhost", "bob@localhost"
NS_CSI = "urn:xmpp:csi:0"
NS_CHATSTATES = "http://jabber.org/protocol/chatstates"


def from_bob(els: list[ET.Element], kind: str) -> list[ET.Element]:
    return [e for e in els if local_name(e.tag) == kind and (e.get("from") or "").startswith(BJ)]


def pair(server) -> tuple[XmppStream, XmppStream]:
    """alice's phone and bob's desk, online and subscribed to each other."""
    return friends(server, (A, AP, "phone"), (B, BP, "desk"))


def test_feature_offered(server):
    """§5: <csi/> among the stream features after authentication."""
    server.add_user(A, AP)
    s = server.connect()
    s.open()
    s.starttls()
    s.auth(A, AP)
    assert s.open().find(q(NS_CSI, "csi")) is not None


def test_inactive_holds_presence_and_drops_chat_states(server):
    """§4: inactive, three presence changes of bob become the last one, delivered with
    the next stanza that matters (here the barrier's iq result); his typing notification
    never comes; his message comes at once, after his held presence."""
    a, b = pair(server)
    a.send(f"<inactive xmlns='{NS_CSI}'/>")
    a.sync()  # the server has taken it in
    for show in ("away", "dnd", "xa"):
        b.send(f"<presence><show>{show}</show></presence>")
    b.send(f"<message to='{AJ}' type='chat' id='typing'><composing xmlns='{NS_CHATSTATES}'/>"
           "</message>")
    b.sync()
    got = a.drain()
    presences = from_bob(got, "presence")
    assert [p.findtext(q(NS_CLIENT, "show")) for p in presences] == ["xa"], got
    assert not from_bob(got, "message"), "a chat state reached an inactive client"

    b.send("<presence><show>chat</show></presence>")
    b.send(f"<message to='{AJ}' type='chat' id='m1'><body>hi</body>"
           f"<active xmlns='{NS_CHATSTATES}'/></message>")
    m = a.wait_for(lambda e: local_name(e.tag) in ("message", "presence")
                   and (e.get("from") or "").startswith(BJ))
    assert local_name(m.tag) == "presence" and m.findtext(q(NS_CLIENT, "show")) == "chat"
    m = a.wait_for(lambda e: local_name(e.tag) == "message")
    assert m.get("id") == "m1"


def test_active_again_sends_what_was_held(server):
    """§4: <active/> ends the holding: the held presence comes at once."""
    a, b = pair(server)
    a.send(f"<inactive xmlns='{NS_CSI}'/>")
    a.sync()
    b.send("<presence><show>away</show></presence>")
    b.sync()
    a.send(f"<active xmlns='{NS_CSI}'/>")
    p = a.wait_for(lambda e: local_name(e.tag) == "presence" and e.get("from") == f"{BJ}/desk")
    assert p.findtext(q(NS_CLIENT, "show")) == "away"
    b.send(f"<message to='{AJ}' type='chat' id='t'><composing xmlns='{NS_CHATSTATES}'/>"
           "</message>")
    a.wait_for(lambda e: local_name(e.tag) == "message" and e.get("id") == "t")


def test_subscription_requests_are_not_held(server):
    """A subscription request is something the user acts on: it is not held."""
    server.add_user(A, AP)
    server.add_user(B, BP)
    a = online(server, A, AP, "phone")
    b = online(server, B, BP, "desk")
    a.send(f"<inactive xmlns='{NS_CSI}'/>")
    a.sync()
    b.send(f"<presence to='{AJ}' type='subscribe'/>")
    a.wait_for(lambda e: local_name(e.tag) == "presence" and e.get("type") == "subscribe")
    drain(b)


def test_slixmpp_inactive_client(server):
    """slixmpp's XEP-0352 plugin sends <inactive/>; bob's presence change waits, his
    message does not."""
    server.add_user(A, AP)
    server.add_user(B, BP)
    a = online(server, A, AP, "phone")
    b = online(server, B, BP, "desk")
    befriend(a, b, AJ, BJ)
    a.close()

    async def scenario(_loop: asyncio.AbstractEventLoop) -> tuple[list[str], list[str]]:
        alice = slix.Client(f"{AJ}/phone", AP)
        alice.register_plugin("xep_0352")
        events: list[str] = []
        alice.add_event_handler("message", lambda m: events.append("message:" + m["body"]))
        alice.add_event_handler(
            "presence",
            lambda p: events.append("presence:" + (p["show"] or ""))
            if p["from"].bare == BJ and p["type"] not in ("unavailable", "error") else None)
        alice.connect(("127.0.0.1", server.port))
        await asyncio.wait_for(alice.started, 10)
        alice.send_presence()
        await slix.wait_until(lambda: "presence:" in events, "bob's presence at login")
        events.clear()
        alice["xep_0352"].send_inactive()
        await alice["xep_0199"].ping("localhost", timeout=5)
        b.send("<presence><show>away</show></presence>")
        b.send("<presence><show>dnd</show></presence>")
        b.sync()
        await alice["xep_0199"].ping("localhost", timeout=5)  # releases the held one
        held = list(events)
        b.send(f"<message to='{AJ}/phone' type='chat' id='x'><body>now</body></message>")
        await slix.wait_until(lambda: "message:now" in events, "the message arrived")
        await slix.disconnect(alice)
        return held, events

    held, events = slix.run(scenario, timeout=30)
    assert held == ["presence:dnd"], held
    assert events[-1] == "message:now", events
