"""Faults the server must survive without losing what it accepted (DESIGN.md 'Limits and
bad input', 'Storage'): a database locked by another process, a full disk, a stored
backlog far larger than the outbound queue, connections that never finish their TLS
handshake, sessions that go away while their presence is being processed. Each test ends
with: the server is up, a fresh login works, nothing accepted was lost."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from pathlib import Path

from im_helpers import befriend, drain, get_roster, is_message, is_presence, is_push, \
    online, push_item, roster_query, set_item
from xmpp_raw import NS_CLIENT, assert_still_serves, q, stanza_error_condition, to_str, \
    wait_until

PW = "password-123"
BODY = q(NS_CLIENT, "body")


def message(to: str, id_: str, body: str) -> str:
    return f"<message to='{to}' type='chat' id='{id_}'><body>{body}</body></message>"


def error_text(e) -> str:
    err = e.find(q(NS_CLIENT, "error"))
    t = err.find("{urn:ietf:params:xml:ns:xmpp-stanzas}text") if err is not None else None
    return (t.text or "") if t is not None else ""


class DatabaseLock:
    """Another process's write lock on the server's SQLite file (hongyanctl or a backup
    tool would hold it the same way): BEGIN IMMEDIATE until release()."""

    def __init__(self, data_dir: Path) -> None:
        self.con = sqlite3.connect(data_dir / "hongyan.db", isolation_level=None, timeout=10)
        self.con.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.con.execute("COMMIT")
        self.con.close()


def store_offline(server, sender, to_user: str, n: int, size: int, prefix: str = "m") -> None:
    """n chat messages of `size` bytes from `sender` to the offline `to_user`, each
    accepted (no error back: a barrier after each batch shows none came)."""
    for i in range(n):
        sender.send(message(f"{to_user}@localhost", f"{prefix}{i}", f"{i:05d}" + "x" * size))
        if i % 20 == 19:
            sender.no_element()
    sender.no_element()


def read_messages(s, until, timeout: float = 60.0) -> list:
    """Messages arriving on `s` (other elements skipped) until `until(messages)` holds."""
    got = []
    deadline = time.monotonic() + timeout
    while not until(got):
        e = s.next(max(deadline - time.monotonic(), 0.01))
        if e.tag == q(NS_CLIENT, "message"):
            got.append(e)
    return got


# ----- a connection that never completes its TLS handshake -----

def test_silent_direct_tls_connection_closed_at_preauth_timeout(start_server):
    """A connection to the direct-TLS port (XEP-0368) that never sends its ClientHello is
    closed at c2s.preauth_timeout: no stream error can be written before TLS is up, so
    closing must not wait for one."""
    server = start_server({"c2s.preauth_timeout": 1})
    sock = socket.create_connection(("127.0.0.1", server.tls_port), timeout=10)
    sock.settimeout(10)
    start = time.monotonic()
    assert sock.recv(1) == b"", "the server sent data before any TLS handshake"
    assert time.monotonic() - start < 8, "the silent TLS connection outlived the timeout"
    sock.close()
    assert_still_serves(server)


def test_silent_starttls_handshake_closed_at_preauth_timeout(start_server):
    """RFC 6120 §5.4.3.3: after <proceed/> the client must start TLS; one that never does
    is closed at c2s.preauth_timeout, not kept open forever."""
    server = start_server({"c2s.preauth_timeout": 1})
    s = server.connect()
    s.open()
    s.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    s.expect("urn:ietf:params:xml:ns:xmpp-tls", "proceed")
    assert s.wait_closed(8), "the connection stayed open without a TLS handshake"
    assert_still_serves(server)


# ----- a stored backlog far larger than the outbound queue -----

def test_offline_backlog_far_above_queue_limit(start_server):
    """XEP-0160 delivery is flow-controlled: 100 stored messages of 60 KB (6 MB) reach a
    client whose outbound queue limit is 64 KiB, all of them, in order, and the session
    stays up (before, every login was cut off with 'outbound queue full')."""
    server = start_server({"limits.max_outbound_queue": 65536})
    alice = server.login("alice", PW)
    server.ensure_user("bob", PW)
    store_offline(server, alice, "bob", 100, 60_000)
    bob = server.login("bob", PW)
    bob.send("<presence/>")
    got = read_messages(bob, lambda got: len(got) == 100)
    assert [m.get("id") for m in got] == [f"m{i}" for i in range(100)]
    assert all(m.findtext(BODY).startswith(f"{i:05d}") for i, m in enumerate(got))
    bob.no_element(allow=lambda e: e.tag == q(NS_CLIENT, "presence"))
    bob.logout()
    # Delivered means deleted: the next login gets nothing stored.
    bob = server.login("bob", PW)
    bob.send("<presence/>")
    bob.wait_for(is_presence("bob@localhost/test"))
    bob.no_element()


def test_live_message_waits_behind_backlog(start_server):
    """A message sent while the stored backlog is still going out arrives after all of
    it (XEP-0160: stored messages first, in order)."""
    server = start_server({"limits.max_outbound_queue": 65536})
    alice = server.login("alice", PW)
    server.ensure_user("bob", PW)
    store_offline(server, alice, "bob", 40, 50_000)
    bob = server.login("bob", PW)
    bob.send("<presence/>")
    # The backlog is sent as bob reads; bob has not read yet when this one is routed.
    alice.send(message("bob@localhost", "live", "now"))
    alice.no_element()
    got = read_messages(bob, lambda got: got and got[-1].get("id") == "live")
    assert [m.get("id") for m in got] == [f"m{i}" for i in range(40)] + ["live"]


# ----- a database locked by another process -----

def test_locked_database_during_offline_delivery(start_server):
    """A database locked by another process while a user logs in and receives stored
    messages: they arrive, their deletion is retried until the lock goes, the server
    stays up (before, it died with 'database is locked' from the storage thread), and
    the next login gets nothing twice."""
    server = start_server({"storage.busy_timeout": 200})
    alice = server.login("alice", PW)
    server.ensure_user("bob", PW)
    store_offline(server, alice, "bob", 5, 100)
    server.ensure_user("carol", PW)
    lock = DatabaseLock(server.data_dir)
    try:
        bob = server.login("bob", PW)
        bob.send("<presence/>")
        for i in range(5):
            bob.wait_for(is_message(f"m{i}"))
        wait_until(lambda: "deleting a delivered offline message failed, retrying" in server.log(),
                   20, "the server retries the deletion")
        # While locked, a new message for an offline user cannot be stored: the sender
        # is told (RFC 6120 §8.3.3.6), the message is not silently dropped.
        alice.send(message("carol@localhost", "c1", "hello"))
        err = alice.wait_for(lambda e: e.get("id") == "c1", timeout=10)
        assert err.get("type") == "error", to_str(err)
        assert stanza_error_condition(err) == "internal-server-error", to_str(err)
        assert "busy" in error_text(err)
    finally:
        lock.release()
    wait_until(lambda: "deleting a delivered offline message: done after" in server.log(), 40,
               "the retried deletion succeeds once the lock is gone")
    assert server.alive()
    bob.logout()
    bob = server.login("bob", PW)
    bob.send("<presence/>")
    bob.wait_for(is_presence("bob@localhost/test"))
    bob.no_element()
    assert_still_serves(server)


def test_roster_change_fails_whole_on_locked_database(start_server):
    """A roster change the database refuses is answered with <internal-server-error/>
    and leaves no trace: memory changes only after the write commits (the roster fetched
    afterwards does not have it)."""
    server = start_server({"storage.busy_timeout": 200})
    alice = online(server, "alice", PW, "r1")
    lock = DatabaseLock(server.data_dir)
    try:
        r = set_item(alice, "dave@localhost", name="Dave")
        assert r.get("type") == "error", to_str(r)
        assert stanza_error_condition(r) == "internal-server-error"
        roster = roster_query(get_roster(alice))
        assert roster.find(q("jabber:iq:roster", "item")) is None, to_str(roster)
    finally:
        lock.release()
    r = set_item(alice, "dave@localhost", name="Dave")
    assert r.get("type") == "result", to_str(r)


def test_subscription_between_local_users_is_one_transaction(start_server):
    """RFC 6121 §3.1: a subscription request between local users changes both rosters
    or neither: with the database locked the sender gets an error presence and neither
    side's roster shows the request afterwards."""
    server = start_server({"storage.busy_timeout": 200})
    alice = online(server, "alice", PW, "r1")
    bob = online(server, "bob", PW, "r1")
    lock = DatabaseLock(server.data_dir)
    try:
        alice.send("<presence to='bob@localhost' type='subscribe' id='s1'/>")
        err = alice.wait_for(lambda e: e.get("id") == "s1", timeout=10)
        assert err.get("type") == "error", to_str(err)
    finally:
        lock.release()
    for s in (alice, bob):
        roster = roster_query(get_roster(s))
        assert roster.find(q("jabber:iq:roster", "item")) is None, to_str(roster)
    # Nothing reached bob either.
    bob.no_element()


def test_archive_queue_full_while_locked_refuses_then_catches_up(start_server):
    """XEP-0313 with a database locked by another process: the archive's writes wait and
    are retried. What waits is bounded (mam.max_pending); past it a message is refused
    with <resource-constraint/> (RFC 6120 §8.3.3.18: try again later) and not delivered,
    so nothing is delivered unarchived. Once the lock goes, what waited is archived and
    messages flow again."""
    from test_mam import bodies, mam_query

    server = start_server({"storage.busy_timeout": 100, "mam.max_pending": 2})
    alice = server.online("alice", PW, resource="a")
    bob = server.online("bob", PW, resource="b")
    lock = DatabaseLock(server.data_dir)
    try:
        # One message, two archive rows (alice's and bob's): the bound is reached.
        alice.send(message("bob@localhost", "k1", "kept"))
        bob.wait_for(is_message("k1"))
        wait_until(lambda: "failed, retrying" in server.log(), 20,
                   "the archive's write waits for the lock")
        alice.send(message("bob@localhost", "k2", "refused"))
        err = alice.wait_for(lambda e: e.get("id") == "k2", timeout=10)
        assert err.get("type") == "error", to_str(err)
        assert stanza_error_condition(err) == "resource-constraint", to_str(err)
        alice.sync()
        assert "k2" not in [e.get("id") for e in bob.drain()]  # never delivered
    finally:
        lock.release()
    # The retried writes succeed once the lock is gone: both archives have the message.
    wait_until(lambda: all(bodies(mam_query(s)[0]) == ["kept"] for s in (alice, bob)), 60,
               "both archives have the message that waited")
    alice.send(message("bob@localhost", "k3", "flows again"))
    bob.wait_for(is_message("k3"))
    results, _ = mam_query(bob)
    assert bodies(results) == ["kept", "flows again"]


def test_stream_management_acknowledges_only_what_is_archived(start_server):
    """XEP-0198 §4 with the archive's writes held up by a lock: a client's <r/> is answered
    only once the message it counts is in the archive (an <a/> is a promise that nothing
    is lost), and then with the 'h' of the moment it asked."""
    server = start_server({"storage.busy_timeout": 100})
    alice = server.online("alice", PW, resource="a")
    bob = server.online("bob", PW, resource="b")
    alice.send("<enable xmlns='urn:xmpp:sm:3'/>")
    alice.expect("urn:xmpp:sm:3", "enabled")
    lock = DatabaseLock(server.data_dir)
    try:
        alice.send(message("bob@localhost", "s1", "archived later"))
        bob.wait_for(is_message("s1"))
        alice.send("<r xmlns='urn:xmpp:sm:3'/>")
        wait_until(lambda: "failed, retrying" in server.log(), 20,
                   "the archive's write waits for the lock")
        early = alice.sync()
        assert not [e for e in early if e.tag == "{urn:xmpp:sm:3}a"], "acknowledged too early"
    finally:
        lock.release()
    ack = alice.wait_for(lambda e: e.tag == "{urn:xmpp:sm:3}a", timeout=60)
    assert ack.get("h") == "1", to_str(ack)


# ----- a full disk -----

def tiny_disk(data_dir: Path, size: str) -> list[str]:
    """Runs the daemon with its data directory on a tmpfs of `size` in a mount namespace
    of its own (the rest of the machine sees nothing)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ns = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-Urm"]
    return ns + ["sh", "-c", f"mount -t tmpfs -o size={size} tmpfs '{data_dir}' && exec \"$@\"",
                 "hongyand"]


def test_full_disk(start_server, tmp_path):
    """A data directory that really fills up: messages the server can no longer store
    are refused with <internal-server-error/> saying so, every message it accepted before
    is delivered, and the server keeps serving."""
    data = tmp_path / "tiny"
    server = start_server({"storage.busy_timeout": 200}, data_dir=data,
                          wrap=tiny_disk(data, "3m"))
    # The database is only visible inside the server's mount namespace: accounts are
    # made in-band (XEP-0077), not with hongyanctl.
    for user in ("alice", "bob"):
        s = server.connect_secure()
        assert s.register(user, PW).get("type") == "result"
        s.close()
        server.users[user] = PW
    alice = server.login("alice", PW)
    accepted = []
    refused = None
    for i in range(400):
        alice.send(message("bob@localhost", f"m{i}", f"{i:05d}" + "y" * 20_000))
        got = alice.drain()
        errors = [e for e in got if e.get("type") == "error"]
        if errors:
            refused = errors[0]
            break
        accepted.append(f"m{i}")
    assert refused is not None, "the disk never filled up"
    assert stanza_error_condition(refused) == "internal-server-error", to_str(refused)
    assert "full" in error_text(refused), to_str(refused)
    assert len(accepted) > 10
    assert server.alive()
    # A fresh login works on a full disk, and everything accepted is delivered.
    bob = server.login("bob", PW)
    bob.send("<presence/>")
    got = read_messages(bob, lambda got: len(got) == len(accepted), timeout=30)
    assert [m.get("id") for m in got] == accepted
    alice.ping()


# ----- sessions that go away while their presence is processed -----

def test_no_ghost_presence_after_outbound_overflow(start_server):
    """A resource cut off (outbound queue full) while its initial presence waited for
    storage is never shown online to its contacts: before, the presence went out after
    the resource was gone, and contacts saw it online for good."""
    server = start_server({"storage.busy_timeout": 2000, "limits.max_outbound_queue": 65536,
                           "limits.read_rate": 0})
    alice = online(server, "alice", PW, "r1")
    bob = online(server, "bob", PW, "r1")
    befriend(alice, bob, "alice@localhost", "bob@localhost")
    alice.logout()
    alice = server.login("alice", PW, resource="r2")
    carol = server.login("carol", PW)
    dave = server.login("dave", PW)
    lock = DatabaseLock(server.data_dir)
    try:
        # carol's roster write holds the database connection while the lock lasts ...
        carol.send("<iq type='set' id='hold'><query xmlns='jabber:iq:roster'>"
                   "<item jid='x@localhost'/></query></iq>")
        # ... so alice's initial presence waits behind it ...
        alice.send("<presence/>")
        # ... while dave floods her, and she reads nothing: she is cut off. (What dave
        # sends after that bounces back to him, and he does not read either: he may be
        # cut off too.)
        big = "z" * 200_000
        cut = "closed alice@localhost/r2: outbound queue full"
        for i in range(100):
            if cut in server.log():
                break
            try:
                dave.send(f"<message to='alice@localhost/r2' id='f{i}'><body>{big}</body></message>")
            except OSError:
                break
        wait_until(lambda: cut in server.log(), 20, "alice is cut off")
    finally:
        lock.release()
    carol.wait_for(lambda e: e.get("id") == "hold", timeout=10)
    # bob's probe is answered in a job on alice's key, so after her presence job; its
    # answer comes after whatever that job sent bob: a barrier.
    bob.send("<presence type='probe' to='alice@localhost'/>")
    got = []
    while not got or not (is_presence("alice@localhost", None)(got[-1]) or
                          is_presence("alice@localhost/r2", None)(got[-1])):
        got.append(bob.next(timeout=10))
    got += bob.drain()
    # What bob last heard of alice/r2 must not be that it is online (an unavailable after
    # an available is fine: it depends on which of the two jobs the server ran first).
    last = [e for e in got if is_presence("alice@localhost/r2", None)(e)][-1:]
    assert not last or last[0].get("type") == "unavailable", \
        f"bob was shown a resource that is gone: {to_str(last[0])}"
    assert_still_serves(server)


def test_replaced_session_directed_presence_gets_unavailable(start_server):
    """RFC 6121 §4.6.3: who got directed presence from a resource hears when it goes
    unavailable, also when a new session with the same resource replaces it (RFC 6120
    §7.7.2.2)."""
    server = start_server()
    bob = online(server, "bob", PW, "r1")
    alice = server.login("alice", PW, resource="r")
    alice.send("<presence to='bob@localhost/r1'/>")
    bob.wait_for(is_presence("alice@localhost/r"))
    alice2 = server.login("alice", PW, resource="r")
    assert alice.stream_error() == "conflict"
    bob.wait_for(is_presence("alice@localhost/r", "unavailable"))
    alice2.ping()


# ----- account deletion -----

def test_deleted_account_leaves_rosters_and_name_can_be_reused(start_server):
    """Deleting an account removes it from its contacts' rosters (a push, and presence
    saying the subscription is gone), so whoever registers the name again starts with no
    contacts and receives nobody's presence."""
    server = start_server()
    alice = online(server, "alice", PW, "r1")
    bob = online(server, "bob", PW, "r1")
    befriend(alice, bob, "alice@localhost", "bob@localhost")
    bob.send("<iq type='set' id='del'><query xmlns='jabber:iq:register'><remove/></query></iq>")
    bob.wait_for(lambda e: e.get("id") == "del")
    push = alice.wait_for(is_push("bob@localhost"))
    assert push_item(push)[1]["subscription"] == "remove"
    alice.wait_for(is_presence("bob@localhost", "unsubscribed"))
    drain(alice)
    roster = roster_query(get_roster(alice))
    assert all(i.get("jid") != "bob@localhost" for i in roster), to_str(roster)
    # The name is registered again: the new bob has no contacts, and no presence flows.
    r = server.ctl("user", "add", "bob", "-p", "another-pass")
    assert r.returncode == 0, r.stderr
    server.users["bob"] = "another-pass"
    bob2 = online(server, "bob", "another-pass", "r2")
    roster = roster_query(get_roster(bob2))
    assert roster.find(q("jabber:iq:roster", "item")) is None, to_str(roster)
    alice.send("<presence><show>away</show></presence>")
    alice.wait_for(is_presence("alice@localhost/r1"))
    bob2.no_element(allow=lambda e: not is_presence("alice@localhost/r1")(e))
    alice.no_element(allow=lambda e: not is_presence("bob@localhost/r2")(e))


def test_deleted_by_hongyanctl_leaves_rosters(start_server):
    """The same when the operator deletes the account with hongyanctl while the server
    runs: the change feed brings it to online users."""
    server = start_server()
    alice = online(server, "alice", PW, "r1")
    bob = online(server, "bob", PW, "r1")
    befriend(alice, bob, "alice@localhost", "bob@localhost")
    r = server.ctl("user", "del", "bob")
    assert r.returncode == 0, r.stderr
    push = alice.wait_for(is_push("bob@localhost"), timeout=10)
    assert push_item(push)[1]["subscription"] == "remove"
    assert bob.stream_error(timeout=10) == "not-authorized"
    # Registered again at once, in-band: still no leftover contact.
    alice.send("<presence><show>dnd</show></presence>")
    alice.wait_for(is_presence("alice@localhost/r1"))
    s = server.connect_secure()
    assert s.register("bob", "yet-another-pass").get("type") == "result"
    s.close()
    server.users["bob"] = "yet-another-pass"
    bob2 = online(server, "bob", "yet-another-pass", "r2")
    roster = roster_query(get_roster(bob2))
    assert roster.find(q("jabber:iq:roster", "item")) is None, to_str(roster)
    bob2.no_element(allow=lambda e: not is_presence("alice@localhost/r1")(e))


# ----- password hashing off the storage thread -----

def test_password_hashing_does_not_stall_storage(start_server):
    """PBKDF2 for a new password runs on the hashing pool (auth.hash_threads): while a
    registration with a very large auth.scram_iterations is being hashed, other users'
    storage work (here a vCard fetch) is answered (before, both waited on the one
    storage thread)."""
    server = start_server({"auth.scram_iterations": 3_000_000})
    alice = server.login("alice", PW)  # made by hongyanctl, with its own iteration count
    s = server.connect_secure()
    s.send("<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>newbie"
           "</username><password>newbie-password</password></query></iq>")
    r = alice.iq("get", "<vCard xmlns='vcard-temp'/>", timeout=20)
    assert r.get("type") == "result", to_str(r)
    s.poll()
    assert not any(e.get("id") == "reg" for e in s.queue), \
        "the registration finished first: nothing shows the vCard fetch did not wait for it"
    assert s.wait_for(lambda e: e.get("id") == "reg", timeout=120).get("type") == "result"
