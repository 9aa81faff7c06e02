"""Per-account data and queries the server answers on an account's behalf: vcard-temp
(XEP-0054), private XML storage (XEP-0049), last activity (XEP-0012) and disco#info
(XEP-0030) on accounts, and the server's entity capabilities (XEP-0115) as a stream
feature. Raw streams throughout."""

from __future__ import annotations

import base64
import hashlib

from im_helpers import (NS_CAPS, NS_LAST, NS_PRIVATE, NS_VCARD, befriend, iq, is_presence, online,
                        presence)
from xmpp_raw import NS_DISCO_INFO, NS_SASL, q, stanza_error_condition, to_str, wait_until

A, AP = "alice", "alice-password"
B, BP = "bob", "bob-password"
C, CP = "carol", "carol-password"
AJ, BJ, CJ = "alice@localhost", "bob@localhost", "carol@localhost"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"




def error_of(r):
    assert r.get("type") == "error", to_str(r)
    return stanza_error_condition(r)


# ----- XEP-0054 vcard-temp -----

VCARD = (f"<vCard xmlns='{NS_VCARD}'><FN>Alice Liddell</FN><N><FAMILY>Liddell</FAMILY>"
         "<GIVEN>Alice</GIVEN></N><NICKNAME>ali</NICKNAME></vCard>")


def vcard_of(r):
    assert r.get("type") == "result", to_str(r)
    v = r.find(q(NS_VCARD, "vCard"))
    assert v is not None, to_str(r)
    return v


def test_vcard_empty_before_publishing(server):
    """XEP-0054 §3.1: with no vCard stored the server returns an empty <vCard/>."""
    s = server.login(A, AP)
    v = vcard_of(iq(s, "get", f"<vCard xmlns='{NS_VCARD}'/>"))
    assert len(v) == 0 and not (v.text or "").strip(), to_str(v)


def test_vcard_publish_and_read(server):
    """XEP-0054 §3.2 and §3.1: the user publishes its vCard (no 'to'), reads it back
    unchanged, and another user reads it at the user's bare JID."""
    server.add_user(B, BP)
    alice = server.login(A, AP)
    r = iq(alice, "set", VCARD)
    assert r.get("type") == "result", to_str(r)
    bob = server.login(B, BP)
    for s, to in ((alice, None), (bob, AJ)):
        r = iq(s, "get", f"<vCard xmlns='{NS_VCARD}'/>", to=to)
        v = vcard_of(r)
        if to:
            assert r.get("from") == AJ, to_str(r)
        assert v.findtext(q(NS_VCARD, "FN")) == "Alice Liddell", to_str(v)
        assert v.findtext(q(NS_VCARD, "NICKNAME")) == "ali"
        assert v.findtext(f"{q(NS_VCARD, 'N')}/{q(NS_VCARD, 'GIVEN')}") == "Alice"
        assert v.findtext(f"{q(NS_VCARD, 'N')}/{q(NS_VCARD, 'FAMILY')}") == "Liddell"
    # Bob's own vCard is still empty: the stores are per account.
    assert len(vcard_of(iq(bob, "get", f"<vCard xmlns='{NS_VCARD}'/>"))) == 0


def test_vcard_errors(start_server):
    """XEP-0054 §3.2: only the owner may set a vCard (forbidden otherwise); §3.1: the
    vCard of an account that does not exist → service-unavailable; vcard.max_size: a
    larger vCard → not-acceptable, and the stored one stays."""
    server = start_server({"vcard.max_size": 512})
    server.add_user(B, BP)
    alice = server.login(A, AP)
    assert iq(alice, "set", VCARD).get("type") == "result"
    r = iq(alice, "set", f"<vCard xmlns='{NS_VCARD}'><FN>Not Bob</FN></vCard>", to=BJ)
    assert error_of(r) == "forbidden", to_str(r)
    r = iq(alice, "get", f"<vCard xmlns='{NS_VCARD}'/>", to="ghost@localhost")
    assert error_of(r) == "service-unavailable", to_str(r)
    big = f"<vCard xmlns='{NS_VCARD}'><FN>Big</FN><DESC>{'x' * 1000}</DESC></vCard>"
    r = iq(alice, "set", big)
    assert error_of(r) == "not-acceptable", to_str(r)
    v = vcard_of(iq(alice, "get", f"<vCard xmlns='{NS_VCARD}'/>"))
    assert v.findtext(q(NS_VCARD, "FN")) == "Alice Liddell"
    bob = server.login(B, BP)
    assert len(vcard_of(iq(bob, "get", f"<vCard xmlns='{NS_VCARD}'/>"))) == 0


# ----- XEP-0049 private XML storage -----

BOOKMARKS = ("<storage xmlns='storage:bookmarks'><conference jid='room@conference.example' "
             "autojoin='true' name='The Room'><nick>ali</nick></conference></storage>")


def private(s, type_, inner, to=None):
    return iq(s, type_, f"<query xmlns='{NS_PRIVATE}'>{inner}</query>", to=to)


def test_private_store_and_retrieve(server):
    """XEP-0049 §2: set a fragment, get it back by its namespace; a namespace never
    stored comes back as the empty element that was asked for; other users have their
    own storage."""
    server.add_user(B, BP)
    alice = server.login(A, AP)
    empty = private(alice, "get", "<storage xmlns='storage:bookmarks'/>")
    assert empty.get("type") == "result", to_str(empty)
    st = empty.find(f"{q(NS_PRIVATE, 'query')}/{q('storage:bookmarks', 'storage')}")
    assert st is not None and len(st) == 0, to_str(empty)
    assert private(alice, "set", BOOKMARKS).get("type") == "result"
    r = private(alice, "get", "<storage xmlns='storage:bookmarks'/>")
    assert r.get("type") == "result", to_str(r)
    conf = r.find(f"{q(NS_PRIVATE, 'query')}/{q('storage:bookmarks', 'storage')}/"
                  f"{q('storage:bookmarks', 'conference')}")
    assert conf is not None, to_str(r)
    assert conf.get("jid") == "room@conference.example" and conf.get("autojoin") == "true"
    assert conf.get("name") == "The Room"
    assert conf.findtext(q("storage:bookmarks", "nick")) == "ali"
    bob = server.login(B, BP)
    r = private(bob, "get", "<storage xmlns='storage:bookmarks'/>")
    st = r.find(f"{q(NS_PRIVATE, 'query')}/{q('storage:bookmarks', 'storage')}")
    assert st is not None and len(st) == 0, to_str(r)


def test_private_errors(start_server):
    """XEP-0049 §2.3: another user's storage → forbidden; a reserved 'jabber:' namespace →
    not-acceptable; a get for more than one namespace → bad-request; private.max_size: a
    larger fragment → not-acceptable."""
    server = start_server({"private.max_size": 512})
    server.add_user(B, BP)
    alice = server.login(A, AP)
    assert error_of(private(alice, "set", BOOKMARKS, to=BJ)) == "forbidden"
    assert error_of(private(alice, "get", "<storage xmlns='storage:bookmarks'/>", to=BJ)) \
        == "forbidden"
    assert error_of(private(alice, "set", "<x xmlns='jabber:x:secret'>no</x>")) == "not-acceptable"
    assert error_of(private(alice, "get", "<x xmlns='jabber:x:secret'/>")) == "not-acceptable"
    two = "<storage xmlns='storage:bookmarks'/><prefs xmlns='example:prefs'/>"
    assert error_of(private(alice, "get", two)) == "bad-request"
    big = f"<prefs xmlns='example:prefs'><blob>{'y' * 1000}</blob></prefs>"
    assert error_of(private(alice, "set", big)) == "not-acceptable"
    r = private(alice, "get", "<prefs xmlns='example:prefs'/>")
    st = r.find(f"{q(NS_PRIVATE, 'query')}/{q('example:prefs', 'prefs')}")
    assert st is not None and len(st) == 0, to_str(r)


# ----- XEP-0012 last activity on accounts -----

def last(s, to):
    return iq(s, "get", f"<query xmlns='{NS_LAST}'/>", to=to)


def test_last_activity_of_contact(server):
    """XEP-0012 §4: a subscriber asking about an online contact gets seconds='0';
    after the contact logs out, the seconds since then and the status of its
    unavailable presence."""
    alice = online(server, A, AP, "a")
    bob = online(server, B, BP, "b")
    befriend(alice, bob, AJ, BJ)
    r = last(alice, BJ)
    assert r.get("type") == "result", to_str(r)
    assert r.get("from") == BJ, to_str(r)
    qe = r.find(q(NS_LAST, "query"))
    assert qe is not None and qe.get("seconds") == "0", to_str(r)
    bob.send("<presence type='unavailable'><status>gone fishing</status></presence>")
    alice.wait_for(is_presence(f"{BJ}/b", "unavailable"))
    # Once the server has closed bob's stream his session is over, and the logout time
    # is written in a job on bob's key queued before the one in which alice's next query
    # checks that she may see him.
    bob.logout()
    r = last(alice, BJ)
    assert r.get("type") == "result", to_str(r)
    qe = r.find(q(NS_LAST, "query"))
    assert 0 <= int(qe.get("seconds")) < 30, to_str(r)
    assert qe.text == "gone fishing", to_str(r)

    def seconds() -> int:
        return int(last(alice, BJ).find(q(NS_LAST, "query")).get("seconds"))
    # Whole seconds since the logout: at least 1 within a second or so.
    wait_until(lambda: seconds() >= 1, 5, "bob's last activity is a second old")
    later = seconds()
    assert 1 <= later < 30, later


def test_last_activity_after_unavailable_on_an_open_connection(server):
    """XEP-0012 §4: a user who says unavailable but keeps the connection open is offline
    from then on: last activity counts from that moment, with its status (not 0)."""
    alice = online(server, A, AP, "a")
    bob = online(server, B, BP, "b")
    befriend(alice, bob, AJ, BJ)
    bob.send("<presence type='unavailable'><status>brb</status></presence>")
    alice.wait_for(is_presence(f"{BJ}/b", "unavailable"))

    def status() -> str:
        qe = last(alice, BJ).find(q(NS_LAST, "query"))
        return (qe.text or "") if qe is not None else ""
    # Recorded in a job of bob's, after his presence was broadcast.
    wait_until(lambda: status() == "brb", 5, "bob's last activity has his status")
    bob.sync()  # his stream is still open


def test_probe_of_offline_contact_gets_last_unavailable_with_delay(server):
    """RFC 6121 §4.3.2: a subscriber's probe for a user with no available resource is
    answered with the user's last unavailable presence, stamped with when it was sent
    (XEP-0203)."""
    alice = online(server, A, AP, "a")
    bob = online(server, B, BP, "b")
    befriend(alice, bob, AJ, BJ)
    bob.send("<presence type='unavailable'><status>gone fishing</status></presence>")
    alice.wait_for(is_presence(f"{BJ}/b", "unavailable"))
    bob.logout()
    alice.send(f"<presence type='probe' to='{BJ}'/>")
    p = alice.wait_for(lambda e: e.tag == q("jabber:client", "presence") and e.get("from") == BJ)
    assert p.get("type") == "unavailable", to_str(p)
    assert p.findtext(q("jabber:client", "status")) == "gone fishing", to_str(p)
    delay = p.find(q("urn:xmpp:delay", "delay"))
    assert delay is not None and delay.get("stamp", "").endswith("Z"), to_str(p)
    assert delay.get("from") == "localhost"


def test_last_activity_errors_and_uptime(server):
    """XEP-0012 §4: someone not allowed to see the user's presence → forbidden; an
    account that does not exist → service-unavailable; §5: the server's own uptime."""
    server.add_user(B, BP)
    carol = server.login(C, CP)
    assert error_of(last(carol, BJ)) == "forbidden"
    assert error_of(last(carol, "ghost@localhost")) == "service-unavailable"
    r = last(carol, "localhost")
    assert r.get("type") == "result", to_str(r)
    qe = r.find(q(NS_LAST, "query"))
    assert qe is not None and int(qe.get("seconds")) >= 0, to_str(r)
    assert not (qe.text or "").strip(), to_str(r)


# ----- XEP-0030 disco#info on accounts -----

def disco(s, to, node=None):
    n = f" node='{node}'" if node is not None else ""
    return iq(s, "get", f"<query xmlns='{NS_DISCO_INFO}'{n}/>", to=to)


def identities(r):
    qe = r.find(q(NS_DISCO_INFO, "query"))
    return [(i.get("category"), i.get("type"), i.get(XML_LANG) or "", i.get("name") or "")
            for i in qe.findall(q(NS_DISCO_INFO, "identity"))]


def features(r):
    return [f.get("var") for f in r.find(q(NS_DISCO_INFO, "query")).findall(q(NS_DISCO_INFO, "feature"))]


def test_disco_info_on_accounts(server):
    """XEP-0030 §3 / RFC 6121 §8.5.2.1.3: the server answers disco#info at an account's
    bare JID with the identity account/registered, to the account itself and to a
    contact; someone without a presence subscription gets service-unavailable."""
    alice = online(server, A, AP, "a")
    bob = online(server, B, BP, "b")
    befriend(alice, bob, AJ, BJ)
    carol = server.login(C, CP)
    for s, to in ((alice, AJ), (alice, BJ), (bob, AJ)):
        r = disco(s, to)
        assert r.get("type") == "result", to_str(r)
        assert r.get("from") == to, to_str(r)
        assert ("account", "registered") in [i[:2] for i in identities(r)], to_str(r)
        assert NS_DISCO_INFO in features(r), to_str(r)
    assert error_of(disco(carol, AJ)) == "service-unavailable"


# ----- XEP-0115 server capabilities as a stream feature -----

def caps_ver(r):
    """XEP-0115 §5.1 without forms: identities sorted by category/type/lang, each as
    'category/type/lang/name<', then the sorted features each with '<'; SHA-1; base64."""
    ids = sorted(identities(r), key=lambda i: (i[0].encode(), i[1].encode(), i[2].encode()))
    s = "".join(f"{c}/{t}/{lang}/{name}<" for c, t, lang, name in ids)
    s += "".join(f"{f}<" for f in sorted(features(r), key=lambda f: f.encode()))
    return base64.b64encode(hashlib.sha1(s.encode()).digest()).decode()


def test_caps_stream_feature_matches_disco(server):
    """XEP-0115 §6.3: after authentication the stream features carry the server's <c/>
    (hash, node and ver all present); ver is the §5.1 hash of the server's disco#info;
    a disco#info to node#ver answers the same identities and features (§6.2)."""
    server.add_user(A, AP)
    s = server.connect_secure()
    assert s.auth(A, AP).tag == q(NS_SASL, "success")
    feats = s.open()
    c = feats.find(q(NS_CAPS, "c"))
    assert c is not None, to_str(feats)
    assert c.get("hash") == "sha-1", to_str(c)
    node, ver = c.get("node"), c.get("ver")
    assert node and ver, to_str(c)
    s.bind("caps")
    info = disco(s, "localhost")
    assert info.get("type") == "result", to_str(info)
    # §5.4: no duplicate identities or features, or the hash means nothing.
    assert len(set(identities(info))) == len(identities(info))
    assert len(set(features(info))) == len(features(info))
    assert caps_ver(info) == ver, (to_str(info), ver)
    by_node = disco(s, "localhost", node=f"{node}#{ver}")
    assert by_node.get("type") == "result", to_str(by_node)
    assert by_node.find(q(NS_DISCO_INFO, "query")).get("node") == f"{node}#{ver}"
    assert sorted(features(by_node)) == sorted(features(info))
    assert sorted(identities(by_node)) == sorted(identities(info))
