"""Shared roster groups: the "everyone" group (shared_groups.everyone) and named groups
managed with hongyanctl; users see each other as contacts with subscription 'both' without
asking. Also hongyanctl roster. Changes reach online users as single roster pushes."""

from __future__ import annotations

import conftest
import im_helpers
import pytest
from im_helpers import (drain, expect_all, get_roster, is_presence, is_push, items, push_item,
                        roster_query, set_item)
from xmpp_raw import stanza_error_condition, to_str

EVERYONE = {"shared_groups.everyone": "Everyone"}


def online(server, user, resource="r"):
    return im_helpers.online(server, user, f"{user}-password", resource)


def feed_read(server, user: str) -> None:
    """A barrier for the directory feed: a login binds, and binding reads the feed up to
    its end (docs/architecture.md, "Ordering": a barrier job when the feed moved) before
    the bind result; so
    afterwards every change so far has been applied and its pushes handed to the online
    sessions. (`user` must exist and not be in a group whose change is being tested.)"""
    server.login(user, f"{user}-password", resource="feed-barrier").logout()


def test_everyone_sees_everyone(start_server):
    """Every account is in every roster, 'both', in the group named by the config; no
    subscription requests are needed for presence."""
    server = start_server(EVERYONE)
    for u in ("u1", "u2", "u3"):
        server.add_user(u, f"{u}-password")
    s1 = online(server, "u1")
    roster = items(roster_query(get_roster(s1)))
    assert set(roster) == {"u2@localhost", "u3@localhost"}, roster
    for it in roster.values():
        assert it["subscription"] == "both" and it["groups"] == ["Everyone"]
    s2 = online(server, "u2")
    expect_all(s1, [is_presence("u2@localhost/r")])
    expect_all(s2, [is_presence("u1@localhost/r")])  # probe answered at login
    s2.send("<presence type='unavailable'/>")
    s1.wait_for(is_presence("u2@localhost/r", "unavailable"))


def test_new_accounts_are_pushed_to_online_users(start_server):
    """Registering (in-band or with hongyanctl) pushes exactly one item to each online
    user; deleting pushes its removal."""
    server = start_server(EVERYONE)
    server.add_user("u1", "u1-password")
    s1 = online(server, "u1")
    drain(s1)
    reg = server.connect_secure()
    assert reg.register("newbie", "newbie-password").get("type") == "result"
    push = s1.wait_for(is_push("newbie@localhost"))
    jid, it = push_item(push)
    assert it["subscription"] == "both" and it["groups"] == ["Everyone"]
    assert server.ctl("user", "add", "viactl", "-p", "viactl-password").returncode == 0
    push = s1.wait_for(is_push("viactl@localhost"), timeout=5)
    assert push_item(push)[1]["subscription"] == "both"
    # Nothing more, whichever read of the feed (timer, bind) would have sent it.
    feed_read(server, "u1")
    others = [e for e in drain(s1) if is_push()(e)]
    assert others == [], [to_str(e) for e in others]
    assert server.ctl("user", "del", "viactl").returncode == 0
    push = s1.wait_for(is_push("viactl@localhost"), timeout=5)
    assert push_item(push)[1]["subscription"] == "remove"


@pytest.mark.skipif(conftest.BACKEND != "postgresql",
                    reason="only PostgreSQL tells the server of feed changes (LISTEN/NOTIFY)")
def test_changes_by_hongyanctl_arrive_without_polling_on_postgresql(start_server):
    """docs/storage.md, "The directory feed": on PostgreSQL the feed's triggers NOTIFY
    the server, so with the poll an hour apart a change made by hongyanctl still reaches
    an online user (the push is what the timer would otherwise have sent)."""
    server = start_server(EVERYONE, shared_groups__poll_interval=3600000)
    server.add_user("u1", "u1-password")
    s1 = online(server, "u1")
    drain(s1)
    assert server.ctl("user", "add", "viactl", "-p", "viactl-password").returncode == 0
    push = s1.wait_for(is_push("viactl@localhost"), timeout=10)
    assert push_item(push)[1]["subscription"] == "both"
    assert server.ctl("group", "create", "team").returncode == 0
    assert server.ctl("group", "add", "team", "u1", "viactl").returncode == 0
    push = s1.wait_for(lambda e: is_push("viactl@localhost")(e)
                       and "team" in push_item(e)[1]["groups"], timeout=10)


def test_new_user_sees_everyone(start_server):
    server = start_server(EVERYONE)
    for u in ("u1", "u2"):
        server.add_user(u, f"{u}-password")
    reg = server.connect_secure()
    assert reg.register("fresh", "fresh-password").get("type") == "result"
    server.users["fresh"] = "fresh-password"
    s = server.login("fresh", "fresh-password")
    assert set(items(roster_query(get_roster(s)))) == {"u1@localhost", "u2@localhost"}


def test_versioned_fetch_gets_only_the_new_account(start_server):
    """RFC 6121 §2.6 with shared groups: after one registration a client with the old
    version gets an empty result and the one new item, not the whole group."""
    server = start_server(EVERYONE)
    for u in ("u1", "u2", "u3", "u4"):
        server.add_user(u, f"{u}-password")
    s = server.login("u1", "u1-password", resource="one")
    ver = roster_query(get_roster(s)).get("ver")
    s.logout()
    # u2 online only to witness the server's own read of the feed (every second): its
    # push of u5 shows the change was taken in before u1 comes back.
    witness = online(server, "u2")
    server.add_user("u5", "u5-password")
    witness.wait_for(is_push("u5@localhost"), timeout=10)
    s = server.login("u1", "u1-password", resource="two")
    r = get_roster(s, ver=ver)
    assert r.get("type") == "result" and len(r) == 0, to_str(r)
    pushes = [push_item(e) for e in drain(s) if is_push()(e)]
    assert [j for j, _ in pushes] == ["u5@localhost"]


def test_personal_item_merges_with_shared(start_server):
    """A contact both in the personal roster and in a shared group is one item: the
    personal name, personal and shared groups, subscription 'both'. A shared contact
    cannot be removed by the user (not-allowed)."""
    server = start_server(EVERYONE)
    server.add_user("bob", "bob-password")
    s = online(server, "alice")
    assert set_item(s, "bob@localhost", name="Bobby", groups=("Friends",)).get("type") == "result"
    it = items(roster_query(get_roster(s)))["bob@localhost"]
    assert it["name"] == "Bobby" and it["groups"] == ["Everyone", "Friends"]
    assert it["subscription"] == "both"
    # Removing the personal part leaves the shared item.
    assert set_item(s, "bob@localhost", subscription="remove").get("type") == "result"
    it = items(roster_query(get_roster(s)))["bob@localhost"]
    assert it["groups"] == ["Everyone"] and it["name"] is None
    r = set_item(s, "bob@localhost", subscription="remove")
    assert stanza_error_condition(r) == "not-allowed"


def test_named_groups_with_hongyanctl(start_server):
    """hongyanctl group create/add/remove/delete: members see each other; others do not;
    changes are pushed to online members."""
    server = start_server()
    for u in ("alice", "bob", "carol"):
        server.add_user(u, f"{u}-password")
    r = server.ctl("group", "create", "team", "--display", "The Team")
    assert r.returncode == 0, r.stderr
    assert server.ctl("group", "add", "team", "alice", "bob").returncode == 0
    a = online(server, "alice")
    roster = items(roster_query(get_roster(a)))
    assert roster == {"bob@localhost": {"name": None, "subscription": "both", "ask": None,
                                        "approved": None, "groups": ["The Team"]}}
    c = online(server, "carol")
    assert items(roster_query(get_roster(c))) == {}
    assert server.ctl("group", "add", "team", "carol").returncode == 0
    push = a.wait_for(is_push("carol@localhost"), timeout=5)
    assert push_item(push)[1]["groups"] == ["The Team"]
    expect_all(a, [is_presence("carol@localhost/r")])
    assert server.ctl("group", "remove", "team", "carol").returncode == 0
    push = a.wait_for(is_push("carol@localhost"), timeout=5)
    assert push_item(push)[1]["subscription"] == "remove"
    listing = server.ctl("group", "list").stdout
    assert "team\tThe Team\talice bob" in listing, listing
    assert server.ctl("group", "delete", "team").returncode == 0
    push = a.wait_for(is_push("bob@localhost"), timeout=5)
    assert push_item(push)[1]["subscription"] == "remove"
    bad = server.ctl("group", "add", "nosuch", "alice")
    assert bad.returncode != 0 and "group create" in bad.stderr


def test_ctl_roster_while_online(start_server):
    """hongyanctl roster add/list/remove on a running server: the online user gets the
    pushes."""
    server = start_server()
    server.add_user("bob", "bob-password")
    a = online(server, "alice")
    r = server.ctl("roster", "add", "alice", "bob@localhost", "-n", "Bob", "-g", "Work",
                   "-s", "both")
    assert r.returncode == 0, r.stderr
    push = a.wait_for(is_push("bob@localhost"), timeout=5)
    it = push_item(push)[1]
    assert it == {"name": "Bob", "subscription": "both", "ask": None, "approved": None,
                  "groups": ["Work"]}
    listing = server.ctl("roster", "list", "alice").stdout
    assert "bob@localhost\tBob\tboth\tWork" in listing, listing
    assert server.ctl("roster", "remove", "alice", "bob@localhost").returncode == 0
    assert push_item(a.wait_for(is_push("bob@localhost"), timeout=5))[1]["subscription"] \
        == "remove"
    assert "bob@localhost" not in server.ctl("roster", "list", "alice").stdout
    bad = server.ctl("roster", "remove", "alice", "nobody@localhost")
    assert bad.returncode == 1 and "not in" in bad.stderr


def test_versioned_fetch_across_restart(start_server):
    """The feed's recent history is reloaded at start: a client that fetched before a
    restart still gets only the change, not the whole group."""
    server = start_server(EVERYONE)
    for u in ("u1", "u2", "u3"):
        server.add_user(u, f"{u}-password")
    s = server.login("u1", "u1-password")
    ver = roster_query(get_roster(s)).get("ver")
    server.close_clients()
    assert server.terminate() == 0
    again = start_server(EVERYONE, data_dir=server.data_dir)
    again.users = dict(server.users)
    again.add_user("u4", "u4-password")
    s = again.login("u1", "u1-password")
    r = get_roster(s, ver=ver)
    assert r.get("type") == "result" and len(r) == 0, to_str(r)
    assert [push_item(e)[0] for e in drain(s) if is_push()(e)] == ["u4@localhost"]
