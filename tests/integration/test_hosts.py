"""Virtual hosts: one server serving two domains ([[hosts]] tables), each with its own
accounts, rosters, shared groups, registration policy and certificate (SNI, RFC 6066 §3),
and users of the two chatting, subscribing and seeing each other's presence as users of
two servers would (RFC 6121 §3, §4, §5). `hongyanctl --domain` manages either."""

from __future__ import annotations

import asyncio

import slix
import xmpp_raw
from im_helpers import (befriend, drain, expect_all, get_roster, is_message, is_presence,
                        items, roster_query, wait_keep)
from xmpp_raw import stanza_error_condition

OTHER = "example.test"
CONFIG = f"""
[shared_groups]
everyone = "Everyone at localhost"

[[hosts]]
domain = "{OTHER}"
shared_groups.everyone = "Everyone at {OTHER}"
register.policy = "closed"
"""


def start(start_server):
    return start_server(config=CONFIG)


def login_at(server, domain: str, user: str, resource: str = "r") -> xmpp_raw.XmppStream:
    """A stream to `domain` (its 'to' and its SNI name), logged in as user@domain."""
    s = server.connect()
    s.to = domain
    s.login(user, f"{user}-password", resource=resource)
    return s


def online_at(server, domain: str, user: str, resource: str = "r") -> xmpp_raw.XmppStream:
    s = login_at(server, domain, user, resource)
    get_roster(s)
    s.send("<presence/>")
    wait_keep(s, is_presence(f"{user}@{domain}/{resource}"))
    return s


def add(server, jid: str) -> None:
    r = server.ctl("user", "add", jid, "-p", f"{jid.split('@')[0]}-password")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"created {jid}" in r.stdout


def test_each_host_sees_only_its_own_everyone_group(start_server):
    server = start(start_server)
    add(server, "alice@localhost")
    add(server, "bob@localhost")
    add(server, f"carol@{OTHER}")
    # --domain picks the host for a bare username too.
    r = server.ctl("--domain", OTHER, "user", "add", "dave", "-p", "dave-password")
    assert r.returncode == 0 and f"created dave@{OTHER}" in r.stdout, r.stdout + r.stderr
    alice = online_at(server, "localhost", "alice")
    carol = online_at(server, OTHER, "carol")
    mine = items(roster_query(get_roster(alice)))
    assert set(mine) == {"bob@localhost"}, mine
    assert mine["bob@localhost"]["groups"] == ["Everyone at localhost"]
    theirs = items(roster_query(get_roster(carol)))
    assert set(theirs) == {f"dave@{OTHER}"}, theirs
    assert theirs[f"dave@{OTHER}"]["groups"] == [f"Everyone at {OTHER}"]
    # Each host's account list is its own.
    r = server.ctl("--domain", OTHER, "user", "list")
    assert r.stdout.split() == [f"carol@{OTHER}", f"dave@{OTHER}"], r.stdout
    r = server.ctl("user", "list")
    assert r.stdout.split() == ["alice@localhost", "bob@localhost"], r.stdout


def test_the_same_name_on_two_hosts_is_two_accounts(start_server):
    server = start(start_server)
    add(server, "alice@localhost")
    r = server.ctl("user", "add", f"alice@{OTHER}", "-p", "another-password")
    assert r.returncode == 0, r.stderr
    s = server.connect()
    s.to = OTHER
    s.open()
    s.starttls()
    failure = s.auth("alice", "alice-password")  # the localhost account's password
    assert xmpp_raw.local_name(failure.tag) == "failure", xmpp_raw.to_str(failure)
    s2 = server.connect()
    s2.to = OTHER
    assert s2.login("alice", "another-password") == f"alice@{OTHER}/test"
    assert login_at(server, "localhost", "alice").jid == "alice@localhost/r"


def test_chat_between_hosts_with_slixmpp(start_server):
    """Two slixmpp clients, one per domain, chat both ways (RFC 6121 §5)."""
    server = start(start_server)
    add(server, "alice@localhost")
    add(server, f"carol@{OTHER}")

    async def scenario(loop):
        alice = await slix.connect("alice@localhost/phone", "alice-password", server.port)
        carol = await slix.connect(f"carol@{OTHER}/desk", "carol-password", server.port)
        got_carol: asyncio.Queue = asyncio.Queue()
        got_alice: asyncio.Queue = asyncio.Queue()
        carol.add_event_handler("message", lambda m: got_carol.put_nowait(m))
        alice.add_event_handler("message", lambda m: got_alice.put_nowait(m))
        alice.send_message(mto=f"carol@{OTHER}/desk", mbody="hello from localhost", mtype="chat")
        m = await asyncio.wait_for(got_carol.get(), 5)
        assert m["body"] == "hello from localhost" and str(m["from"]) == "alice@localhost/phone"
        carol.send_message(mto=m["from"], mbody="hello back", mtype="chat")
        m = await asyncio.wait_for(got_alice.get(), 5)
        assert m["body"] == "hello back" and str(m["from"]) == f"carol@{OTHER}/desk"
        await slix.disconnect(alice)
        await slix.disconnect(carol)

    slix.run(scenario)


def test_offline_message_to_another_host_waits_for_the_user(start_server):
    """A message for a user of the other host who is offline is stored on that host
    (XEP-0160) and delivered at their next login."""
    server = start(start_server)
    add(server, "alice@localhost")
    add(server, f"carol@{OTHER}")
    alice = online_at(server, "localhost", "alice")
    alice.send(f"<message to='carol@{OTHER}' type='chat' id='m1'><body>later</body></message>")
    alice.ping()  # barrier: the message was routed and stored before the answer
    carol = login_at(server, OTHER, "carol")
    carol.send("<presence/>")
    m = carol.wait_for(is_message("m1"))
    assert m.findtext(xmpp_raw.q(xmpp_raw.NS_CLIENT, "body")) == "later"


def test_subscription_and_presence_between_hosts(start_server):
    """RFC 6121 §3.1 between users of two hosts: both sides' rosters end at 'both', and
    presence then flows both ways, including unavailable (§4.5)."""
    server = start(start_server)
    add(server, "alice@localhost")
    add(server, f"carol@{OTHER}")
    alice = online_at(server, "localhost", "alice")
    carol = online_at(server, OTHER, "carol")
    drain(alice)
    drain(carol)
    befriend(alice, carol, "alice@localhost", f"carol@{OTHER}")
    mine = items(roster_query(get_roster(alice)))
    assert mine[f"carol@{OTHER}"]["subscription"] == "both", mine
    theirs = items(roster_query(get_roster(carol)))
    assert theirs["alice@localhost"]["subscription"] == "both", theirs
    # A new resource of carol's: alice sees it come and go.
    carol2 = online_at(server, OTHER, "carol", resource="tablet")
    alice.wait_for(is_presence(f"carol@{OTHER}/tablet"))
    carol2.send("<presence type='unavailable'/>")
    alice.wait_for(is_presence(f"carol@{OTHER}/tablet", "unavailable"))
    # At login, alice's probes (§4.3) reach the other host and are answered.
    alice.logout()
    alice2 = server.connect()
    alice2.login("alice", "alice-password", resource="again")
    alice2.send("<presence/>")
    expect_all(alice2, [is_presence(f"carol@{OTHER}/r")])


def test_presence_to_a_missing_user_of_another_host_is_declined(start_server):
    """§3.1.3: a subscription request for an account that does not exist is answered
    with 'unsubscribed' by the other host."""
    server = start(start_server)
    add(server, "alice@localhost")
    alice = online_at(server, "localhost", "alice")
    alice.send(f"<presence to='nobody@{OTHER}' type='subscribe'/>")
    alice.wait_for(is_presence(f"nobody@{OTHER}", "unsubscribed"))


def test_registration_policy_is_per_host(start_server):
    """register.policy = "closed" in the [[hosts]] table closes registration there only."""
    server = start(start_server)
    s = server.connect()
    s.to = OTHER
    s.open()
    s.starttls()
    answer = s.register("newbie", "newbie-password")
    assert answer.get("type") == "error" and stanza_error_condition(answer) == "not-allowed"
    s2 = server.connect_secure()
    assert s2.register("newbie", "newbie-password").get("type") == "result"


def test_unknown_domain_is_host_unknown(start_server):
    """RFC 6120 §4.9.3.6: a stream to a domain not hosted here."""
    server = start(start_server)
    s = server.connect()
    s.send(xmpp_raw.stream_header(to="nowhere.test"))
    assert s.stream_error() == "host-unknown"


def test_each_host_has_its_own_certificate(start_server):
    """SNI picks the certificate of the named host (generated for it at first start)."""
    server = start(start_server)
    for domain in ("localhost", OTHER):
        s = server.connect()
        s.to = domain
        s.open()
        s.starttls()
        der = s.sock.getpeercert(binary_form=True)
        assert domain.encode() in der, f"certificate for {domain} does not name it"
        other = OTHER if domain == "localhost" else "localhost"
        if other != "localhost":  # "localhost" is a substring of nothing else here
            assert other.encode() not in der
    assert (server.data_dir / "hosts" / OTHER / "tls" / "cert.pem").exists()


def test_host_table_rejects_server_wide_keys(tmp_path):
    """A [[hosts]] table may set only host-scoped keys; the error names the key."""
    from conftest import run_ctl
    cfg = tmp_path / "bad.toml"
    cfg.write_text(f'[[hosts]]\ndomain = "{OTHER}"\nc2s.port = 5333\n')
    r = run_ctl("--config", str(cfg), "config", "check", data_dir=tmp_path)
    assert r.returncode == 2 and "c2s.port" in r.stderr and OTHER in r.stderr, r.stderr
    cfg.write_text('[[hosts]]\ndomain = "localhost"\n')
    r = run_ctl("--config", str(cfg), "config", "check", data_dir=tmp_path)
    assert r.returncode == 2 and "hosted twice" in r.stderr, r.stderr
    cfg.write_text(f'[[hosts]]\ndomain = "{OTHER}"\n')
    r = run_ctl("--config", str(cfg), "--domain", "nowhere.test", "user", "list",
                data_dir=tmp_path)
    assert r.returncode == 2 and "does not host nowhere.test" in r.stderr, r.stderr
