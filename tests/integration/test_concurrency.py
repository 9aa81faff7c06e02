"""Several clients at once on a two-thread server: sessions live on different I/O threads
(DESIGN.md 'Threads and ownership'), so routing crosses threads. Order per sender
(RFC 6120 §10.1), conflicts (§7.7.2.2) and a client that does not read."""

import socket
import time
from concurrent.futures import ThreadPoolExecutor

from xmpp_raw import NS_CLIENT, assert_still_serves, q, stanza_error_condition, to_str


def test_messages_between_many_clients_keep_order(server):
    """RFC 6120 §10.1: stanzas from one sender to one recipient arrive in the order sent,
    whichever threads the two sessions live on; nothing is lost or duplicated."""
    n, per_pair = 8, 15
    clients = [server.login(f"user{i}", f"password{i}", resource="r") for i in range(n)]
    for i, c in enumerate(clients):
        burst = []
        for k in range(per_pair):
            for j in ((i + 1) % n, (i + 3) % n):
                burst.append(f"<message to='user{j}@localhost/r' id='{i}-{j}-{k}' type='chat'>"
                             f"<body>{i}:{k}</body></message>")
        c.send("".join(burst))
    # Each sender's barrier: its burst has been routed to the recipients' sessions, so
    # the recipients' own barriers below show any message lost or duplicated.
    for c in clients:
        c.sync()
    for j, c in enumerate(clients):
        got = {}
        for _ in range(2 * per_pair):
            m = c.next(timeout=5)
            assert m.tag == q(NS_CLIENT, "message"), to_str(m)
            sender = int(m.get("from").split("@")[0][4:])
            assert m.get("from") == f"user{sender}@localhost/r"
            got.setdefault(sender, []).append(int(m.findtext(q(NS_CLIENT, "body")).split(":")[1]))
        assert sorted(got) == sorted({(j - 1) % n, (j - 3) % n}), got
        for seq in got.values():
            assert seq == list(range(per_pair)), got
        c.no_element()


def test_parallel_logins(server):
    """Many clients log in at the same time (SCRAM, STARTTLS and direct TLS), each gets
    its own JID and an answer to its ping."""
    n = 16
    for i in range(n):
        server.add_user(f"p{i}", f"password-{i}")

    def one(i):
        s = server.connect(direct_tls=(i % 2 == 1))
        jid = s.login(f"p{i}", f"password-{i}", resource=f"par{i}",
                      mechanism=("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN")[i % 3])
        assert s.ping().get("type") == "result"
        return jid

    with ThreadPoolExecutor(max_workers=n) as pool:
        jids = list(pool.map(one, range(n)))
    assert jids == [f"p{i}@localhost/par{i}" for i in range(n)]


def test_conflict_storm(server):
    """RFC 6120 §7.7.2.2: several sessions binding the same full JID at once: in the end
    exactly one is bound, the others got <conflict/>, and stanzas reach the survivor."""
    server.add_user("alice", "alice-password")
    n = 6
    streams = [server.connect() for _ in range(n)]

    def bind(s):
        s.login("alice", "alice-password", resource="same")
        return s

    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(bind, streams))
    # No wait needed: a session that replaces another hands the old one its <conflict/>
    # (RFC 6120 §7.7.2.2) before it answers its own bind, and every bind has been
    # answered; so each old session has its close queued before it reads our ping.
    alive = []
    for s in streams:
        try:
            r = s.ping()
            if r.get("type") == "result":
                alive.append(s)
        except (AssertionError, OSError):
            pass
    assert len(alive) == 1, f"{len(alive)} sessions still bound to alice@localhost/same"
    for s in streams:
        if s is not alive[0]:
            assert b"<conflict" in s.raw, s.raw[-500:]
    bob = server.login("bob", "bob-password")
    bob.send("<message to='alice@localhost/same' id='storm'><body>who is there?</body></message>")
    m = alive[0].wait_for(lambda e: e.get("id") == "storm")
    assert m.get("from") == "bob@localhost/test"


def test_client_that_does_not_read(start_server):
    """A recipient that never reads is disconnected once limits.max_outbound_queue is
    full (DESIGN.md: a bad client is disconnected, nobody else notices); the sender and
    everyone else keep working."""
    server = start_server({"limits.max_outbound_queue": 65536, "limits.read_rate": 0})
    server.add_user("bob", "bob-password")
    bob = server.connect()
    bob.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    bob.login("bob", "bob-password", resource="slow")
    alice = server.login("alice", "alice-password", resource="fast")
    payload = "z" * 4000
    chunk = "".join(f"<message to='bob@localhost/slow' type='chat'><body>{payload}</body></message>"
                    for _ in range(4))
    deadline = time.monotonic() + 20
    sent = 0
    while time.monotonic() < deadline and "outbound queue" not in server.log():
        alice.send(chunk)
        sent += len(chunk)
        # Alice reads what comes back (nothing, or bounces once bob is gone).
        alice._pump(time.monotonic() + 0.005)
        assert sent < 50_000_000
    assert "outbound queue" in server.log(), "the server never gave up on the reader"
    assert "closed alice" not in server.log()
    assert "closed bob@localhost/slow" in server.log()
    # Alice's own session is unaffected, and bob's full JID is gone from the routing table
    # (RFC 6121 §8.5.3.2.3: an iq to it now gets <service-unavailable/>).
    r = alice.iq("get", "<query xmlns='jabber:iq:version'/>", to="bob@localhost/slow")
    assert stanza_error_condition(r) == "service-unavailable", to_str(r)
    assert alice.ping().get("type") == "result"
    bob.close()
    assert_still_serves(server)


def test_users_coming_online_together_see_each_other_once(start_server):
    """RFC 6121 §4.2: at initial presence the server broadcasts it to the contacts and
    answers the probes of the user's subscriptions. With initial presences handled in
    parallel (docs/architecture.md, "Ordering"), a pair coming up at once must not get each
    other's presence twice (both by broadcast and by probe), nor miss it."""
    n = 24
    server = start_server({"shared_groups.everyone": "Everyone", "server.im_threads": 4})
    for i in range(n):
        server.add_user(f"c{i}", f"password-{i}")
    clients = [server.login(f"c{i}", f"password-{i}", resource="r") for i in range(n)]
    for c in clients:
        c.send("<presence/>")
    # First barrier: every stream's initial presence has been handled to its end; second:
    # everything it handed to other sessions has reached them.
    for c in clients:
        c.sync()
    received = []
    for c in clients:
        received.append([e for e in c.sync() if e.tag == q(NS_CLIENT, "presence")])
    for i, got in enumerate(received):
        froms = sorted(e.get("from") for e in got if e.get("type") is None)
        expected = sorted(f"c{j}@localhost/r" for j in range(n))  # its own broadcast too
        assert froms == expected, (i, froms)
