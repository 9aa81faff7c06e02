"""XEP-0313 Message Archive Management (section numbers of version 1.1.3) with XEP-0359
stanza-ids and XEP-0059 paging: what is archived, queries by conversation, time and id,
pages forward and backward, errors; raw streams for the exact stanzas, slixmpp's
XEP-0313 plugin as a real client. Runs on both storage backends."""

from __future__ import annotations

import datetime
import sqlite3
import subprocess
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


def test_what_the_other_xeps_say_is_kept(server):
    """XEP-0308 (a correction has a body: kept), XEP-0424 §4 (a retraction is kept even
    without a body, so the other devices learn of it), XEP-0334 <store/> (a receipt that
    asks to be stored is kept), XEP-0184 and XEP-0085 alone (a receipt, a chat state:
    not kept); the archived stanzas keep their payloads."""
    alice, bob = converse(server, 1)
    chat(alice, BJ, "fix", body="m 0, corrected",
         extra="<replace id='m0' xmlns='urn:xmpp:message-correct:0'/>")
    chat(alice, BJ, "gone", body=None,
         extra="<retract id='m0' xmlns='urn:xmpp:message-retract:1'/>")
    alice.sync()  # archived in alice's archive before bob's answers
    chat(bob, AJ, "rcpt", body=None, extra="<received id='m0' xmlns='urn:xmpp:receipts'/>")
    chat(bob, AJ, "rcpt2", body=None, extra="<received id='fix' xmlns='urn:xmpp:receipts'/>"
         "<store xmlns='urn:xmpp:hints'/>")
    chat(bob, AJ, "typing", body=None,
         extra="<composing xmlns='http://jabber.org/protocol/chatstates'/>")
    for id_ in ("rcpt", "rcpt2", "typing"):
        alice.wait_for(lambda e, id_=id_: local_name(e.tag) == "message" and e.get("id") == id_)
    for id_ in ("fix", "gone"):
        bob.wait_for(lambda e, id_=id_: local_name(e.tag) == "message" and e.get("id") == id_)
    results, _ = mam_query(alice)
    kept = [inner(r) for r in results]
    assert [m.get("id") for m in kept] == ["m0", "fix", "gone", "rcpt2"]
    assert kept[1].find("{urn:xmpp:message-correct:0}replace").get("id") == "m0"
    assert kept[2].find("{urn:xmpp:message-retract:1}retract").get("id") == "m0"
    assert kept[3].find("{urn:xmpp:receipts}received") is not None


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


def prefs_iq(s: XmppStream, default: Optional[str] = None, always: tuple[str, ...] = (),
             never: tuple[str, ...] = ()) -> ET.Element:
    if default is None:
        return s.iq("get", f"<prefs xmlns='{NS_MAM}'/>")
    lists = "".join(f"<{name}>" + "".join(f"<jid>{j}</jid>" for j in jids) + f"</{name}>"
                    for name, jids in (("always", always), ("never", never)))
    return s.iq("set", f"<prefs xmlns='{NS_MAM}' default='{default}'>{lists}</prefs>")


def prefs_of(answer: ET.Element) -> tuple[str, list[str], list[str]]:
    p = answer.find(q(NS_MAM, "prefs"))
    assert p is not None, ET.tostring(answer)
    return (p.get("default"),
            sorted(j.text for j in p.find(q(NS_MAM, "always")).findall(q(NS_MAM, "jid"))),
            sorted(j.text for j in p.find(q(NS_MAM, "never")).findall(q(NS_MAM, "jid"))))


def test_preferences_decide_what_is_archived(start_server):
    """§6.1: the preferences start as 'always'; set to 'never' with bob always
    archived, bob's messages are kept (with a stanza-id) and carol's are not (and carry
    no stanza-id of the archive); 'roster' keeps contacts only; a bad default is
    refused. The preferences survive a restart."""
    server = start_server()
    alice = server.online(A, AP, resource="a")
    bob = server.online(B, BP, resource="b")
    carol = server.online(C, CP, resource="c")
    assert prefs_of(prefs_iq(alice)) == ("always", [], [])
    assert prefs_of(prefs_iq(alice, "never", always=(f"{BJ}/x",))) == ("never", [BJ], [])
    chat(bob, AJ, "kept", body="from bob")
    chat(carol, AJ, "dropped", body="from carol")
    got: dict[str, ET.Element] = {}
    while len(got) < 2:  # in either order: they come from two senders
        e = alice.wait_for(lambda e: local_name(e.tag) == "message")
        got[e.get("id")] = e
    assert got["kept"].find(q(NS_SID, "stanza-id")) is not None
    assert got["dropped"].find(q(NS_SID, "stanza-id")) is None
    chat(alice, CJ, "sent-to-carol", body="to carol")
    carol.wait_for(lambda e: local_name(e.tag) == "message" and e.get("id") == "sent-to-carol")
    results, _ = mam_query(alice)
    assert bodies(results) == ["from bob"]
    err = prefs_iq(alice, "sometimes")
    assert err.get("type") == "error" and stanza_error_condition(err) == "bad-request"

    # 'roster': carol is a contact now (alice's side), a stranger is not.
    alice.iq("set", f"<query xmlns='jabber:iq:roster'><item jid='{CJ}'/></query>")
    prefs_iq(alice, "roster")
    server.ensure_user("dave", "dave-password")
    dave = server.online("dave", "dave-password", resource="d")
    chat(carol, AJ, "contact", body="carol again")
    chat(dave, AJ, "stranger", body="from dave")
    seen: set[str] = set()
    while seen != {"contact", "stranger"}:
        seen.add(alice.wait_for(lambda e: local_name(e.tag) == "message").get("id"))
    results, _ = mam_query(alice)
    assert bodies(results) == ["from bob", "carol again"]

    server = start_server(after=server)
    alice = server.login(A, AP)
    assert prefs_of(prefs_iq(alice))[0] == "roster"


def test_archive_metadata(server):
    """§7 (archive metadata): the id and time of the first and the last message; an
    empty archive answers an empty <metadata/>."""
    alice = server.online(A, AP, resource="a")
    md = alice.iq("get", f"<metadata xmlns='{NS_MAM}'/>").find(q(NS_MAM, "metadata"))
    assert md is not None and len(md) == 0
    _, bob = converse(server, 3)
    results, _ = mam_query(bob)
    md = bob.iq("get", f"<metadata xmlns='{NS_MAM}'/>").find(q(NS_MAM, "metadata"))
    start, end = md.find(q(NS_MAM, "start")), md.find(q(NS_MAM, "end"))
    assert (start.get("id"), end.get("id")) == (result_ids(results)[0], result_ids(results)[-1])
    assert start.get("timestamp") == forwarded(results[0]).find(q(NS_DELAY, "delay")).get("stamp")


def age_archive(server, user: str, days: int) -> None:
    """Makes `user`'s archived messages `days` days older, in the database itself."""
    sql = f"UPDATE archive SET time_us = time_us - {days * 86400 * 10**6} WHERE username = '{user}'"
    from conftest import BACKEND, storage_settings
    if BACKEND == "postgresql":
        url = storage_settings(server.data_dir)["storage.postgresql.url"]
        subprocess.run(["psql", url, "-q", "-c", sql], check=True, capture_output=True)
    else:
        with sqlite3.connect(server.data_dir / "hongyan.db") as con:
            con.execute(sql)


def test_retention_deletes_old_messages(start_server):
    """mam.retention: messages older than that many days go (at start, then hourly);
    newer ones stay, and paging still works over what is left."""
    server = start_server()
    alice, bob = converse(server, 2, "old")
    mam_query(bob)  # the writes are done
    age_archive(server, B, 3)
    chat(alice, BJ, "new", body="new one")
    bob.wait_for(lambda e: local_name(e.tag) == "message" and e.get("id") == "new")
    mam_query(bob)
    server = start_server({"mam.retention": 2}, after=server)
    bob = server.login(B, BP)
    results, answer = mam_query(bob)
    assert bodies(results) == ["new one"] and fin(answer).get("complete") == "true"


def test_hongyanctl_archive(server):
    """hongyanctl archive count, show (the newest, optionally with one contact) and
    purge (one user, or every user's messages older than some days)."""
    alice, bob = converse(server, 3)
    chat(bob, AJ, "back", body="and back")
    alice.wait_for(lambda e: local_name(e.tag) == "message" and e.get("id") == "back")
    mam_query(bob)
    r = server.ctl("archive", "count", B)
    assert r.returncode == 0 and r.stdout.startswith("4 messages, from "), r.stdout + r.stderr
    r = server.ctl("archive", "show", B, "--with", AJ, "-n", "2")
    lines = [line.split("\t") for line in r.stdout.splitlines()]
    assert [(d, w, text) for _, d, w, _, text in lines] == [("from", AJ, "m 2"), ("to  ", AJ, "and back")]
    r = server.ctl("archive", "purge", B, "--older-than", "3")
    assert r.returncode != 0 and "not both" in r.stderr
    r = server.ctl("archive", "purge", "--older-than", "3")
    assert r.returncode == 0 and "deleted 0 messages" in r.stdout, r.stdout
    r = server.ctl("archive", "purge", B)
    assert r.returncode == 0 and "deleted 4 messages" in r.stdout, r.stdout
    results, _ = mam_query(bob)
    assert results == []
    assert len(mam_query(alice)[0]) == 4  # alice's own archive is hers
    r = server.ctl("archive", "count", "nobody")
    assert r.returncode != 0 and "no account" in r.stderr
