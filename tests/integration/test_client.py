"""The client library and the `hongyan` command against a running hongyand: registering
(XEP-0077), logging in with the certificate checked (RFC 6120 §5, §6; RFC 7590), the roster
and subscriptions (RFC 6121 §2, §3), presence (§4), chat (§5), the archive (XEP-0313),
carbons (XEP-0280), blocking (XEP-0191), and the exit codes and JSON lines scripts rely on.
The other end is a raw stream, so both directions are checked on the wire."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import ssl
import subprocess
import time
from pathlib import Path
from typing import Optional

import pytest

from conftest import REPO
from im_helpers import befriend, is_presence, online, presence
from xmpp_raw import NS_CLIENT, q

HONGYAN = os.environ.get("HONGYAN", str(REPO / "build" / "hongyan"))
EXAMPLE = os.environ.get("HONGYAN_EXAMPLE_CHAT", str(REPO / "build" / "example-chat"))
EXAMPLE_BLOCKING = os.environ.get("HONGYAN_EXAMPLE_BLOCKING",
                                  str(REPO / "build" / "example-blocking"))

A, AP = "alice", "alice-password"
B, BP = "bob", "bob-password"
AJ, BJ = "alice@localhost", "bob@localhost"


def cert(server) -> str:
    return str(server.data_dir / "tls" / "cert.pem")


def base_args(server, jid: str, trust: bool = True) -> list[str]:
    args = ["--host", "127.0.0.1", "--port", str(server.port), "--jid", jid, "--timeout", "10"]
    return args + (["--trust-cert", cert(server)] if trust else [])


def hy(server, jid: str, *args: str, password: Optional[str] = None, trust: bool = True,
       env: Optional[dict] = None, input: Optional[str] = None, prefix: Optional[list] = None
       ) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("HONGYAN_")}
    e["XDG_CONFIG_HOME"] = str(server.data_dir.parent / "no-config")
    if password is not None:
        e["HONGYAN_PASSWORD"] = password
    e.update(env or {})
    cmd = [HONGYAN] + (prefix if prefix is not None else base_args(server, jid, trust)) + list(args)
    # A session of its own: no controlling terminal, so nothing can prompt for a password.
    return subprocess.run(cmd, capture_output=True, text=True, env=e, input=input, timeout=30,
                          stdin=None if input is not None else subprocess.DEVNULL,
                          start_new_session=True)


def lines(r: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def ok(r: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r


def error_of(r: subprocess.CompletedProcess, code: int) -> dict:
    assert r.returncode == code, f"exit {r.returncode}, wanted {code}\n{r.stdout}\n{r.stderr}"
    out = lines(r)
    assert out and "error" in out[-1], r.stdout
    assert out[-1]["exit"] == code
    return out[-1]["error"]


def test_register_log_in_and_exit_codes(server):
    # XEP-0077 §3.1 through the command; a second time is <conflict/> (exit 7).
    ok(hy(server, AJ, "--json", "register", password=AP))
    err = error_of(hy(server, AJ, "--json", "register", password=AP), 7)
    assert err["condition"] == "conflict"
    # The new account logs in (SCRAM, RFC 6120 §6) and has an empty roster.
    assert lines(ok(hy(server, AJ, "--json", "roster", password=AP))) == []
    # RFC 6120 §6.5.10 <not-authorized/>: exit 5.
    err = error_of(hy(server, AJ, "--json", "roster", password="wrong"), 5)
    assert (err["kind"], err["condition"]) == ("auth", "not-authorized")
    # Nothing listening: exit 3.
    r = hy(server, AJ, "--json", "roster", password=AP,
           prefix=["--host", "127.0.0.1", "--port", "1", "--jid", AJ])
    assert error_of(r, 3)["kind"] == "unreachable"
    # The self-signed certificate is not in the system store: exit 4 (RFC 7590 §3.2).
    err = error_of(hy(server, AJ, "--json", "roster", password=AP, trust=False), 4)
    assert err["kind"] == "certificate"
    # Pinning its SHA-256 trusts exactly it; another fingerprint is refused.
    der = ssl.PEM_cert_to_DER_cert(Path(cert(server)).read_text())
    fp = hashlib.sha256(der).hexdigest()
    ok(hy(server, AJ, "roster", "--fingerprint", fp.upper(), password=AP, trust=False))
    wrong = ("0" if fp[0] != "0" else "1") + fp[1:]
    assert error_of(hy(server, AJ, "--json", "roster", "--fingerprint", wrong, password=AP,
                       trust=False), 4)["condition"] == "fingerprint mismatch"
    # Direct TLS (XEP-0368) on the TLS port.
    r = hy(server, AJ, "roster", password=AP,
           prefix=["--host", "127.0.0.1", "--port", str(server.tls_port), "--tls", "direct",
                   "--trust-cert", cert(server), "--jid", AJ])
    ok(r)
    # Usage mistakes say what to fix: exit 2.
    r = hy(server, AJ, "roster", password=AP, prefix=[])
    assert r.returncode == 2 and "--jid" in r.stderr
    r = hy(server, AJ, "roster", "--tls", "sometimes", password=AP)
    assert r.returncode == 2
    r = hy(server, "not a jid", "roster", password=AP)
    assert r.returncode == 2


def test_password_sources_and_config_file(server, tmp_path):
    server.add_user(A, AP)
    # The first line of a file; the first line a command prints.
    pw_file = tmp_path / "pw"
    pw_file.write_text(AP + "\nignored\n")
    ok(hy(server, AJ, "roster", "--password-file", str(pw_file)))
    ok(hy(server, AJ, "roster", "--password-cmd", f"cat {pw_file}"))
    assert hy(server, AJ, "roster", "--password-cmd", "false").returncode == 2
    # No password anywhere and no terminal to ask on: a usage error, not a hang.
    r = hy(server, AJ, "roster")
    assert r.returncode == 2 and "HONGYAN_PASSWORD" in r.stderr, r.stderr
    # Everything from ~/.config/hongyan/config.toml ($XDG_CONFIG_HOME).
    conf = tmp_path / "xdg" / "hongyan"
    conf.mkdir(parents=True)
    (conf / "config.toml").write_text(
        f'jid = "{AJ}"\nhost = "127.0.0.1"\nport = {server.port}\n'
        f'trust_cert = "{cert(server)}"\npassword_file = "{pw_file}"\n')
    ok(hy(server, AJ, "blocklist", env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")}, prefix=[]))
    (conf / "config.toml").write_text('jid = "alice@localhost"\nport = "many"\n[')
    r = hy(server, AJ, "blocklist", env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")}, prefix=[])
    assert r.returncode == 2 and "config.toml" in r.stderr


def test_roster_subscriptions_and_presence(server):
    server.add_user(A, AP)
    bob = online(server, B, BP, "phone")
    # RFC 6121 §2.3 and §3.1.1: add with a name and groups, and ask to see bob's presence.
    ok(hy(server, AJ, "add", BJ, "--name", "Bob", "-g", "Friends", "-g", "Work", password=AP))
    bob.wait_for(is_presence(AJ, "subscribe"))
    presence(bob, AJ, "subscribed")
    # alice approves bob's request through the command (§3.2).
    presence(bob, AJ, "subscribe")
    ok(hy(server, AJ, "approve", BJ, password=AP))
    bob.wait_for(is_presence(AJ, "subscribed"))
    bob.send("<presence><show>away</show><status>at lunch</status></presence>")
    bob.sync()
    # The roster as JSON, with bob's current presence (§4.3: the server probes for us).
    [item] = lines(ok(hy(server, AJ, "--json", "roster", password=AP)))
    assert item["jid"] == BJ and item["name"] == "Bob"
    assert sorted(item["groups"]) == ["Friends", "Work"]
    assert item["subscription"] == "both" and item["pending_out"] is False
    assert item["presence"] == [{"resource": "phone", "show": "away", "status": "at lunch",
                                 "priority": 0}]
    human = ok(hy(server, AJ, "roster", password=AP)).stdout
    assert BJ in human and "away" in human and "at lunch" in human
    # Unknown contact: exit 6. Known: removed, and bob's subscription goes (§2.5.2).
    err = error_of(hy(server, AJ, "--json", "remove", "carol@localhost", password=AP), 6)
    assert err["condition"] == "item-not-found"
    ok(hy(server, AJ, "remove", BJ, password=AP))
    bob.wait_for(is_presence(AJ, "unsubscribe"))
    assert lines(ok(hy(server, AJ, "--json", "roster", password=AP))) == []
    # deny: refuses a request (§3.2.2).
    presence(bob, AJ, "subscribe")
    ok(hy(server, AJ, "deny", BJ, password=AP))
    bob.wait_for(is_presence(AJ, "unsubscribed"))


def test_send_history_watch_and_carbons(server):
    server.add_user(A, AP)
    bob = online(server, B, BP, "phone")
    # A message from the command reaches bob (RFC 6121 §5); text from stdin too.
    ok(hy(server, AJ, "send", BJ, "hello", "bob", password=AP))
    m = bob.wait_for(lambda e: e.tag == q(NS_CLIENT, "message"))
    assert m.findtext(q(NS_CLIENT, "body")) == "hello bob" and m.get("type") == "chat"
    ok(hy(server, AJ, "send", BJ, password=AP, input="line one\nline two\n"))
    m = bob.wait_for(lambda e: e.tag == q(NS_CLIENT, "message"))
    assert m.findtext(q(NS_CLIENT, "body")) == "line one\nline two"
    bob.send(f"<message to='{AJ}' type='chat' id='b1'><body>hi alice</body></message>")
    bob.sync()
    # The archive, oldest first, with ids that page (XEP-0313 §4.1, XEP-0059 §2).
    out = lines(ok(hy(server, AJ, "--json", "history", BJ, password=AP)))
    msgs = [o for o in out if o["event"] == "message"]
    assert [m["body"] for m in msgs] == ["hello bob", "line one\nline two", "hi alice"]
    assert [m["outgoing"] for m in msgs] == [True, True, False]
    assert all(m["stanza_id"] and m["timestamp"] for m in msgs)
    assert out[-1]["event"] == "page" and out[-1]["last"] == msgs[-1]["stanza_id"]
    last = lines(ok(hy(server, AJ, "--json", "history", BJ, "-n", "1", password=AP)))
    assert [m["body"] for m in last if m["event"] == "message"] == ["hi alice"]
    after = lines(ok(hy(server, AJ, "--json", "history", BJ, "--after", msgs[0]["stanza_id"],
                        password=AP)))
    assert [m["body"] for m in after if m["event"] == "message"] == [m["body"] for m in msgs[1:]]
    before = lines(ok(hy(server, AJ, "--json", "history", BJ, "--before", msgs[1]["stanza_id"],
                         password=AP)))
    assert [m["body"] for m in before if m["event"] == "message"] == ["hello bob"]
    # XEP-0313 §4.3.2: an unknown id is item-not-found: exit 6.
    err = error_of(hy(server, AJ, "--json", "history", BJ, "--before", "no-such-id",
                      password=AP), 6)
    assert err["condition"] == "item-not-found"
    assert hy(server, AJ, "history", BJ, "--since", "yesterday", password=AP).returncode == 2

    # watch: online, and every message and presence as it comes, as JSON lines.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONGYAN_")}
    env.update(HONGYAN_PASSWORD=AP, XDG_CONFIG_HOME=str(server.data_dir.parent / "none"))
    w = subprocess.Popen([HONGYAN] + base_args(server, AJ) + ["--json", "watch"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         stdin=subprocess.DEVNULL)
    try:
        def next_event(kind: str) -> dict:
            for line in w.stdout:
                ev = json.loads(line)
                if ev.get("event") == kind:
                    return ev
            raise AssertionError(f"watch ended before a {kind}: {w.stderr.read()}")
        online_ev = next_event("online")
        assert online_ev["jid"].startswith(AJ + "/")
        bob.send(f"<message to='{AJ}' type='chat' id='b2'><body>are you there?</body></message>")
        ev = next_event("message")
        assert (ev["body"], ev["from"], ev["carbon"]) == ("are you there?", BJ + "/phone", False)
        # A message sent from another of alice's devices shows as a carbon (XEP-0280 §6).
        ok(hy(server, AJ, "send", BJ, "from the laptop", password=AP))
        ev = next_event("message")
        assert (ev["body"], ev["carbon"], ev["outgoing"]) == ("from the laptop", True, True)
        w.terminate()
        assert w.wait(timeout=10) == 0, w.stderr.read()
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()


def test_status_and_block(server):
    server.add_user(A, AP)
    bob = online(server, B, BP, "phone")
    presence(bob, AJ, "subscribe")
    ok(hy(server, AJ, "approve", BJ, password=AP))
    bob.wait_for(is_presence(AJ, "subscribed"))
    # status: alice's resource appears with show and text (RFC 6121 §4.7.2); --count ends
    # it after her own presence came back.
    r = ok(hy(server, AJ, "status", "dnd", "busy", "--count", "1", password=AP))
    p = bob.wait_for(lambda e: e.tag == q(NS_CLIENT, "presence") and e.get("type") is None
                     and (e.get("from") or "").startswith(AJ))
    assert p.findtext(q(NS_CLIENT, "show")) == "dnd"
    assert p.findtext(q(NS_CLIENT, "status")) == "busy"
    assert "dnd" in r.stdout
    # XEP-0191: block, list, a message to the blocked contact refused (§3.5), unblock.
    ok(hy(server, AJ, "block", BJ, password=AP))
    assert lines(ok(hy(server, AJ, "--json", "blocklist", password=AP))) == [{"jid": BJ}]
    err = error_of(hy(server, AJ, "--json", "send", BJ, "hi", password=AP), 7)
    assert err["condition"] == "not-acceptable"
    ok(hy(server, AJ, "unblock", BJ, password=AP))
    assert lines(ok(hy(server, AJ, "--json", "blocklist", password=AP))) == []
    ok(hy(server, AJ, "send", BJ, "hi again", password=AP))
    m = bob.wait_for(lambda e: e.tag == q(NS_CLIENT, "message")
                     and e.findtext(q(NS_CLIENT, "body")) == "hi again")
    assert m is not None


def test_example_program(server):
    """examples/chat.cpp: friends with presence, a message sent, the last messages."""
    server.add_user(A, AP)
    bob = online(server, B, BP, "phone")
    alice = online(server, A, AP, "other")
    befriend(alice, bob, AJ, BJ)
    bob.send(f"<message to='{AJ}' type='chat'><body>earlier</body></message>")
    bob.sync()
    r = subprocess.run([EXAMPLE, AJ, AP, BJ, "hello from the example", cert(server),
                        str(server.port)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert f"{BJ} (, both) online" in r.stdout
    assert "bob@localhost/phone: earlier" in r.stdout
    assert r.stdout.rstrip().endswith("me: hello from the example")
    m = bob.wait_for(lambda e: e.tag == q(NS_CLIENT, "message")
                     and e.findtext(q(NS_CLIENT, "body")) == "hello from the example")
    assert m.get("from").startswith(AJ + "/")


def test_blocking_example_program(server):
    """examples/blocking.cpp: the same calls without coroutines (BlockingClient), and a
    wrong password reported by connect()."""
    server.add_user(A, AP)
    bob = online(server, B, BP, "phone")
    ok(hy(server, AJ, "add", BJ, "--no-subscribe", password=AP))
    r = subprocess.run([EXAMPLE_BLOCKING, AJ, AP, BJ, "hello, blocking", cert(server),
                        str(server.port)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"contact {BJ}", "me: hello, blocking"], r.stdout
    bob.wait_for(lambda e: e.tag == q(NS_CLIENT, "message")
                 and e.findtext(q(NS_CLIENT, "body")) == "hello, blocking")
    r = subprocess.run([EXAMPLE_BLOCKING, AJ, "wrong", BJ, "x", cert(server), str(server.port)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "not-authorized" in r.stderr, r.stderr


def collect_bodies(s, n: int, timeout: float = 20.0) -> list[str]:
    """The bodies of the next `n` chat messages on raw stream `s`."""
    bodies = []
    while len(bodies) < n:
        m = s.wait_for(lambda e: e.tag == q(NS_CLIENT, "message")
                       and e.find(q(NS_CLIENT, "body")) is not None, timeout=timeout)
        bodies.append(m.findtext(q(NS_CLIENT, "body")))
    return bodies


def test_resume_after_a_cut_while_sending(server):
    """XEP-0198 §5: the connection is reset in the middle of a burst of 300 messages; the
    client resumes on a new connection and resends what the server had not acknowledged,
    so each message arrives exactly once."""
    from tcp_proxy import CuttingProxy
    server.add_user(A, AP)
    bob = online(server, B, BP, "phone")
    texts = [f"message {i:03d}" for i in range(300)]
    proxy = CuttingProxy(server.port, cut_after=20000, direction="up")
    try:
        r = ok(hy(server, AJ, "send", BJ, "--each-line", password=AP,
                  input="\n".join(texts) + "\n",
                  prefix=["--host", "127.0.0.1", "--port", str(proxy.port), "--jid", AJ,
                          "--trust-cert", cert(server), "--timeout", "10"]))
        assert proxy.cut.is_set() and proxy.connections == 2, r.stderr
        assert "session resumed" in r.stderr
    finally:
        proxy.close()
    got = collect_bodies(bob, len(texts))
    bob.sync()
    extra = [e for e in bob.drain() if e.tag == q(NS_CLIENT, "message")]
    assert sorted(got) == texts and not extra, (len(got), len(set(got)), len(extra))


def test_resume_after_a_cut_while_receiving(server):
    """The server's side of the same: 300 messages to a `hongyan watch` whose connection
    is reset mid-stream; after the resume the server resends what was not acknowledged
    and the client counts what it handled, so each is shown exactly once (XEP-0198 §4, §5)."""
    from tcp_proxy import CuttingProxy
    server.add_user(A, AP)
    bob = online(server, B, BP, "phone")
    proxy = CuttingProxy(server.port, cut_after=30000, direction="down")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONGYAN_")}
    env.update(HONGYAN_PASSWORD=AP, XDG_CONFIG_HOME=str(server.data_dir.parent / "none"))
    n = 300
    w = subprocess.Popen([HONGYAN, "--host", "127.0.0.1", "--port", str(proxy.port), "--jid",
                          AJ, "--trust-cert", cert(server), "--json", "watch", "-c",
                          str(n + 1)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env, stdin=subprocess.DEVNULL)
    try:
        events = []
        for line in w.stdout:
            ev = json.loads(line)
            if ev.get("event") == "online":
                # Directed at the watch's own resource: the full JID, so no other rule
                # (priority, carbons) decides where they go.
                for i in range(n):
                    bob.send(f"<message to='{ev['jid']}' type='chat'>"
                             f"<body>to alice {i:03d}</body></message>")
                continue
            events.append(ev)
            if len([e for e in events if e.get("event") == "message"]) == n:
                break
        # -c n+1: its own presence and the n messages; it ends by itself.
        assert w.wait(timeout=10) == 0
        stderr = w.stderr.read()
        bodies = [e["body"] for e in events if e.get("event") == "message"]
        assert sorted(bodies) == [f"to alice {i:03d}" for i in range(n)], stderr
        assert proxy.cut.is_set() and "session resumed" in stderr, stderr
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()
        proxy.close()


def test_reconnect_after_a_restart_restores_the_session(start_server):
    """The server restarts, so the session cannot be resumed (XEP-0198 §5 <failed/>): the
    client comes back after a jittered, growing delay with a new session, its presence
    (RFC 6121 §4.2) and carbons (XEP-0280) as they were."""
    from tcp_proxy import CuttingProxy
    first = start_server()
    first.add_user(A, AP)
    first.add_user(B, BP)
    befriend(online(first, A, AP, "other"), online(first, B, BP, "phone"), AJ, BJ)
    proxy = CuttingProxy(first.port, cut_after=1 << 40, direction="down")  # never cuts
    env = {k: v for k, v in os.environ.items() if not k.startswith("HONGYAN_")}
    env.update(HONGYAN_PASSWORD=AP, XDG_CONFIG_HOME=str(first.data_dir.parent / "none"))
    w = subprocess.Popen([HONGYAN, "--host", "127.0.0.1", "--port", str(proxy.port), "--jid",
                          AJ, "--trust-cert", cert(first), "--json", "watch", "--show", "away"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         stdin=subprocess.DEVNULL)
    try:
        for line in w.stdout:
            if json.loads(line).get("event") == "online":
                break
        proxy.target_port = None  # new connections wait for the new server's port
        second = start_server(after=first)
        proxy.target_port = second.port
        bob = online(second, B, BP, "phone")
        # The watch's new resource is available again, away as before.
        p = bob.wait_for(lambda e: e.tag == q(NS_CLIENT, "presence") and e.get("type") is None
                         and (e.get("from") or "").startswith(AJ + "/hongyan"), timeout=20)
        assert p.findtext(q(NS_CLIENT, "show")) == "away"
        # Carbons are on again: a message from alice's other device shows in the watch.
        other = online(second, A, AP, "other")
        other.send(f"<message to='{BJ}' type='chat'><body>after the restart</body></message>")
        for line in w.stdout:
            ev = json.loads(line)
            if ev.get("event") == "message" and ev["body"] == "after the restart":
                assert ev["carbon"] and ev["outgoing"]
                break
        else:
            raise AssertionError("the watch ended: " + w.stderr.read())
        w.terminate()
        assert w.wait(timeout=10) == 0
        assert "new session" in w.stderr.read()
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()
        proxy.close()


class Tmux:
    """A terminal for `hongyan chat`: a tmux server of the test's own (its socket in the
    test's directory), one pane, driven with send-keys and read with capture-pane."""

    def __init__(self, sock: Path, command: str) -> None:
        self.sock = str(sock)
        subprocess.run(["tmux", "-u", "-S", self.sock, "new-session", "-d", "-s", "t", "-x",
                        "100", "-y", "25", command, ";", "set-option", "-t", "t",
                        "remain-on-exit", "on"], check=True)

    def keys(self, *keys: str, literal: bool = False) -> None:
        subprocess.run(["tmux", "-S", self.sock, "send-keys", "-t", "t"]
                       + (["-l"] if literal else []) + list(keys), check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "-S", self.sock, "capture-pane", "-p", "-t", "t"],
                              check=True, capture_output=True, text=True).stdout

    def display(self, fmt: str) -> str:
        return subprocess.run(["tmux", "-S", self.sock, "display-message", "-p", "-t", "t",
                               fmt], check=True, capture_output=True, text=True).stdout.strip()

    def wait_screen(self, pred, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if pred(text):
                return text
            assert time.monotonic() < deadline, "screen never matched:\n" + text
            time.sleep(0.05)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_chat_in_a_terminal(server, tmp_path):
    """`hongyan chat` as a person uses it, in a terminal (tmux): the history on open
    (XEP-0313) without the offline copy of the same message twice, a message arriving
    while a line is half typed (the line stays), line editing, UTF-8, and /quit."""
    server.add_user(A, AP)
    bob = online(server, B, BP, "phone")
    bob.send(f"<message to='{AJ}' type='chat'><body>earlier message</body></message>")
    bob.sync()
    env = (f"env -i PATH=/usr/bin:/bin LANG=C.UTF-8 TERM=xterm HONGYAN_PASSWORD={AP} "
           f"XDG_CONFIG_HOME={tmp_path / 'none'}")
    args = " ".join(base_args(server, AJ))
    status = tmp_path / "status"
    t = Tmux(tmp_path / "tmux.sock", f"{env} {HONGYAN} {args} chat {BJ}; echo $? > {status}")
    try:
        prompt = f"{BJ}> "
        screen = t.wait_screen(lambda s: "earlier message" in s and prompt.rstrip() in s)
        # Shown once: from the archive, not again as the offline message.
        assert screen.count("earlier message") == 1, screen
        assert f" {BJ}: earlier message" in screen

        def last_line(s: str) -> str:
            return [line for line in s.splitlines() if line.strip()][-1]

        t.keys("half typed", literal=True)
        t.wait_screen(lambda s: last_line(s) == prompt + "half typed")
        bob.send(f"<message to='{AJ}' type='chat'><body>while you type</body></message>")
        screen = t.wait_screen(lambda s: "while you type" in s)
        assert last_line(screen) == prompt + "half typed", screen
        # ^U clears the line; arrows move by characters.
        t.keys("C-u")
        t.keys("wrld", literal=True)
        t.keys("Left", "Left", "Left")
        t.keys("o", literal=True)
        t.keys("Enter")
        got = bob.wait_for(lambda e: e.tag == q(NS_CLIENT, "message")
                           and e.findtext(q(NS_CLIENT, "body")) is not None)
        assert got.findtext(q(NS_CLIENT, "body")) == "world"
        t.wait_screen(lambda s: " me: world" in s)
        t.keys("你好 Hongyan", literal=True)
        t.keys("Enter")
        got = bob.wait_for(lambda e: e.tag == q(NS_CLIENT, "message")
                           and e.findtext(q(NS_CLIENT, "body")) is not None)
        assert got.findtext(q(NS_CLIENT, "body")) == "你好 Hongyan"
        t.keys("/quit", literal=True)
        t.keys("Enter")
        # The command's exit status, written by the shell around it.
        t.wait_screen(lambda s: status.exists() and status.read_text().strip() != "")
        assert status.read_text().strip() == "0"
    finally:
        t.close()


def test_vcard(server, tmp_path):
    """XEP-0054: `hongyan vcard` publishes our card (§3.3) and reads anyone's (§3.2); a
    change keeps the fields the command does not know, and the photo (XEP-0153) comes
    back byte for byte."""
    server.add_user(A, AP)
    server.add_user(B, BP)
    raw = online(server, A, AP, "raw")
    r = raw.iq("set", "<vCard xmlns='vcard-temp'><BDAY>1990-01-02</BDAY><FN>Old</FN></vCard>")
    assert r.get("type") == "result"
    photo = tmp_path / "me.png"
    photo.write_bytes(bytes(range(256)) * 3)
    mine = lines(ok(hy(server, AJ, "--json", "vcard", "--name", "Alice Liddell", "--nick",
                       "alice", "--email", "alice@example.org", "--photo", str(photo),
                       password=AP)))[0]
    assert (mine["jid"], mine["full_name"], mine["nickname"], mine["email"],
            mine["photo_type"], mine["photo_bytes"]) == \
        (AJ, "Alice Liddell", "alice", "alice@example.org", "image/png", 768)
    # Bob reads it (§3.2: to the bare JID) and saves the photo.
    saved = tmp_path / "saved.png"
    theirs = lines(ok(hy(server, BJ, "--json", "vcard", AJ, "--save-photo", str(saved),
                         password=BP)))[0]
    assert theirs["full_name"] == "Alice Liddell" and theirs["nickname"] == "alice"
    assert saved.read_bytes() == photo.read_bytes()
    # An empty value removes the field; BDAY, unknown to the command, is still there.
    ok(hy(server, AJ, "vcard", "--name", "", password=AP))
    card = raw.iq("get", "<vCard xmlns='vcard-temp'/>").find("{vcard-temp}vCard")
    assert card.findtext("{vcard-temp}BDAY") == "1990-01-02"
    assert card.find("{vcard-temp}FN") is None
    assert card.findtext("{vcard-temp}NICKNAME") == "alice"
    # Someone else's card cannot be changed (exit 2); a user without one has an empty card.
    assert hy(server, AJ, "vcard", BJ, "--nick", "x", password=AP).returncode == 2
    empty = lines(ok(hy(server, AJ, "--json", "vcard", BJ, password=AP)))[0]
    assert empty["full_name"] == "" and empty["photo_bytes"] == 0
