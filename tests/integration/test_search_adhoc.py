"""User directory search (XEP-0055 with XEP-0004 forms) and service administration by
ad-hoc commands (XEP-0050, XEP-0133) for the accounts in server.admins."""

from __future__ import annotations

import asyncio

import slix
from im_helpers import iq, is_presence
from xmpp_raw import (NS_DISCO_INFO, NS_DISCO_ITEMS, q, stanza_error_condition, to_str)

NS_SEARCH = "jabber:iq:search"
NS_DATA = "jabber:x:data"
NS_COMMANDS = "http://jabber.org/protocol/commands"
ADMIN = "http://jabber.org/protocol/admin"


def field_values(x, var):
    for f in x.findall(q(NS_DATA, "field")):
        if f.get("var") == var:
            return [v.text or "" for v in f.findall(q(NS_DATA, "value"))]
    return None


def submit(fields: dict) -> str:
    inner = "".join(
        f"<field var='{k}'>" + "".join(f"<value>{v}</value>" for v in (vs if isinstance(vs, list) else [vs]))
        + "</field>" for k, vs in fields.items())
    return f"<x xmlns='{NS_DATA}' type='submit'>{inner}</x>"


# ----- XEP-0055 -----

def test_search_form_and_results(server):
    """§2: the form; §3 (extensibility via XEP-0004): results as a table; only matching
    usernames."""
    for u in ("alice", "alicia", "bob"):
        server.add_user(u, f"{u}-password")
    s = server.login("bob", "bob-password")
    info = s.iq("get", f"<query xmlns='{NS_DISCO_INFO}'/>", to="localhost")
    assert NS_SEARCH in [f.get("var") for f in info.iter(q(NS_DISCO_INFO, "feature"))]
    form = s.iq("get", f"<query xmlns='{NS_SEARCH}'/>", to="localhost")
    x = form.find(f"{q(NS_SEARCH, 'query')}/{q(NS_DATA, 'x')}")
    assert x is not None and x.get("type") == "form", to_str(form)
    assert field_values(x, "FORM_TYPE") == [NS_SEARCH]
    assert field_values(x, "user") is not None
    r = s.iq("set", f"<query xmlns='{NS_SEARCH}'>{submit({'FORM_TYPE': NS_SEARCH, 'user': 'ali'})}</query>",
             to="localhost")
    x = r.find(f"{q(NS_SEARCH, 'query')}/{q(NS_DATA, 'x')}")
    assert x.get("type") == "result"
    jids = sorted(field_values(item, "jid")[0] for item in x.findall(q(NS_DATA, "item")))
    assert jids == ["alice@localhost", "alicia@localhost"]


def test_search_legacy_fields_and_limits(start_server):
    """§2 legacy <nick/>; search.max_results caps the answer; an empty query is
    not-acceptable; the module can be switched off (service-unavailable)."""
    server = start_server({"search.max_results": 2})
    for u in ("user1", "user2", "user3"):
        server.add_user(u, f"{u}-password")
    s = server.login("user1", "user1-password")
    r = s.iq("set", f"<query xmlns='{NS_SEARCH}'><nick>user</nick></query>", to="localhost")
    found = [i.get("jid") for i in r.iter(q(NS_SEARCH, "item"))]
    assert found == ["user1@localhost", "user2@localhost"], to_str(r)
    r = s.iq("set", f"<query xmlns='{NS_SEARCH}'><nick/></query>", to="localhost")
    assert stanza_error_condition(r) == "not-acceptable"
    off = start_server({"modules.disabled": "search"})
    s2 = off.login("user1", "user1-password")
    r = s2.iq("get", f"<query xmlns='{NS_SEARCH}'/>", to="localhost")
    assert stanza_error_condition(r) == "service-unavailable"


# ----- XEP-0050 / XEP-0133 -----

def admin_server(start_server):
    server = start_server({"server.admins": "boss@localhost"})
    server.add_user("boss", "boss-password")
    return server


def run_command(s, node, fields=None):
    """Executes a command; with fields, submits them in the second stage."""
    r = s.iq("set", f"<command xmlns='{NS_COMMANDS}' node='{node}' action='execute'/>",
             to="localhost")
    if r.get("type") != "result" or fields is None:
        return r
    cmd = r.find(q(NS_COMMANDS, "command"))
    assert cmd.get("status") == "executing", to_str(r)
    sid = cmd.get("sessionid")
    return s.iq("set", f"<command xmlns='{NS_COMMANDS}' node='{node}' sessionid='{sid}'>"
                       f"{submit(dict(FORM_TYPE=ADMIN, **fields))}</command>", to="localhost")


def test_command_list_for_admins_only(start_server):
    """XEP-0050 §2.2: the command list is a disco#items node; non-admins see none and
    may not run them (forbidden)."""
    server = admin_server(start_server)
    boss = server.login("boss", "boss-password")
    r = boss.iq("get", f"<query xmlns='{NS_DISCO_ITEMS}' node='{NS_COMMANDS}'/>", to="localhost")
    nodes = {i.get("node") for i in r.iter(q(NS_DISCO_ITEMS, "item"))}
    assert {f"{ADMIN}#add-user", f"{ADMIN}#delete-user", f"{ADMIN}#change-user-password",
            f"{ADMIN}#get-registered-users-list", f"{ADMIN}#get-online-users-list",
            f"{ADMIN}#announce"} <= nodes
    info = boss.iq("get", f"<query xmlns='{NS_DISCO_INFO}' node='{ADMIN}#add-user'/>", to="localhost")
    ident = info.find(f"{q(NS_DISCO_INFO, 'query')}/{q(NS_DISCO_INFO, 'identity')}")
    assert ident.get("category") == "automation" and ident.get("type") == "command-node"
    joe = server.login("joe", "joe-password")
    r = joe.iq("get", f"<query xmlns='{NS_DISCO_ITEMS}' node='{NS_COMMANDS}'/>", to="localhost")
    assert list(r.iter(q(NS_DISCO_ITEMS, "item"))) == []
    r = run_command(joe, f"{ADMIN}#get-registered-users-list")
    assert stanza_error_condition(r) == "forbidden"


def test_add_change_delete_user(start_server):
    """XEP-0133 §4.1 add-user, §4.7 change-user-password, §4.2 delete-user, each with its
    form; the new account logs in; the deleted one is disconnected."""
    server = admin_server(start_server)
    boss = server.login("boss", "boss-password")
    r = run_command(boss, f"{ADMIN}#add-user", {"accountjid": "newbie@localhost",
                                                 "password": "first-pw1", "password-verify": "first-pw1"})
    assert r.find(q(NS_COMMANDS, "command")).get("status") == "completed", to_str(r)
    s = server.connect()
    s.login("newbie", "first-pw1")
    r = run_command(boss, f"{ADMIN}#add-user", {"accountjid": "newbie@localhost",
                                                 "password": "x-pw1234", "password-verify": "x-pw1234"})
    assert stanza_error_condition(r) == "conflict"
    r = run_command(boss, f"{ADMIN}#add-user", {"accountjid": "other@localhost",
                                                 "password": "aaaaaa1", "password-verify": "bbbbbb1"})
    assert stanza_error_condition(r) == "not-acceptable"
    r = run_command(boss, f"{ADMIN}#change-user-password", {"accountjid": "newbie@localhost",
                                                             "password": "second-pw2"})
    assert r.find(q(NS_COMMANDS, "command")).get("status") == "completed", to_str(r)
    s2 = server.connect()
    s2.login("newbie", "second-pw2")
    r = run_command(boss, f"{ADMIN}#delete-user", {"accountjids": ["newbie@localhost"]})
    assert r.find(q(NS_COMMANDS, "command")).get("status") == "completed", to_str(r)
    assert s2.stream_error(timeout=5) == "not-authorized"
    r = run_command(boss, f"{ADMIN}#get-registered-users-list")
    x = r.find(f"{q(NS_COMMANDS, 'command')}/{q(NS_DATA, 'x')}")
    assert field_values(x, "registereduserjids") == ["boss@localhost"]


def test_online_users_and_announcement(start_server):
    """XEP-0133 §4.19 (online users) and §4.23 (announce): a headline from the server to
    every available resource."""
    server = admin_server(start_server)
    boss = server.login("boss", "boss-password")
    carol = server.online("carol", "carol-password")
    r = run_command(boss, f"{ADMIN}#get-online-users-list")
    x = r.find(f"{q(NS_COMMANDS, 'command')}/{q(NS_DATA, 'x')}")
    assert field_values(x, "onlineuserjids") == ["boss@localhost", "carol@localhost"]
    r = run_command(boss, f"{ADMIN}#announce", {"subject": "Maintenance",
                                                "announcement": ["Back at 5", "Thanks"]})
    assert r.find(q(NS_COMMANDS, "command")).get("status") == "completed"
    m = carol.wait_for(lambda e: e.get("type") == "headline")
    assert m.get("from") == "localhost"
    assert m.findtext("{jabber:client}body") == "Back at 5\nThanks"
    assert m.findtext("{jabber:client}subject") == "Maintenance"


def test_cancel_and_bad_session(start_server):
    """XEP-0050 §3.4 cancel; §4.6 an unknown session is bad-request + <bad-sessionid/>."""
    server = admin_server(start_server)
    boss = server.login("boss", "boss-password")
    r = run_command(boss, f"{ADMIN}#add-user")
    sid = r.find(q(NS_COMMANDS, "command")).get("sessionid")
    r = boss.iq("set", f"<command xmlns='{NS_COMMANDS}' node='{ADMIN}#add-user' sessionid='{sid}' "
                       "action='cancel'/>", to="localhost")
    assert r.find(q(NS_COMMANDS, "command")).get("status") == "canceled"
    r = boss.iq("set", f"<command xmlns='{NS_COMMANDS}' node='{ADMIN}#add-user' sessionid='{sid}'>"
                       f"{submit({'accountjid': 'x@localhost'})}</command>", to="localhost")
    assert stanza_error_condition(r) == "bad-request"
    assert r.find(f"{{jabber:client}}error/{q(NS_COMMANDS, 'bad-sessionid')}") is not None
    r = run_command(boss, "no-such-node")
    assert stanza_error_condition(r) == "item-not-found"


def test_slixmpp_adhoc(start_server):
    """A real client: slixmpp's XEP-0050 plugin lists the commands and runs one."""
    server = admin_server(start_server)
    server.add_user("dave", "dave-password")

    async def scenario(_loop):
        c = await slix.connect("boss@localhost/slix", "boss-password", server.port)
        c.register_plugin("xep_0050")
        try:
            items = await c["xep_0050"].get_commands("localhost")
            nodes = [i[1] for i in items["disco_items"]["items"]]
            assert f"{ADMIN}#get-registered-users-list" in nodes
            result = await c["xep_0050"].send_command("localhost",
                                                      f"{ADMIN}#get-registered-users-list")
            form = result["command"]["form"]
            assert sorted(form.get_fields()["registereduserjids"].get_value()) == \
                ["boss@localhost", "dave@localhost"]
        finally:
            await slix.disconnect(c)
    slix.run(scenario)
