"""XEP-0313 Message Archive Management (section numbers of version 1.1.3) with XEP-0359
stanza-ids and XEP-0059 paging: what is archived, queries by conversation, time and id,
pages forward and backward, errors; raw streams for the exact stanzas, slixmpp's
XEP-0313 plugin as a real client. Runs on both storage backends."""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from typing import Optional

import slix
from xmpp_raw import NS_CLIENT, XmppStream, local_name, q, stanza_error_condition

A, AP = "alice", "alice-password"
B, BP = "bob", "bob-password"
C, CP = "carol", "carol-password"
AJ, BJ, CJ = "alice@localhost", "bob@localhost", "carol@localhost"
NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_FORWARD = "urn:xmpp:forward:0"
NS_SID = "urn:xmpp:sid:0"
NS_DELAY = "urn:xmpp:delay"


def chat(frm: XmppStream, to: str, id_: str, body: Optional[str] = "hi", type_: str = "chat",
         extra: str = "") -> None:
    b = f"<body>{body}</body>" if body is not None else ""
    frm.send(f"<message to='{to}' id='{id_}' type='{type_}'>{b}{extra}</message>")


def field(var: str, *values: str) -> str:
    return f"<field var='{var}'>" + "".join(f"<value>{v}</value>" for v in values) + "</field>"


def mam_query(s: XmppStream, *fields: str, max_: Optional[int] = None,
              after: Optional[str] = None, before: Optional[str] = None, flip: bool = False,
              queryid: str = "q1") -> tuple[list[ET.Element], ET.Element]:
    """Sends a query; returns the <result/> elements that came before the iq answer, and
    the answer."""
    form = ""
    if fields:
        form = (f"<x xmlns='jabber:x:data' type='submit'>{field('FORM_TYPE', NS_MAM)}"
                + "".join(fields) + "</x>")
    rsm = ""
    if max_ is not None or after is not None or before is not None:
        rsm = f"<set xmlns='{NS_RSM}'>"
        if max_ is not None:
            rsm += f"<max>{max_}</max>"
        if after is not None:
            rsm += f"<after>{after}</after>"
        if before is not None:
            rsm += f"<before>{before}</before>" if before else "<before/>"
        rsm += "</set>"
    flip_el = "<flip-page/>" if flip else ""
    s.send(f"<iq type='set' id='{queryid}'><query xmlns='{NS_MAM}' queryid='{queryid}'>"
           f"{form}{rsm}{flip_el}</query></iq>")
    results = []
    while True:
        e = s.next(10)
        if local_name(e.tag) == "iq" and e.get("id") == queryid:
            return results, e
        if local_name(e.tag) == "message" and e.find(q(NS_MAM, "result")) is not None:
            results.append(e)


def forwarded(result: ET.Element) -> ET.Element:
    return result.find(q(NS_MAM, "result")).find(q(NS_FORWARD, "forwarded"))


def inner(result: ET.Element) -> ET.Element:
    return forwarded(result).find(q(NS_CLIENT, "message"))


def bodies(results: list[ET.Element]) -> list[str]:
    return [inner(r).find(q(NS_CLIENT, "body")).text for r in results]


def result_ids(results: list[ET.Element]) -> list[str]:
    return [r.find(q(NS_MAM, "result")).get("id") for r in results]


def fin(answer: ET.Element) -> ET.Element:
    assert answer.get("type") == "result", ET.tostring(answer)
    f = answer.find(q(NS_MAM, "fin"))
    assert f is not None, ET.tostring(answer)
    return f


def rsm(answer: ET.Element, name: str) -> Optional[str]:
    e = fin(answer).find(q(NS_RSM, "set")).find(q(NS_RSM, name))
    return None if e is None else e.text


def converse(server, n: int, prefix: str = "m") -> tuple[XmppStream, XmppStream]:
    """alice and bob online; alice sends n chat messages to bob, each seen by bob."""
    alice = server.online(A, AP, resource="a")
    bob = server.online(B, BP, resource="b")
    for i in range(n):
        chat(alice, BJ, f"{prefix}{i}", body=f"{prefix} {i}")
        bob.wait_for(lambda e, i=i: local_name(e.tag) == "message" and e.get("id") == f"{prefix}{i}")
    return alice, bob


def test_the_account_advertises_its_archive(server):
    """§7 (determining support): the user's own bare JID lists urn:xmpp:mam:2, the
    #extended features and XEP-0359's urn:xmpp:sid:0."""
    alice = server.login(A, AP)
    info = alice.iq("get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", to=AJ)
    features = {f.get("var") for f in info.iter("{http://jabber.org/protocol/disco#info}feature")}
    assert {NS_MAM, NS_MAM + "#extended", NS_SID} <= features, features


def test_both_sides_are_archived_with_the_stanza_id_the_recipient_saw(server):
    """§5.1.1: what a user sends and receives is archived. XEP-0359 §4: the delivered
    message carries <stanza-id by='the recipient'/>, and that id is the id of the message
    in the recipient's archive (§4.2: <result id/>), with its time in <delay/> and the
    message inside <forwarded/> (XEP-0297)."""
    alice = server.online(A, AP, resource="a")
    bob = server.online(B, BP, resource="b")
    chat(alice, BJ, "m1", body="hello bob")
    live = bob.wait_for(lambda e: local_name(e.tag) == "message" and e.get("id") == "m1")
    sid = live.find(q(NS_SID, "stanza-id"))
    assert sid is not None and sid.get("by") == BJ, ET.tostring(live)
    chat(bob, f"{AJ}/a", "m2", body="hello alice")
    alice.wait_for(lambda e: local_name(e.tag) == "message" and e.get("id") == "m2")

    results, answer = mam_query(bob)
    assert bodies(results) == ["hello bob", "hello alice"]
    assert result_ids(results)[0] == sid.get("id")
    r = results[0].find(q(NS_MAM, "result"))
    assert r.get("queryid") == "q1"
    assert results[0].get("to") == f"{BJ}/b"
    m = inner(results[0])
    assert (m.get("from"), m.get("to")) == (f"{AJ}/a", BJ)
    stamp = forwarded(results[0]).find(q(NS_DELAY, "delay")).get("stamp")
    assert abs((datetime.datetime.now(datetime.timezone.utc) -
                datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))).total_seconds()) < 60
    assert fin(answer).get("complete") == "true"
    assert (rsm(answer, "first"), rsm(answer, "last")) == tuple(result_ids(results)[i] for i in (0, -1))
    # The sender's archive has both too, its own message as sent.
    results, _ = mam_query(alice)
    assert bodies(results) == ["hello bob", "hello alice"]
    assert inner(results[0]).get("to") == BJ


def test_paging_forward_and_backward(server):
    """XEP-0059 §2.2 forward paging with <after/>, §2.5 the last page with an empty
    <before/> and backward with <before/>; pages in chronological order (§4.2), and
    <fin complete='true'/> exactly on the last page in the direction of paging (§4.3)."""
    _, bob = converse(server, 12)
    page1, a1 = mam_query(bob, max_=5, queryid="p1")
    assert bodies(page1) == [f"m {i}" for i in range(5)] and fin(a1).get("complete") is None
    page2, a2 = mam_query(bob, max_=5, after=rsm(a1, "last"), queryid="p2")
    assert bodies(page2) == [f"m {i}" for i in range(5, 10)]
    page3, a3 = mam_query(bob, max_=5, after=rsm(a2, "last"), queryid="p3")
    assert bodies(page3) == ["m 10", "m 11"] and fin(a3).get("complete") == "true"

    last, b1 = mam_query(bob, max_=5, before="", queryid="b1")
    assert bodies(last) == [f"m {i}" for i in range(7, 12)] and fin(b1).get("complete") is None
    older, b2 = mam_query(bob, max_=5, before=rsm(b1, "first"), queryid="b2")
    assert bodies(older) == [f"m {i}" for i in range(2, 7)]
    oldest, b3 = mam_query(bob, max_=5, before=rsm(b2, "first"), queryid="b3")
    assert bodies(oldest) == ["m 0", "m 1"] and fin(b3).get("complete") == "true"
    # urn:xmpp:mam:2#extended: flip-page sends the same page newest first.
    flipped, _ = mam_query(bob, max_=5, before="", flip=True, queryid="f1")
    assert bodies(flipped) == [f"m {i}" for i in range(11, 6, -1)]


def test_filters_by_conversation_time_and_id(server):
    """§4.1.1 'with' (a bare JID: every resource), §4.1.2 start/end, and #extended
    after-id, before-id and ids."""
    alice, bob = converse(server, 3)
    carol = server.online(C, CP, resource="c")
    chat(carol, BJ, "c0", body="from carol")
    bob.wait_for(lambda e: local_name(e.tag) == "message" and e.get("id") == "c0")

    results, _ = mam_query(bob, field("with", CJ))
    assert bodies(results) == ["from carol"]
    results, _ = mam_query(bob, field("with", AJ))
    assert bodies(results) == ["m 0", "m 1", "m 2"]
    results, _ = mam_query(bob, field("with", f"{AJ}/a"))
    assert bodies(results) == ["m 0", "m 1", "m 2"]
    results, _ = mam_query(bob, field("with", f"{AJ}/elsewhere"))
    assert results == []

    everything, _ = mam_query(bob)
    stamps = [forwarded(r).find(q(NS_DELAY, "delay")).get("stamp") for r in everything]
    ids = result_ids(everything)
    results, _ = mam_query(bob, field("start", stamps[1]), field("end", stamps[2]))
    assert bodies(results) == ["m 1", "m 2"]
    results, _ = mam_query(bob, field("after-id", ids[0]), field("before-id", ids[3]))
    assert bodies(results) == ["m 1", "m 2"]
    results, _ = mam_query(bob, field("ids", ids[3], ids[1]))
    assert bodies(results) == ["m 1", "from carol"]


def test_bad_queries_get_the_errors_the_xep_names(server):
    """§4.1.4 / XEP-0059 §2.6: an id that is not in the archive is <item-not-found/>; a
    start that is no XEP-0082 DateTime is <bad-request/>; a filter this server does not
    have is <feature-not-implemented/>; a 'with' that is no JID is <jid-malformed/>."""
    _, bob = converse(server, 1)
    for fields, rsm_after, condition in (
            ((), "no-such-id", "item-not-found"),
            ((field("after-id", "no-such-id"),), None, "item-not-found"),
            ((field("start", "yesterday"),), None, "bad-request"),
            ((field("{urn:xmpp:fulltext:0}fulltext", "hi"),), None, "feature-not-implemented"),
            ((field("with", "@@"),), None, "jid-malformed")):
        results, answer = mam_query(bob, *fields, after=rsm_after)
        assert results == [] and answer.get("type") == "error", ET.tostring(answer)
        assert stanza_error_condition(answer) == condition, ET.tostring(answer)


def test_what_is_not_archived(server):
    """§5.1.1: headlines, messages without a body (a chat state alone) and messages with
    XEP-0334's <no-store/> hint are delivered but not archived."""
    alice, bob = converse(server, 1)
    chat(alice, BJ, "h", body="news", type_="headline")
    chat(alice, BJ, "s", body=None, extra="<active xmlns='http://jabber.org/protocol/chatstates'/>")
    chat(alice, BJ, "n", body="secret", extra="<no-store xmlns='urn:xmpp:hints'/>")
    for id_ in ("h", "s", "n"):
        bob.wait_for(lambda e, id_=id_: local_name(e.tag) == "message" and e.get("id") == id_)
    results, _ = mam_query(bob)
    assert bodies(results) == ["m 0"]
    results, _ = mam_query(alice)
    assert bodies(results) == ["m 0"]


def test_a_message_stored_offline_is_archived_and_stamped(server):
    """XEP-0160 with XEP-0313: a message for an offline user is archived when it arrives,
    and the stored copy delivered at login carries the same stanza-id."""
    server.ensure_user(B, BP)
    alice = server.online(A, AP, resource="a")
    chat(alice, BJ, "off1", body="while you were out")
    alice.sync()
    bob = server.login(B, BP, resource="b")
    bob.send("<presence/>")
    live = bob.wait_for(lambda e: local_name(e.tag) == "message" and e.get("id") == "off1")
    sid = live.find(q(NS_SID, "stanza-id"))
    assert sid is not None and sid.get("by") == BJ
    results, _ = mam_query(bob)
    assert result_ids(results) == [sid.get("id")]


def test_the_query_form_lists_the_fields(server):
    """§4.1.5 (retrieving form fields): an iq get returns the form with every field the
    server can filter on."""
    alice = server.login(A, AP)
    answer = alice.iq("get", f"<query xmlns='{NS_MAM}'/>")
    fields = {f.get("var") for f in answer.iter("{jabber:x:data}field")}
    assert {"FORM_TYPE", "with", "start", "end", "after-id", "before-id", "ids"} <= fields


def test_slixmpp_pages_through_the_archive(server):
    """A real client: slixmpp's XEP-0313 plugin fetches the conversation with bob, ten
    messages at a time, through XEP-0059 paging."""
    _, bob = converse(server, 23)

    async def scenario(_loop):
        c = await slix.connect(f"{AJ}/slix", AP, server.port)
        c.register_plugin("xep_0313")
        got = []
        async for m in c["xep_0313"].iterate(with_jid=slix.slixmpp.JID(BJ), rsm={"max": 10}):
            got.append(m["mam_result"]["forwarded"]["stanza"]["body"])
        await slix.disconnect(c)
        return got

    assert slix.run(scenario) == [f"m {i}" for i in range(23)]
