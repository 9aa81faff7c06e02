"""Roster management (RFC 6121 §2) and roster versioning (§2.6) against a running
hongyand, over raw streams; slixmpp as a real client at the end."""

from __future__ import annotations

import slix
from im_helpers import (NS_PREAPPROVAL, NS_ROSTER, NS_ROSTERVER, drain, expect_all, get_roster,
                        is_push, items, push_item, roster_query, set_item)
from xmpp_raw import no_element_after, q, stanza_error_condition, to_str

A, AP = "alice", "alice-password"


def test_stream_features_advertise_versioning_and_preapproval(server):
    """RFC 6121 §2.6.1 (rosterver) and §3.4.1 (pre-approval) stream features."""
    server.add_user(A, AP)
    s = server.connect_secure()
    s.auth(A, AP)
    feats = s.open()
    assert feats.find(q(NS_ROSTERVER, "ver")) is not None, to_str(feats)
    assert feats.find(q(NS_PREAPPROVAL, "sub")) is not None, to_str(feats)


def test_empty_roster_has_a_version(server):
    """§2.1.3: an empty roster is an empty <query/> (not an error), with 'ver' (§2.6.3)."""
    s = server.login(A, AP)
    qe = roster_query(get_roster(s))
    assert qe is not None and len(qe) == 0
    assert qe.get("ver")


def test_add_update_remove_pushed_to_every_interested_resource(server):
    """§2.1.6, §2.3, §2.4, §2.5: each change is pushed to every resource that asked for
    the roster (the one that made the change too), and the get shows it."""
    one = server.login(A, AP, resource="one")
    two = server.login(A, AP, resource="two")
    get_roster(one)
    get_roster(two)
    r = set_item(one, "bob@localhost", name="Bob", groups=("Friends", "Work"))
    assert r.get("type") == "result", to_str(r)
    for s in (one, two):
        push = s.wait_for(is_push("bob@localhost"))
        assert push.get("from") in (None, "alice@localhost")
        jid, it = push_item(push)
        assert it == {"name": "Bob", "subscription": "none", "ask": None, "approved": None,
                      "groups": ["Friends", "Work"]}
        assert push.find(q(NS_ROSTER, "query")).get("ver")
    # §2.4: an update replaces the item.
    assert set_item(two, "bob@localhost", name="Bobby", groups=("Family",)).get("type") == "result"
    for s in (one, two):
        _, it = push_item(s.wait_for(is_push("bob@localhost")))
        assert it["name"] == "Bobby" and it["groups"] == ["Family"]
    roster = items(roster_query(get_roster(one)))
    assert roster["bob@localhost"]["name"] == "Bobby"
    # §2.5: removal is pushed with subscription='remove'.
    assert set_item(one, "bob@localhost", subscription="remove").get("type") == "result"
    for s in (one, two):
        _, it = push_item(s.wait_for(is_push("bob@localhost")))
        assert it["subscription"] == "remove"
    assert "bob@localhost" not in items(roster_query(get_roster(two)))


def test_resource_that_never_asked_gets_no_push(server):
    """§2.1.6: pushes go to interested resources only."""
    one = server.login(A, AP, resource="one")
    quiet = server.login(A, AP, resource="quiet")
    get_roster(one)
    set_item(one, "carol@localhost", name="Carol")
    no_element_after(one, quiet)


def test_client_subscription_attributes_are_ignored(server):
    """§2.1.5: a client cannot set 'subscription' (other than remove), 'ask' or
    'approved'; the server keeps its own state."""
    s = server.login(A, AP)
    get_roster(s)
    r = s.iq("set", f"<query xmlns='{NS_ROSTER}'><item jid='dave@localhost' "
                    "subscription='both' ask='subscribe' approved='true'/></query>")
    assert r.get("type") == "result"
    it = items(roster_query(get_roster(s)))["dave@localhost"]
    assert it["subscription"] == "none" and it["ask"] is None and it["approved"] is None


def test_roster_set_errors(start_server):
    """§2.3.3 errors: more than one item → bad-request; duplicate group → bad-request;
    empty group or too long name/group → not-acceptable; bad JID → jid-malformed; removing
    an unknown item → item-not-found; a full roster → not-allowed; another user's roster
    → forbidden."""
    server = start_server({"roster.max_items": 2, "roster.max_name_length": 10,
                           "roster.max_group_length": 8})
    s = server.login(A, AP)
    two = s.iq("set", f"<query xmlns='{NS_ROSTER}'><item jid='a@localhost'/>"
                      "<item jid='b@localhost'/></query>")
    assert stanza_error_condition(two) == "bad-request"
    none = s.iq("set", f"<query xmlns='{NS_ROSTER}'/>")
    assert stanza_error_condition(none) == "bad-request"
    assert stanza_error_condition(set_item(s, "x@localhost", groups=("G", "G"))) == "bad-request"
    assert stanza_error_condition(set_item(s, "x@localhost", groups=("",))) == "not-acceptable"
    assert stanza_error_condition(set_item(s, "x@localhost", name="n" * 11)) == "not-acceptable"
    assert stanza_error_condition(set_item(s, "x@localhost", groups=("g" * 9,))) == "not-acceptable"
    assert stanza_error_condition(set_item(s, "a@@localhost")) == "jid-malformed"
    assert stanza_error_condition(set_item(s, "zed@localhost", subscription="remove")) \
        == "item-not-found"
    assert set_item(s, "one@localhost").get("type") == "result"
    assert set_item(s, "two@localhost").get("type") == "result"
    assert stanza_error_condition(set_item(s, "three@localhost")) == "not-allowed"
    # Updating an existing item is fine at the limit.
    assert set_item(s, "two@localhost", name="Two").get("type") == "result"
    server.add_user("bob", "bob-password")
    other = s.iq("get", f"<query xmlns='{NS_ROSTER}'/>", to="bob@localhost")
    assert stanza_error_condition(other) == "forbidden"
    assert s.ping().get("type") == "result"


def test_roster_survives_restart(start_server, tmp_path):
    server = start_server()
    s = server.login(A, AP)
    set_item(s, "bob@localhost", name="Bob", groups=("Friends",))
    data = server.data_dir
    server.close_clients()
    assert server.terminate() == 0
    again = start_server(data_dir=data)
    again.users = dict(server.users)
    s2 = again.login(A, AP)
    it = items(roster_query(get_roster(s2)))
    assert it["bob@localhost"]["name"] == "Bob" and it["bob@localhost"]["groups"] == ["Friends"]


def test_versioning_up_to_date_gets_empty_result(server):
    """§2.6.3: the client's version is current → an empty iq result, no pushes."""
    s = server.login(A, AP)
    set_item(s, "bob@localhost", name="Bob")
    ver = roster_query(get_roster(s)).get("ver")
    r = get_roster(s, ver=ver)
    assert r.get("type") == "result" and len(r) == 0, to_str(r)
    s.no_element()


def test_versioning_sends_only_changes_as_pushes(server):
    """§2.6.3: an older version → an empty result, then one push per item changed since,
    in order, each with its own version; unchanged items are not sent again."""
    s = server.login(A, AP, resource="one")
    for i in range(5):
        set_item(s, f"c{i}@localhost", name=f"C{i}")
    ver = roster_query(get_roster(s)).get("ver")
    other = server.login(A, AP, resource="two")
    set_item(other, "c1@localhost", name="Changed")
    set_item(other, "c3@localhost", subscription="remove")
    set_item(other, "new@localhost", name="New")
    third = server.login(A, AP, resource="three")
    r = get_roster(third, ver=ver)
    assert r.get("type") == "result" and len(r) == 0, to_str(r)
    pushes = [e for e in drain(third) if is_push()(e)]
    got = [push_item(p) for p in pushes]
    assert [j for j, _ in got] == ["c1@localhost", "c3@localhost", "new@localhost"]
    assert got[0][1]["name"] == "Changed" and got[1][1]["subscription"] == "remove"
    vers = [p.find(q(NS_ROSTER, "query")).get("ver") for p in pushes]
    assert len(set(vers)) == 3
    # The last push's version is the current one.
    assert get_roster(third, ver=vers[-1]).find(q(NS_ROSTER, "query")) is None
    third.no_element()


def test_versioning_unknown_version_gets_full_roster(server):
    """§2.6.3: a version the server does not recognise (or "" to bootstrap) → the whole
    roster with the current version."""
    s = server.login(A, AP)
    set_item(s, "bob@localhost")
    for ver in ("", "garbage", "999999-0"):
        qe = roster_query(get_roster(s, ver=ver))
        assert qe is not None and "bob@localhost" in items(qe), ver


def test_slixmpp_roster(server):
    """A real client: slixmpp fetches the roster, adds and renames a contact (pushes
    update its roster), and removes it."""
    server.add_user(A, AP)

    async def scenario(_loop):
        c = await slix.connect(f"{A}@localhost/slix", AP, server.port)
        try:
            await c.get_roster()
            # The client's roster changes with the server's push (RFC 6121 §2.1.6), which
            # slixmpp handles on its own: wait for it rather than for the iq result.
            await c.update_roster("bob@localhost", name="Bob", groups=["Friends"])
            await slix.wait_until(lambda: "bob@localhost" in c.client_roster
                                  and c.client_roster["bob@localhost"]["name"] == "Bob",
                                  "the push of the new item")
            assert c.client_roster["bob@localhost"]["groups"] == ["Friends"]
            await c.update_roster("bob@localhost", name="Robert", groups=["Friends"])
            await slix.wait_until(lambda: c.client_roster["bob@localhost"]["name"] == "Robert",
                                  "the push of the renamed item")
            await c.del_roster_item("bob@localhost")
            await slix.wait_until(lambda: "bob@localhost" not in c.client_roster,
                                  "the push of the removal")
        finally:
            await slix.disconnect(c)
    slix.run(scenario)


def test_versioning_after_removed_items_are_forgotten(start_server):
    """roster.max_removed: removed items are remembered for versioned fetches up to the
    limit; past it (at the next login) the oldest half is forgotten, and a client with a
    version from before that gets the whole roster rather than missing removals."""
    server = start_server({"roster.max_removed": 4})
    s = server.login(A, AP, resource="one")
    for i in range(7):
        set_item(s, f"c{i}@localhost")
    vers = [roster_query(get_roster(s)).get("ver")]
    for i in range(6):
        set_item(s, f"c{i}@localhost", subscription="remove")
        vers.append(roster_query(get_roster(s)).get("ver"))
    # The user's state leaves memory when the last session ends, in a job on the user's
    # key queued before the next login's own (docs/architecture.md, "Ordering"): that
    # login reloads it.
    s.logout()
    s = server.login(A, AP, resource="two")
    # Six removals, limit four: the two newest are kept.
    old = get_roster(s, ver=vers[0])
    assert roster_query(old) is not None and set(items(roster_query(old))) == {"c6@localhost"}
    recent = get_roster(s, ver=vers[4])  # before the last two removals
    assert recent.find(q(NS_ROSTER, "query")) is None, to_str(recent)
    pushed = [push_item(e)[0] for e in drain(s) if is_push()(e)]
    assert pushed == ["c4@localhost", "c5@localhost"]
