"""Server lifetime: first start (self-signed certificate), restart (data and certificate
kept), shutdown on SIGTERM/SIGINT (RFC 6120 §4.9.3.20 <system-shutdown/>)."""

import signal
import ssl
import subprocess
import time

from xmpp_raw import NS_SASL, q


def test_first_start_generates_certificate(server):
    """With no certificate, the first start writes a self-signed EC P-256 certificate for
    the domain to <data_dir>/tls/, key readable by the owner only, and serves it."""
    cert, key = server.data_dir / "tls" / "cert.pem", server.data_dir / "tls" / "key.pem"
    assert cert.exists() and key.exists()
    assert (key.stat().st_mode & 0o077) == 0, oct(key.stat().st_mode)
    text = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    assert "prime256v1" in text or "P-256" in text
    assert "DNS:localhost" in text
    s = server.connect(direct_tls=True)
    assert s.sock.getpeercert(binary_form=True) == ssl.PEM_cert_to_DER_cert(cert.read_text())
    # STARTTLS presents the same certificate.
    t = server.connect_secure()
    assert t.sock.getpeercert(binary_form=True) == s.sock.getpeercert(binary_form=True)


def test_restart_keeps_accounts_and_certificate(start_server):
    """Accounts (registered in-band) and the certificate survive a restart."""
    first = start_server()
    s = first.connect()
    s.open()
    s.starttls()
    assert s.register("alice", "alice-password").get("type") == "result"
    cert = (first.data_dir / "tls" / "cert.pem").read_bytes()
    first.close_clients()
    assert first.terminate() == 0
    second = start_server(data_dir=first.data_dir)
    assert (second.data_dir / "tls" / "cert.pem").read_bytes() == cert
    t = second.connect()
    assert t.login("alice", "alice-password", resource="again") == "alice@localhost/again"


def test_sigterm_sends_system_shutdown(server):
    """RFC 6120 §4.9.3.20: on SIGTERM every client (bound, mid-negotiation, direct TLS)
    gets <system-shutdown/> and the closing tag; the server exits 0 promptly."""
    bound = server.login("alice", "alice-password", resource="a")
    tls_bound = server.login("alice", "alice-password", resource="b", direct_tls=True)
    negotiating = server.connect_secure()
    plain = server.connect()
    plain.open()
    t0 = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    for s in (bound, tls_bound, negotiating, plain):
        assert s.stream_error(timeout=5) == "system-shutdown"
        assert s.wait_closed(5)
    assert server.wait_exit() == 0
    assert time.monotonic() - t0 < 5


def test_sigterm_with_silent_client(server):
    """A connection that never sent a byte does not hold up shutdown."""
    server.connect()
    t0 = time.monotonic()
    assert server.terminate() == 0
    assert time.monotonic() - t0 < 6


def test_sigint_exits_0(server):
    """SIGINT (Ctrl-C) is a clean shutdown as well."""
    s = server.login("alice", "alice-password")
    server.proc.send_signal(signal.SIGINT)
    assert s.stream_error(timeout=5) == "system-shutdown"
    assert server.wait_exit() == 0


def test_no_new_connections_after_shutdown(server):
    """After shutdown the ports are closed."""
    import socket
    port = server.port
    assert server.terminate() == 0
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        refused = False
    except OSError:
        refused = True
    assert refused


def test_login_after_many_clients_come_and_go(server):
    """Many short connections (some cut mid-handshake) leave the server healthy."""
    server.add_user("alice", "alice-password")
    for i in range(30):
        s = server.connect(direct_tls=(i % 2 == 1))
        if i % 3 == 0:
            s.open()
        if i % 6 == 0:
            s.starttls()
        s.sock.close()
        s.eof = True
    s = server.connect_secure()
    assert s.auth_scram("alice", "alice-password").tag == q(NS_SASL, "success")


def test_sigterm_right_after_registration(start_server):
    """SIGTERM just after storage work (two in-band registrations) is a clean exit 0,
    every time (repeated, as the failure it guards against is a race)."""
    for i in range(60):
        server = start_server()
        s = server.connect_secure()
        assert s.register("one", "password-one").get("type") == "result"
        assert s.register("two", "password-two").get("type") == "result"
        s.close()
        rc = server.terminate()
        assert rc == 0, f"run {i}: exit code {rc}\n{server.log()[-3000:]}"


def test_quiet_log_level(start_server):
    """log.level=warn: the server runs quietly (no info lines) and serves."""
    server = start_server({"log.level": "warn"})
    server.add_user("alice", "alice-password")
    s = server.connect()
    assert s.login("alice", "alice-password") == "alice@localhost/test"
    assert "authenticated" not in server.log()
