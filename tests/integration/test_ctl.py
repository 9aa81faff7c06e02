"""hongyanctl: user administration (offline and while hongyand runs, sharing the SQLite
database), certificate generation, configuration check."""

import subprocess

import pytest

from conftest import run_ctl
from xmpp_raw import NS_SASL, assert_still_serves, q


def can_login(server, user, password, mechanism="SCRAM-SHA-256"):
    s = server.connect_secure()
    ok = s.auth(user, password, mechanism).tag == q(NS_SASL, "success")
    s.close()
    return ok


def ctl_ok(*args, data_dir, input=None):
    r = run_ctl(*args, data_dir=data_dir, input=input)
    assert r.returncode == 0, f"hongyanctl {' '.join(args)}: rc={r.returncode}\n{r.stdout}{r.stderr}"
    return r


def list_users(data_dir):
    return sorted(ctl_ok("user", "list", data_dir=data_dir).stdout.split())


# ----- users, server not running -----

def test_user_add_list_del_offline(tmp_path):
    """user add / list / del on a data directory without a server."""
    d = tmp_path / "data"
    r = ctl_ok("user", "add", "alice", "-p", "alice-password", data_dir=d)
    assert "alice@localhost" in r.stdout
    ctl_ok("user", "add", "bob@localhost", "-p", "bob-password", data_dir=d)
    assert list_users(d) == ["alice@localhost", "bob@localhost"]
    ctl_ok("user", "del", "alice", data_dir=d)
    assert list_users(d) == ["bob@localhost"]


def test_user_add_errors(tmp_path):
    """Refused: a duplicate, a short password, an invalid localpart (RFC 7622 §3.3), another
    domain; each exits non-zero with a message and changes nothing."""
    d = tmp_path / "data"
    ctl_ok("user", "add", "alice", "-p", "alice-password", data_dir=d)
    for args, words in [
        (("user", "add", "alice", "-p", "other-password"), "exists"),
        (("user", "add", "ALICE", "-p", "other-password"), "exists"),
        (("user", "add", "carol", "-p", "123"), "characters"),
        (("user", "add", "bad@name@x", "-p", "carol-password"), ""),
        (("user", "add", "carol@example.org", "-p", "carol-password"), "domain"),
        (("user", "add", "with space\t", "-p", "carol-password"), ""),
    ]:
        r = run_ctl(*args, data_dir=d)
        assert r.returncode == 1, (args, r.returncode, r.stderr)
        assert r.stderr.strip(), args
        assert words in r.stderr, (args, r.stderr)
    assert list_users(d) == ["alice@localhost"]


def test_user_del_and_passwd_unknown(tmp_path):
    """del and passwd of an account that does not exist fail with exit code 1."""
    d = tmp_path / "data"
    ctl_ok("user", "list", data_dir=d)
    assert run_ctl("user", "del", "ghost", data_dir=d).returncode == 1
    assert run_ctl("user", "passwd", "ghost", "-p", "ghost-password", data_dir=d).returncode == 1


def test_password_from_stdin(start_server):
    """Without -p the password is read from stdin (a pipe here, no terminal)."""
    server = start_server()
    r = server.ctl("user", "add", "alice", input="piped-password\n")
    assert r.returncode == 0, r.stderr
    assert can_login(server, "alice", "piped-password")


def test_usage_errors():
    """No subcommand, or a subcommand without its arguments: a usage error, non-zero."""
    for args in ([], ["user"], ["user", "add"], ["bogus"]):
        r = run_ctl(*args)
        assert r.returncode != 0, args


# ----- users, server running -----

def test_add_user_while_server_runs(server):
    """An account created with hongyanctl while hongyand runs can log in at once, with
    every mechanism."""
    r = server.ctl("user", "add", "carol", "-p", "carol-password")
    assert r.returncode == 0, r.stderr
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"):
        assert can_login(server, "carol", "carol-password", mech), mech
    s = server.connect()
    assert s.login("carol", "carol-password", resource="ctl") == "carol@localhost/ctl"


def test_passwd_while_server_runs(server):
    """hongyanctl user passwd takes effect for the next login; the old password fails."""
    server.add_user("alice", "alice-password")
    assert can_login(server, "alice", "alice-password")
    assert server.ctl("user", "passwd", "alice", "-p", "changed-password").returncode == 0
    assert can_login(server, "alice", "changed-password")
    assert not can_login(server, "alice", "alice-password")


def test_del_while_server_runs(server):
    """hongyanctl user del: the account can no longer log in."""
    server.add_user("alice", "alice-password")
    assert server.ctl("user", "del", "alice").returncode == 0
    assert not can_login(server, "alice", "alice-password")
    assert_still_serves(server)


def test_ctl_sees_inband_registrations(server):
    """Accounts registered in-band (XEP-0077) show up in hongyanctl user list."""
    s = server.connect_secure()
    assert s.register("dave", "dave-password").get("type") == "result"
    assert "dave@localhost" in server.ctl("user", "list").stdout.split()


# ----- certificates -----

def cert_text(path):
    return subprocess.run(["openssl", "x509", "-in", str(path), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout


def test_cert_generate(tmp_path):
    """cert generate writes a self-signed EC P-256 certificate for server.domain with a
    private key only the owner can read; it refuses to overwrite without --force."""
    d = tmp_path / "data"
    r = ctl_ok("cert", "generate", data_dir=d)
    cert, key = d / "tls" / "cert.pem", d / "tls" / "key.pem"
    assert cert.exists() and key.exists(), r.stdout
    text = cert_text(cert)
    assert "prime256v1" in text or "P-256" in text
    assert "DNS:localhost" in text
    assert (key.stat().st_mode & 0o077) == 0, oct(key.stat().st_mode)
    before = cert.read_bytes()
    r = run_ctl("cert", "generate", data_dir=d)
    assert r.returncode == 1 and "--force" in r.stderr
    assert cert.read_bytes() == before
    ctl_ok("cert", "generate", "--force", data_dir=d)
    assert cert.read_bytes() != before


def test_cert_generate_for_domain(tmp_path):
    """The certificate names server.domain."""
    d = tmp_path / "data"
    r = run_ctl("--set", "server.domain=chat.example.net", "cert", "generate", data_dir=d)
    assert r.returncode == 0, r.stderr
    assert "DNS:chat.example.net" in cert_text(d / "tls" / "cert.pem")


def test_server_uses_generated_cert(start_server, tmp_path):
    """A certificate made by hongyanctl before the first start is the one the server
    presents (it does not generate another)."""
    import ssl
    d = tmp_path / "pre"
    ctl_ok("cert", "generate", data_dir=d)
    pem = (d / "tls" / "cert.pem").read_text()
    server = start_server(data_dir=d)
    s = server.connect(direct_tls=True)
    assert s.sock.getpeercert(binary_form=True) == ssl.PEM_cert_to_DER_cert(pem)
    assert (d / "tls" / "cert.pem").read_text() == pem


# ----- config check -----

def test_config_check(tmp_path):
    """config check prints the whole effective configuration and exits 0."""
    r = run_ctl("--set", "c2s.port=15999", "config", "check", data_dir=tmp_path / "d")
    assert r.returncode == 0, r.stderr
    assert "[c2s]" in r.stdout and "port = 15999" in r.stdout
    assert "configuration OK" in r.stderr


@pytest.mark.parametrize("setting,key", [
    ("c2s.port=abc", "c2s.port"),
    ("c2s.port=70000", "c2s.port"),
    ("register.policy=sometimes", "register.policy"),
    ("c2s.prot=5222", "c2s.prot"),
])
def test_config_check_errors(tmp_path, setting, key):
    """A bad value or key: exit code 2 and a message naming the key."""
    r = run_ctl("--set", setting, "config", "check", data_dir=tmp_path / "d")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert key in r.stderr
