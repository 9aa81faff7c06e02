"""Configuration of hongyand: errors are reported at start with the key's name and exit
code 2 (STYLE.md 'typed config per module'); valid settings take effect."""

import socket

import pytest

from conftest import run_daemon
from xmpp_raw import (NS_DISCO_INFO, NS_PING, NS_SASL, assert_still_serves, q,
                      stanza_error_condition, stream_header)


def daemon(tmp_path, *args):
    # A harmless base: if a case wrongly starts the server, it binds nothing useful.
    return run_daemon("--set", f"server.data_dir={tmp_path / 'd'}", "--set", "c2s.address=127.0.0.1",
                      *args, timeout=10)


# ----- bad values -----

@pytest.mark.parametrize("setting,key,hint", [
    ("c2s.port=abc", "c2s.port", "integer"),
    ("c2s.port=70000", "c2s.port", "65535"),
    ("c2s.port=-1", "c2s.port", ""),
    ("c2s.port=", "c2s.port", ""),
    ("limits.max_stanza_size=100", "limits.max_stanza_size", "1024"),
    ("server.threads=many", "server.threads", ""),
    ("c2s.require_tls=maybe", "c2s.require_tls", "true or false"),
    ("register.policy=sometimes", "register.policy", "open"),
    ("log.level=loud", "log.level", "debug"),
    ("auth.mechanisms=PLAIN,DIGEST-MD5", "auth.mechanisms", "SCRAM-SHA-256"),
    ("tls.min_version=1.0", "tls.min_version", "1.2"),
    ("server.domain=not a domain!", "server.domain", ""),
])
def test_bad_value_exits_2_naming_key(tmp_path, setting, key, hint):
    """A bad value: exit code 2, and stderr names the key (and what it expects)."""
    r = daemon(tmp_path, "--set", setting)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert key in r.stderr, r.stderr
    assert hint in r.stderr, r.stderr
    assert not (tmp_path / "d").exists(), "nothing is created for a bad configuration"


@pytest.mark.parametrize("typo,right", [
    ("c2s.prot", "c2s.port"),
    ("c2s.tls-port", "c2s.tls_port"),
    ("limits.max_stanza_sise", "limits.max_stanza_size"),
    ("auth.mechanism", "auth.mechanisms"),
    ("server.thread", "server.threads"),
])
def test_unknown_key_suggests_right_one(tmp_path, typo, right):
    """An unknown key: exit code 2, the key named, and the closest real key suggested."""
    r = daemon(tmp_path, "--set", f"{typo}=1")
    assert r.returncode == 2, r.stderr
    assert f"'{typo}'" in r.stderr
    assert f"did you mean '{right}'" in r.stderr, r.stderr


def test_unknown_key_far_from_everything(tmp_path):
    """A key unlike any other is reported without a misleading suggestion."""
    r = daemon(tmp_path, "--set", "completely.unrelated_thing=1")
    assert r.returncode == 2 and "completely.unrelated_thing" in r.stderr
    assert "did you mean" not in r.stderr


def test_set_without_equals(tmp_path):
    """--set needs key=value."""
    r = daemon(tmp_path, "--set", "c2s.port")
    assert r.returncode == 2 and "c2s.port" in r.stderr


def test_check_config_ok(tmp_path):
    """--check-config prints the effective configuration and exits 0 without starting."""
    r = daemon(tmp_path, "--check-config", "--set", "c2s.port=15555")
    assert r.returncode == 0, r.stderr
    assert "port = 15555" in r.stdout
    assert not (tmp_path / "d").exists()


def test_check_config_bad(tmp_path):
    """--check-config with a bad key: exit code 2, the key named."""
    r = daemon(tmp_path, "--check-config", "--set", "c2s.port=abc")
    assert r.returncode == 2 and "c2s.port" in r.stderr


def test_version_flag():
    r = run_daemon("--version")
    assert r.returncode == 0 and r.stdout.startswith("hongyand ")


# ----- configuration files -----

def test_config_file(tmp_path):
    """A TOML file is read; --set overrides it."""
    f = tmp_path / "hongyan.toml"
    f.write_text("[c2s]\nport = 16000\ntls_port = 16001\n[register]\npolicy = \"open\"\n")
    r = daemon(tmp_path, "-c", str(f), "--check-config", "--set", "c2s.tls_port=16002")
    assert r.returncode == 0, r.stderr
    assert "port = 16000" in r.stdout and "tls_port = 16002" in r.stdout
    assert "policy = 'open'" in r.stdout or 'policy = "open"' in r.stdout


@pytest.mark.parametrize("content,words", [
    ("[c2s]\nprot = 5222\n", ["c2s.prot", "did you mean 'c2s.port'"]),
    ("[c2s]\nport = \"5222\"\n", ["c2s.port", "integer"]),
    ("[c2s]\nport = 99999\n", ["c2s.port"]),
    ("[c2s\nport = 1\n", [":1:"]),
    ("[auth]\nmechanisms = \"PLAIN\"\n", ["auth.mechanisms", "list"]),
])
def test_bad_config_file(tmp_path, content, words):
    """A bad file: exit code 2, the file named, and the key or the line."""
    f = tmp_path / "bad.toml"
    f.write_text(content)
    r = daemon(tmp_path, "-c", str(f))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert str(f) in r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def test_missing_config_file(tmp_path):
    r = daemon(tmp_path, "-c", str(tmp_path / "nope.toml"))
    assert r.returncode == 2 and "nope.toml" in r.stderr


def test_port_in_use(tmp_path):
    """A port that cannot be bound: the server says which and exits non-zero (not 0,
    not a crash)."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = daemon(tmp_path, "--set", f"c2s.port={port}", "--set", "c2s.tls_port=0")
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert str(port) in r.stderr


# ----- settings take effect -----

def test_mechanisms_setting(start_server):
    """auth.mechanisms: only the listed mechanisms are offered (RFC 6120 §6.4.1) and
    others get <invalid-mechanism/> (§6.5.7)."""
    server = start_server({"auth.mechanisms": "SCRAM-SHA-1"})
    server.add_user("alice", "alice-password")
    s = server.connect_secure()
    assert s.mechanisms() == ["SCRAM-SHA-1"]
    f = s.auth_scram("alice", "alice-password", "SCRAM-SHA-256")
    assert f.tag == q(NS_SASL, "failure") and f.find(q(NS_SASL, "invalid-mechanism")) is not None
    f = s.auth_plain("alice", "alice-password")
    assert f.find(q(NS_SASL, "invalid-mechanism")) is not None
    assert s.auth_scram("alice", "alice-password", "SCRAM-SHA-1").tag == q(NS_SASL, "success")


def test_domain_setting(start_server):
    """server.domain: streams to that domain are served, others get <host-unknown/>
    (RFC 6120 §4.9.3.6); JIDs use the domain."""
    server = start_server({"server.domain": "chat.example.net"})
    s = server.connect()
    s.send(stream_header(to="chat.example.net"))
    s.wait_for(lambda e: e.tag.endswith("}features"))
    assert s.header.get("from") == "chat.example.net"
    t = server.connect()
    t.open(to="chat.example.net")
    t.starttls()
    assert t.register("alice", "alice-password").get("type") == "result"
    assert t.auth_plain("alice", "alice-password").tag == q(NS_SASL, "success")
    t.open(to="chat.example.net")
    assert t.bind("r") == "alice@chat.example.net/r"
    u = server.connect()
    u.send(stream_header(to="localhost"))
    u.wait_closed(3)
    assert b"host-unknown" in u.raw or b"<stream:features" not in u.raw


def test_disabled_module(start_server):
    """modules.disabled: a disabled module's iq gets <service-unavailable/> (RFC 6120
    §8.4) and its feature leaves disco#info (XEP-0030 §3.1)."""
    server = start_server({"modules.disabled": "ping,version"})
    s = server.login("alice", "alice-password")
    r = s.ping()
    assert r.get("type") == "error" and stanza_error_condition(r) == "service-unavailable"
    info = s.iq("get", f"<query xmlns='{NS_DISCO_INFO}'/>", to="localhost")
    features = {f.get("var") for f in info.iter(q(NS_DISCO_INFO, "feature"))}
    assert NS_PING not in features and "jabber:iq:version" not in features
    assert NS_DISCO_INFO in features


def test_starttls_port_disabled(start_server):
    """c2s.port=0 disables the STARTTLS listener; direct TLS still works."""
    server = start_server({"c2s.port": 0})
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
    server.add_user("alice", "alice-password")
    s = server.connect(direct_tls=True)
    s.open()
    assert s.auth_scram("alice", "alice-password").tag == q(NS_SASL, "success")


def test_require_tls_off(start_server):
    """c2s.require_tls=false: SCRAM on the plain port without STARTTLS (for loopback
    testing), stanzas flow; STARTTLS still offered (RFC 6120 §5.3.1 voluntary)."""
    server = start_server({"c2s.require_tls": False})
    server.add_user("alice", "alice-password")
    s = server.connect()
    s.open()
    assert s.auth_scram("alice", "alice-password").tag == q(NS_SASL, "success")
    s.open()
    s.bind("plain")
    assert s.ping().get("type") == "result"
    assert_still_serves(server)
