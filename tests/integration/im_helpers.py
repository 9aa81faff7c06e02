"""Helpers for the IM tests (RFC 6121 rosters and presence) over raw streams."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Callable, Optional

from xmpp_raw import NS_CLIENT, XmppError, XmppStream, local_name, new_id, q, to_str, xml_escape

NS_ROSTER = "jabber:iq:roster"
NS_BLOCKING = "urn:xmpp:blocking"
NS_BLOCKING_ERRORS = "urn:xmpp:blocking:errors"
NS_DELAY = "urn:xmpp:delay"
NS_VCARD = "vcard-temp"
NS_PRIVATE = "jabber:iq:private"
NS_LAST = "jabber:iq:last"
NS_CAPS = "http://jabber.org/protocol/caps"
NS_ROSTERVER = "urn:xmpp:features:rosterver"
NS_PREAPPROVAL = "urn:xmpp:features:pre-approval"

Pred = Callable[[ET.Element], bool]


def is_presence(frm: Optional[str] = None, type_: Optional[str] = "available") -> Pred:
    """Matches a presence; type_ 'available' means no type attribute; None means any."""
    def pred(e: ET.Element) -> bool:
        if e.tag != q(NS_CLIENT, "presence"):
            return False
        if frm is not None and e.get("from") != frm:
            return False
        if type_ == "available":
            return e.get("type") is None
        return type_ is None or e.get("type") == type_
    return pred


def is_push(jid: Optional[str] = None) -> Pred:
    """A roster push (RFC 6121 §2.1.6), for `jid` if given."""
    def pred(e: ET.Element) -> bool:
        if e.tag != q(NS_CLIENT, "iq") or e.get("type") != "set":
            return False
        qe = e.find(q(NS_ROSTER, "query"))
        if qe is None:
            return False
        item = qe.find(q(NS_ROSTER, "item"))
        return item is not None and (jid is None or item.get("jid") == jid)
    return pred


def is_message(id_: str) -> Pred:
    return lambda e: e.tag == q(NS_CLIENT, "message") and e.get("id") == id_


def wait_keep(s: XmppStream, pred: Pred, timeout: float = 10.0) -> ET.Element:
    """The first element matching pred; the others stay queued, in order."""
    held = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            e = s.next(max(deadline - time.monotonic(), 0.001))
            if pred(e):
                return e
            held.append(e)
    finally:
        s.queue[0:0] = held


def drain(s: XmppStream) -> list[ET.Element]:
    """Every element that arrived before a ping barrier on s (XmppStream.drain()): all
    that s's own stanzas caused. For what another stream's stanzas caused, first a
    barrier on that stream: drain_after(sender, s)."""
    return s.drain()


def expect_all(s: XmppStream, preds: list[Pred], timeout: float = 5.0) -> list[ET.Element]:
    """Reads until each predicate matched an element (in any order); returns the matches
    in predicate order. Other elements are dropped."""
    found: list[Optional[ET.Element]] = [None] * len(preds)
    deadline = time.monotonic() + timeout
    while any(f is None for f in found):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            missing = [i for i, f in enumerate(found) if f is None]
            raise XmppError(f"timed out; predicates {missing} unmatched; received {s.raw[-3000:]!r}")
        e = s.next(remaining)
        for i, p in enumerate(preds):
            if found[i] is None and p(e):
                found[i] = e
                break
    return found  # type: ignore[return-value]


def items(query: ET.Element) -> dict[str, dict]:
    """jid -> {'name', 'subscription', 'ask', 'approved', 'groups'} of a roster query."""
    out = {}
    for it in query.findall(q(NS_ROSTER, "item")):
        out[it.get("jid")] = {
            "name": it.get("name"),
            "subscription": it.get("subscription"),
            "ask": it.get("ask"),
            "approved": it.get("approved"),
            "groups": sorted(g.text or "" for g in it.findall(q(NS_ROSTER, "group"))),
        }
    return out


def push_item(e: ET.Element) -> dict:
    qe = e.find(q(NS_ROSTER, "query"))
    return next(iter(items(qe).items()))


def iq(s: XmppStream, type_: str, payload: str, to: Optional[str] = None,
       timeout: float = 10.0) -> ET.Element:
    """Like XmppStream.iq, but elements that arrive before the answer (pushes, presence)
    stay queued for the test to read."""
    iq_id = new_id("iq")
    to_attr = f" to='{to}'" if to else ""
    s.send(f"<iq type='{type_}' id='{iq_id}'{to_attr}>{payload}</iq>")
    held = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            e = s.next(max(deadline - time.monotonic(), 0.001))
            if e.tag == q(NS_CLIENT, "iq") and e.get("id") == iq_id:
                return e
            held.append(e)
    finally:
        s.queue[0:0] = held


def get_roster(s: XmppStream, ver: Optional[str] = None) -> ET.Element:
    """The roster result iq (RFC 6121 §2.1.3); `ver` adds the versioning attribute."""
    v = f" ver='{xml_escape(ver)}'" if ver is not None else ""
    return iq(s, "get", f"<query xmlns='{NS_ROSTER}'{v}/>")


def roster_query(result: ET.Element) -> Optional[ET.Element]:
    assert result.get("type") == "result", to_str(result)
    return result.find(q(NS_ROSTER, "query"))


def set_item(s: XmppStream, jid: str, name: Optional[str] = None,
             groups: tuple[str, ...] = (), subscription: Optional[str] = None) -> ET.Element:
    attrs = f" jid='{xml_escape(jid)}'"
    if name is not None:
        attrs += f" name='{xml_escape(name)}'"
    if subscription is not None:
        attrs += f" subscription='{subscription}'"
    inner = "".join(f"<group>{xml_escape(g)}</group>" for g in groups)
    return iq(s, "set", f"<query xmlns='{NS_ROSTER}'><item{attrs}>{inner}</item></query>")


def presence(s: XmppStream, to: str, type_: str) -> None:
    s.send(f"<presence to='{to}' type='{type_}'/>")


def tag(e: ET.Element) -> str:
    return local_name(e.tag)


def online(server, user: str, pw: str, resource: str) -> XmppStream:
    """Logged in, roster requested (an interested resource, RFC 6121 §2.1.6), initial
    presence sent and its echo received (an available resource, §4.2); other elements
    that arrived meanwhile stay queued."""
    s = server.login(user, pw, resource=resource)
    get_roster(s)
    s.send("<presence/>")
    wait_keep(s, is_presence(f"{user}@localhost/{resource}"))
    return s


def befriend(a: XmppStream, b: XmppStream, a_jid: str, b_jid: str) -> None:
    """a subscribes to b and b approves; then the reverse: subscription 'both' (§3.1)."""
    for x, y, x_jid, y_jid in ((a, b, a_jid, b_jid), (b, a, b_jid, a_jid)):
        presence(x, y_jid, "subscribe")
        y.wait_for(is_presence(x_jid, "subscribe"))
        presence(y, x_jid, "subscribed")
        x.wait_for(is_presence(y_jid, "subscribed"))
    # a sent the last stanza: its barrier first, then b's sees all it caused there.
    drain(a)
    drain(b)


def friends(server, a: tuple[str, str, str], b: tuple[str, str, str]
            ) -> tuple[XmppStream, XmppStream]:
    """Two new accounts (user, password, resource) online and subscribed to each other
    (so each hears when the other's resource goes)."""
    streams = []
    for user, pw, _ in (a, b):
        server.add_user(user, pw)
    for user, pw, resource in (a, b):
        streams.append(online(server, user, pw, resource))
    befriend(streams[0], streams[1], f"{a[0]}@localhost", f"{b[0]}@localhost")
    return streams[0], streams[1]
