"""The client library and `hongyan` against another server: Debian's Prosody, started by
the test (prosody_server.py). Registering (XEP-0077), logging in (RFC 6120 §6), the roster
and subscriptions (RFC 6121 §2, §3), chat and offline delivery (§5, XEP-0160), the archive
(XEP-0313), rooms (XEP-0045 §7: create, join with history, occupants, messages, leave),
and a cut connection in a room: resumed (XEP-0198 §5, then a self-ping, XEP-0410 §3) or,
without stream management, a new session that joins the room again and gets what it
missed (XEP-0045 §7.2.14 since)."""

from __future__ import annotations

import json
import os
import subprocess
import threading

import pytest

from prosody_server import PROSODY, Prosody
from test_client import HONGYAN, cert, error_of, hy, lines, ok

pytestmark = pytest.mark.skipif(PROSODY is None, reason="prosody is not installed "
                                "(scripts/install-deps.sh --test installs it)")

AJ, AP = "alice@localhost", "alice-password"
BJ, BP = "bob@localhost", "bob-password"
ROOM = "tea@conference.localhost"


@pytest.fixture
def prosody(tmp_path):
    p = Prosody(tmp_path)
    yield p
    p.stop()


def register_both(p) -> None:
    ok(hy(p, AJ, "register", password=AP))
    ok(hy(p, BJ, "register", password=BP))


class Watcher:
    """A `hongyan --json` command left running (join, watch): its JSON lines are read on a
    thread, and the test waits for the one it needs."""

    def __init__(self, server, jid: str, password: str, *args: str, port=None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HONGYAN_")}
        env.update(HONGYAN_PASSWORD=password, XDG_CONFIG_HOME=str(server.data_dir / "none"))
        self.proc = subprocess.Popen(
            [HONGYAN, "--host", "127.0.0.1", "--port", str(port or server.port), "--jid", jid,
             "--trust-cert", cert(server), "--timeout", "10", "--json", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            stdin=subprocess.DEVNULL)
        self.events: list[dict] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self.cond:
                self.events.append(json.loads(line))
                self.cond.notify_all()
        with self.cond:
            self.events.append({"event": "eof"})
            self.cond.notify_all()

    def wait_for(self, pred, timeout: float = 20.0) -> dict:
        with self.cond:
            found = []
            ok_ = self.cond.wait_for(lambda: found.extend(e for e in self.events if pred(e))
                                     or found or any(e["event"] == "eof" for e in self.events
                                                     if "event" in e), timeout)
            assert ok_ and found, f"not seen; events: {self.events}\n{self.stderr_now()}"
            return found[0]

    def count(self, pred) -> int:
        with self.cond:
            return len([e for e in self.events if pred(e)])

    def stderr_now(self) -> str:
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read()

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.terminate()
        rc = self.proc.wait(timeout=15)
        return rc, self.proc.stderr.read()


def is_msg(body: str):
    return lambda e: e.get("event") == "message" and e.get("body") == body


def test_login_roster_chat_and_history(prosody):
    register_both(prosody)
    # XEP-0077 §3.1 on Prosody: an existing account is <conflict/>, exit 7.
    assert error_of(hy(prosody, AJ, "--json", "register", password=AP), 7)["condition"] \
        == "conflict"
    # RFC 6120 §6.5.10: exit 5 for a wrong password.
    error_of(hy(prosody, AJ, "--json", "roster", password="wrong"), 5)
    # RFC 6121 §3.1: both ask, both approve (approving first is a pre-approval, §3.4).
    ok(hy(prosody, AJ, "add", BJ, "--name", "Bob", "-g", "Friends", password=AP))
    ok(hy(prosody, BJ, "approve", AJ, password=BP))
    ok(hy(prosody, BJ, "add", AJ, password=BP))
    ok(hy(prosody, AJ, "approve", BJ, password=AP))
    roster = lines(ok(hy(prosody, AJ, "--json", "roster", "--presence-wait", "0",
                         password=AP)))
    assert [(r["jid"], r["name"], r["groups"], r["subscription"]) for r in roster] == \
        [(BJ, "Bob", ["Friends"], "both")]
    # Bob is offline: Prosody stores the message (XEP-0160) and archives it (XEP-0313).
    ok(hy(prosody, AJ, "send", BJ, "hello from hongyan", password=AP))
    mine = lines(ok(hy(prosody, AJ, "--json", "history", BJ, password=AP)))
    assert [(m["body"], m["outgoing"]) for m in mine if m.get("event") == "message"] == \
        [("hello from hongyan", True)]
    theirs = lines(ok(hy(prosody, BJ, "--json", "history", AJ, password=BP)))
    assert [(m["body"], m["outgoing"]) for m in theirs if m.get("event") == "message"] == \
        [("hello from hongyan", False)]
    # Coming online, Bob gets it (RFC 6121 §8.5.2.1.1 offline delivery).
    w = Watcher(prosody, BJ, BP, "watch", "-c", "10")
    try:
        w.wait_for(is_msg("hello from hongyan"))
    finally:
        w.stop()


def test_rooms(prosody):
    register_both(prosody)
    alice = Watcher(prosody, AJ, AP, "join", ROOM, "--nick", "Alice")
    try:
        joined = alice.wait_for(lambda e: e.get("event") == "joined")
        # XEP-0045 §10.1.2: a new room, made an instant room so others may join.
        assert joined["created"] and joined["nick"] == "Alice"
        # §7.2, §7.4, §7.14 through `send --room`: Bob joins, speaks, leaves.
        ok(hy(prosody, BJ, "send", "--room", ROOM, "--nick", "Bob", "tea?", password=BP))
        m = alice.wait_for(is_msg("tea?"))
        assert m["type"] == "groupchat" and m["from"] == ROOM + "/Bob"
        alice.wait_for(lambda e: e.get("event") == "occupant" and e["nick"] == "Bob"
                       and not e["present"])
        # Bob joins again and gets the history (§7.2.14) and sees who is there (§7.2.3).
        bob = Watcher(prosody, BJ, BP, "join", ROOM, "--nick", "Bob", "-n", "5")
        try:
            bob.wait_for(lambda e: e.get("event") == "joined" and not e["created"])
            with bob.cond:
                before = bob.events[:bob.events.index(next(
                    e for e in bob.events if e.get("event") == "joined"))]
            assert [e["body"] for e in before if e.get("event") == "message"] == ["tea?"]
            assert any(e.get("event") == "occupant" and e["nick"] == "Alice" and
                       e["role"] == "moderator" for e in before), before
            assert [e["timestamp"] != "" for e in before if e.get("event") == "message"] == \
                [True]
            alice.wait_for(lambda e: e.get("event") == "occupant" and e["nick"] == "Bob"
                           and e["present"] and e["role"] == "participant"
                           and alice.count(is_msg("tea?")) == 1)
        finally:
            assert bob.stop()[0] == 0
        # A nick in use is <conflict/> (§7.2.9), exit 7.
        err = error_of(hy(prosody, BJ, "--json", "send", "--room", ROOM, "--nick", "Alice",
                          "x", password=BP), 7)
        assert err["condition"] == "conflict" and err["step"] == "join"
    finally:
        rc, stderr = alice.stop()
        assert rc == 0, stderr


@pytest.mark.parametrize("smacks", [True, False], ids=["resumed", "new-session"])
def test_room_after_a_cut_connection(tmp_path, smacks):
    """The connection of a client in a room is reset. With stream management the session
    resumes and a self-ping (XEP-0410 §3.2) shows the client is still an occupant; without
    it the client binds a new session and joins the room again asking for the history since
    the last message it saw (XEP-0045 §7.2.14). Either way the message sent while it was
    away arrives once, and the room's messages keep coming."""
    from tcp_proxy import CuttingProxy
    p = Prosody(tmp_path, smacks=smacks)
    proxy = CuttingProxy(p.port, cut_after=1 << 40, direction="down")
    alice = None
    try:
        register_both(p)
        alice = Watcher(p, AJ, AP, "join", ROOM, "--nick", "Alice", port=proxy.port)
        alice.wait_for(lambda e: e.get("event") == "joined")
        bob = Watcher(p, BJ, BP, "join", ROOM, "--nick", "Bob")
        bob.wait_for(lambda e: e.get("event") == "joined")
        alice.wait_for(lambda e: e.get("event") == "occupant" and e["nick"] == "Bob")
        proxy.target_port = None  # the client's new connections wait
        proxy.cut_now()
        if not smacks:
            # Prosody saw the connection end and took Alice out of the room (§7.14).
            bob.wait_for(lambda e: e.get("event") == "occupant" and e["nick"] == "Alice"
                         and not e["present"])
        ok(hy(p, BJ, "send", "--room", ROOM, "--nick", "Bob2", "while you were away",
              password=BP))
        proxy.target_port = p.port
        alice.wait_for(is_msg("while you were away"))
        if not smacks:
            bob.wait_for(lambda e: e.get("event") == "occupant" and e["nick"] == "Alice"
                         and e["present"])
        ok(hy(p, BJ, "send", "--room", ROOM, "--nick", "Bob3", "and now", password=BP))
        alice.wait_for(is_msg("and now"))
        assert alice.count(is_msg("while you were away")) == 1
        assert bob.stop()[0] == 0
        rc, stderr = alice.stop()
        assert rc == 0, stderr
        assert ("session resumed" if smacks else "new session") in stderr, stderr
    finally:
        if alice and alice.proc.poll() is None:
            alice.proc.kill()
        proxy.close()
        p.stop()
