"""Stream negotiation: STARTTLS, direct TLS, SASL and resource binding (RFC 6120 §5-§7,
XEP-0368), with a raw client and with slixmpp."""

import pytest

import slix
from xmpp_raw import (NS_BIND, NS_SASL, NS_SESSION, NS_STREAMS, NS_TLS, assert_still_serves, q,
                      stanza_error_condition, to_str)

MECHANISMS = ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]
USER, PASSWORD = "alice", "alice-password"


def sasl_condition(el):
    """The condition inside a SASL <failure/> (RFC 6120 §6.5)."""
    assert el.tag == q(NS_SASL, "failure"), to_str(el)
    conds = [c.tag.rsplit("}", 1)[1] for c in el if not c.tag.endswith("}text")]
    assert len(conds) == 1, to_str(el)
    return conds[0]


# ----- features -----

def test_features_before_tls_require_starttls(server):
    """RFC 6120 §5.3.1, §5.4.1: on the plain port TLS is mandatory-to-negotiate:
    <starttls><required/></starttls> and no SASL mechanisms before it."""
    s = server.connect()
    feats = s.open()
    tls = feats.find(q(NS_TLS, "starttls"))
    assert tls is not None and tls.find(q(NS_TLS, "required")) is not None, to_str(feats)
    assert feats.find(q(NS_SASL, "mechanisms")) is None, to_str(feats)
    header = s.header
    assert header.get("from") == "localhost"
    assert header.get("version") == "1.0"
    assert header.get("id")


def test_features_after_tls_offer_mechanisms(server):
    """RFC 6120 §6.4.1: after TLS, SASL mechanisms in the server's order of preference;
    no second STARTTLS offer (§5.4.3.3)."""
    s = server.connect()
    s.open()
    feats = s.starttls()
    assert feats.find(q(NS_TLS, "starttls")) is None
    assert s.mechanisms() == MECHANISMS


def test_stream_ids_differ_after_restart(server):
    """RFC 6120 §4.7.3: a new stream id for every stream, also after a restart (§5.4.3.3)."""
    s = server.connect()
    s.open()
    first = s.header.get("id")
    s.starttls()
    assert s.header.get("id") and s.header.get("id") != first


def test_plain_not_offered_without_tls(start_server):
    """PLAIN only over TLS (RFC 4616 §6); with c2s.require_tls=false the plain port offers
    SCRAM but not PLAIN, and PLAIN there gets <encryption-required/> (RFC 6120 §6.5.4)."""
    server = start_server({"c2s.require_tls": False})
    s = server.connect()
    feats = s.open()
    assert feats.find(q(NS_TLS, "starttls")) is not None
    assert feats.find(f"{q(NS_TLS, 'starttls')}/{q(NS_TLS, 'required')}") is None
    assert s.mechanisms() == ["SCRAM-SHA-256", "SCRAM-SHA-1"]
    server.add_user(USER, PASSWORD)
    assert sasl_condition(s.auth_plain(USER, PASSWORD)) == "encryption-required"
    # SCRAM without TLS is allowed there.
    assert s.auth_scram(USER, PASSWORD).tag == q(NS_SASL, "success")
    s.open()
    assert s.bind("r1").endswith("/r1")


# ----- successful logins -----

@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_login_starttls(server, mechanism):
    """RFC 6120 §5.4 STARTTLS, §6.4 SASL (SCRAM per RFC 5802/7677 with the server
    signature verified, PLAIN per RFC 4616), §7 bind."""
    server.add_user(USER, PASSWORD)
    s = server.connect()
    jid = s.login(USER, PASSWORD, mechanism=mechanism, resource="desk")
    assert jid == f"{USER}@localhost/desk"
    assert s.ping().get("type") == "result"


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_login_direct_tls(server, mechanism):
    """XEP-0368: TLS from the first byte on the direct TLS port; then SASL and bind as
    usual, no STARTTLS offered (RFC 6120 §5.4.3.3)."""
    server.add_user(USER, PASSWORD)
    s = server.connect(direct_tls=True)
    feats = s.open()
    assert feats.find(q(NS_TLS, "starttls")) is None
    assert s.mechanisms() == MECHANISMS
    assert s.auth(USER, PASSWORD, mechanism).tag == q(NS_SASL, "success")
    s.open()
    assert s.bind("tls") == f"{USER}@localhost/tls"
    assert s.ping().get("type") == "result"


def test_sasl_without_initial_response(server):
    """RFC 6120 §6.4.2: <auth/> without initial response gets an empty challenge, and
    the exchange continues with <response/>."""
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    s.sasl_auth("PLAIN", None)
    ch = s.expect(NS_SASL, "challenge")
    assert (ch.text or "") in ("", "=")
    s.sasl_response(f"\0{USER}\0{PASSWORD}".encode())
    s.expect(NS_SASL, "success")


def test_login_username_is_case_folded(server):
    """RFC 7622 §3.3: the localpart is case-insensitive (nodeprep/UsernameCaseMapped)."""
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    assert s.auth_plain("ALICE", PASSWORD).tag == q(NS_SASL, "success")
    s.open()
    assert s.bind("x") == "alice@localhost/x"


def test_plain_with_matching_authzid(server):
    """RFC 6120 §6.3.8: an authzid equal to the user's bare JID is accepted."""
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    assert s.auth_plain(USER, PASSWORD, authzid="alice@localhost").tag == q(NS_SASL, "success")


def test_plain_with_other_authzid(server):
    """RFC 6120 §6.5.6: an authzid the user may not act as gets <invalid-authzid/>."""
    server.add_user(USER, PASSWORD)
    server.add_user("bob", "bob-password")
    s = server.connect_secure()
    assert sasl_condition(s.auth_plain(USER, PASSWORD, authzid="bob@localhost")) == "invalid-authzid"
    assert_still_serves(server)


@pytest.mark.parametrize("direct_tls", [False, True])
def test_slixmpp_login(server, direct_tls):
    """A real client library (slixmpp) logs in over STARTTLS / direct TLS (XEP-0368) and
    gets its bound JID."""
    server.add_user(USER, PASSWORD)
    port = server.tls_port if direct_tls else server.port

    async def scenario(loop):
        c = await slix.connect(f"{USER}@localhost/slix", PASSWORD, port, direct_tls=direct_tls)
        jid = str(c.boundjid)
        await slix.disconnect(c)
        return jid

    assert slix.run(scenario) == f"{USER}@localhost/slix"


def test_slixmpp_wrong_password(server):
    """RFC 6120 §6.5.10: slixmpp sees authentication fail."""
    server.add_user(USER, PASSWORD)

    async def scenario(loop):
        try:
            c = await slix.connect(f"{USER}@localhost/x", "wrong-password", server.port)
        except (slix.AuthFailed, slix.Disconnected):
            return "failed"
        await slix.disconnect(c)
        return "logged in"

    assert slix.run(scenario) == "failed"
    assert_still_serves(server)


# ----- SASL failures (RFC 6120 §6.5) -----

@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_wrong_password(server, mechanism):
    """RFC 6120 §6.5.10: wrong password → <not-authorized/>; the stream stays open and
    the client may retry (§6.4.5)."""
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    assert sasl_condition(s.auth(USER, "not-the-password", mechanism)) == "not-authorized"
    assert s.auth(USER, PASSWORD, mechanism).tag == q(NS_SASL, "success")
    assert_still_serves(server)


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_unknown_user(server, mechanism):
    """RFC 6120 §6.5.10: an unknown user gets the same <not-authorized/> as a wrong
    password (for SCRAM, only after a normal-looking challenge)."""
    s = server.connect_secure()
    assert sasl_condition(s.auth("nobody", "whatever-pw", mechanism)) == "not-authorized"


def test_scram_bad_proof(server):
    """RFC 5802 §5.1: a client-final-message with a wrong proof → <not-authorized/>."""
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    assert sasl_condition(s.auth_scram(USER, PASSWORD, tamper_proof=True)) == "not-authorized"
    assert_still_serves(server)


def test_scram_nonce_mismatch(server):
    """RFC 5802 §5.1: the client-final nonce must be the server's combined nonce; a
    different one fails the exchange."""
    import base64
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    s.sasl_auth("SCRAM-SHA-256", b"n,,n=alice,r=abcdefgh")
    s.expect(NS_SASL, "challenge")
    s.sasl_response(b"c=biws,r=abcdefghXXXX,p=" + base64.b64encode(b"\0" * 32))
    el = s.next()
    assert el.tag == q(NS_SASL, "failure"), to_str(el)
    assert sasl_condition(el) in ("not-authorized", "malformed-request")
    assert_still_serves(server)


def test_unknown_mechanism(server):
    """RFC 6120 §6.5.7: a mechanism not offered → <invalid-mechanism/>."""
    s = server.connect_secure()
    s.send(f"<auth xmlns='{NS_SASL}' mechanism='X-UNKNOWN'>AAAA</auth>")
    assert sasl_condition(s.next()) == "invalid-mechanism"
    s.send(f"<auth xmlns='{NS_SASL}' mechanism='DIGEST-MD5'/>")
    assert sasl_condition(s.next()) == "invalid-mechanism"
    assert_still_serves(server)


def test_incorrect_encoding(server):
    """RFC 6120 §6.5.5: data that is not base64 → <incorrect-encoding/>."""
    s = server.connect_secure()
    s.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>!!!not base64***</auth>")
    assert sasl_condition(s.next()) == "incorrect-encoding"
    assert_still_serves(server)


def test_malformed_plain(server):
    """RFC 6120 §6.5.8: a PLAIN message without the NUL separators → <malformed-request/>."""
    import base64
    s = server.connect_secure()
    s.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{base64.b64encode(b'alice').decode()}</auth>")
    assert sasl_condition(s.next()) == "malformed-request"
    assert_still_serves(server)


def test_malformed_scram_first(server):
    """RFC 6120 §6.5.8, RFC 5802 §7: a client-first-message that breaks the grammar fails
    with <malformed-request/>."""
    import base64
    s = server.connect_secure()
    s.send(f"<auth xmlns='{NS_SASL}' mechanism='SCRAM-SHA-1'>"
           f"{base64.b64encode(b'garbage').decode()}</auth>")
    assert sasl_condition(s.next()) == "malformed-request"
    assert_still_serves(server)


def test_abort(server):
    """RFC 6120 §6.4.4, §6.5.1: <abort/> during an exchange → <aborted/>; a new
    exchange may follow."""
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    s.sasl_auth("SCRAM-SHA-256", b"n,,n=alice,r=0123456789")
    s.expect(NS_SASL, "challenge")
    s.send(f"<abort xmlns='{NS_SASL}'/>")
    assert sasl_condition(s.next()) == "aborted"
    assert s.auth_scram(USER, PASSWORD).tag == q(NS_SASL, "success")


def test_response_without_exchange(server):
    """RFC 6120 §6.4: a <response/> with no exchange under way is a protocol violation
    of the stream."""
    s = server.connect_secure()
    s.send(f"<response xmlns='{NS_SASL}'>AAAA</response>")
    assert s.stream_error() == "policy-violation"
    assert_still_serves(server)


def test_too_many_attempts_per_stream(server):
    """RFC 6120 §6.4.5: after auth.max_attempts_per_stream (3) failures the stream ends
    with <policy-violation/>."""
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    for _ in range(2):
        assert sasl_condition(s.auth_plain(USER, "bad-password")) == "not-authorized"
    assert sasl_condition(s.auth_plain(USER, "bad-password")) == "not-authorized"
    assert s.stream_error() == "policy-violation"
    assert s.wait_closed(2)
    assert_still_serves(server)


def test_failures_per_ip_throttle(start_server):
    """RFC 6120 §6.5.11: after auth.failures_per_ip failed logins from one address,
    further attempts get <temporary-auth-failure/>, even with the right password."""
    server = start_server({"auth.failures_per_ip": 2, "auth.max_attempts_per_stream": 10})
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    for _ in range(2):
        assert sasl_condition(s.auth_plain(USER, "bad-password")) == "not-authorized"
    assert sasl_condition(s.auth_plain(USER, PASSWORD)) == "temporary-auth-failure"
    t = server.connect_secure()
    assert sasl_condition(t.auth_scram(USER, PASSWORD)) == "temporary-auth-failure"


def test_failures_per_account_throttle(start_server):
    """RFC 6120 §6.5.11: after auth.failures_per_account failures for one account, logins
    to it get <temporary-auth-failure/>; other accounts are not affected."""
    server = start_server({"auth.failures_per_account": 2, "auth.max_attempts_per_stream": 10})
    server.add_user(USER, PASSWORD)
    server.add_user("bob", "bob-password")
    s = server.connect_secure()
    for _ in range(2):
        assert sasl_condition(s.auth_scram(USER, "bad-password")) == "not-authorized"
    assert sasl_condition(s.auth_scram(USER, PASSWORD)) == "temporary-auth-failure"
    assert sasl_condition(s.auth_plain(USER, PASSWORD)) == "temporary-auth-failure"
    assert s.auth_plain("bob", "bob-password").tag == q(NS_SASL, "success")


def test_sasl_after_authentication(server):
    """RFC 6120 §6.4.6: after <success/> and the restart, SASL is over; another <auth/>
    is a policy violation."""
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    s.auth_plain(USER, PASSWORD)
    feats = s.open()
    assert feats.find(q(NS_SASL, "mechanisms")) is None
    s.sasl_auth("PLAIN", f"\0{USER}\0{PASSWORD}".encode())
    assert s.stream_error() == "policy-violation"
    assert_still_serves(server)


def test_starttls_twice(server):
    """RFC 6120 §5.4.3.3: TLS cannot be negotiated again once in place."""
    s = server.connect_secure()
    s.send(f"<starttls xmlns='{NS_TLS}'/>")
    assert s.stream_error() == "policy-violation"
    assert_still_serves(server)


# ----- before authentication -----

def test_stanza_before_starttls(server):
    """RFC 6120 §5.3.1: with TLS required, anything but STARTTLS first is refused with
    <policy-violation/>."""
    s = server.connect()
    s.open()
    s.send("<message to='bob@localhost'><body>hi</body></message>")
    assert s.stream_error() == "policy-violation"
    assert_still_serves(server)


def test_auth_before_starttls(server):
    """RFC 6120 §5.3.1: SASL before TLS on a TLS-required stream → <policy-violation/>."""
    s = server.connect()
    s.open()
    s.sasl_auth("SCRAM-SHA-256", b"n,,n=alice,r=abc")
    assert s.stream_error() == "policy-violation"
    assert_still_serves(server)


@pytest.mark.parametrize("stanza", [
    "<message to='alice@localhost'><body>hi</body></message>",
    "<presence/>",
    "<iq type='get' id='v1' to='localhost'><query xmlns='jabber:iq:version'/></iq>",
    "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>",
])
def test_stanza_before_auth(server, stanza):
    """RFC 6120 §6.4.1 / §4.9.3.12: stanzas before authentication → <not-authorized/>
    (only the in-band registration iq is allowed there)."""
    s = server.connect_secure()
    s.send(stanza)
    assert s.stream_error() == "not-authorized"
    assert_still_serves(server)


def test_stanza_before_bind(server):
    """RFC 6120 §7.1: after authentication, stanzas other than the bind iq need a bound
    resource first."""
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    s.auth_plain(USER, PASSWORD)
    s.open()
    s.send("<message to='alice@localhost'><body>hi</body></message>")
    assert s.stream_error() == "not-authorized"
    assert_still_serves(server)


# ----- resource binding (RFC 6120 §7) -----

def test_server_generated_resource(server):
    """RFC 6120 §7.6.2.1: an empty <bind/> gets a resource the server chooses, unique
    per session."""
    server.add_user(USER, PASSWORD)
    a = server.connect()
    jid_a = a.login(USER, PASSWORD, resource=None)
    b = server.connect()
    jid_b = b.login(USER, PASSWORD, resource=None)
    for jid in (jid_a, jid_b):
        assert jid.startswith("alice@localhost/") and len(jid) > len("alice@localhost/")
    assert jid_a != jid_b
    assert a.ping().get("type") == "result" and b.ping().get("type") == "result"


def test_bind_conflict_old_session_gets_conflict(server):
    """RFC 6120 §7.7.2.2: a second session with the same full JID; this server terminates
    the old one with the stream error <conflict/> and the new one works."""
    server.add_user(USER, PASSWORD)
    old = server.connect()
    old.login(USER, PASSWORD, resource="phone")
    new = server.connect()
    assert new.login(USER, PASSWORD, resource="phone") == "alice@localhost/phone"
    assert old.stream_error() == "conflict"
    assert old.wait_closed(2)
    assert new.ping().get("type") == "result"
    # Stanzas for the full JID now reach the new session.
    bob = server.login("bob", "bob-password", resource="r")
    bob.send("<message to='alice@localhost/phone' id='m1'><body>hello</body></message>")
    m = new.wait_for(lambda e: e.get("id") == "m1")
    assert m.findtext("{jabber:client}body") == "hello"


def test_bind_invalid_resource(server):
    """RFC 6120 §7.7.2.1: a resource that fails resourceprep → <bad-request/>; binding
    can then be retried."""
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    s.auth_plain(USER, PASSWORD)
    s.open()
    # U+0009 is allowed in XML but prohibited by resourceprep (RFC 3920 App. B, C.2.1).
    s.send(f"<iq type='set' id='b1'><bind xmlns='{NS_BIND}'><resource>bad\tres</resource>"
           f"</bind></iq>")
    el = s.wait_for(lambda e: e.get("id") == "b1")
    assert el.get("type") == "error", to_str(el)
    assert stanza_error_condition(el) == "bad-request"
    assert s.bind("good").endswith("/good")


def test_second_bind_refused(server):
    """RFC 6120 §7.7.2.2 (one resource per stream here): a second bind on a bound stream
    is refused with a stanza error, and the stream keeps working."""
    server.add_user(USER, PASSWORD)
    s = server.connect()
    s.login(USER, PASSWORD, resource="one")
    s.send(f"<iq type='set' id='b2'><bind xmlns='{NS_BIND}'><resource>two</resource></bind></iq>")
    el = s.wait_for(lambda e: e.get("id") == "b2")
    assert el.get("type") == "error"
    assert stanza_error_condition(el) == "not-allowed"
    assert s.ping().get("type") == "result"


def test_legacy_session(server):
    """RFC 3921 §3: the old <session/> iq is still answered with a result, and the
    feature is advertised as <optional/>."""
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    s.auth_plain(USER, PASSWORD)
    feats = s.open()
    sess = feats.find(q(NS_SESSION, "session"))
    assert sess is not None and sess.find(q(NS_SESSION, "optional")) is not None, to_str(feats)
    s.bind("r")
    r = s.iq("set", f"<session xmlns='{NS_SESSION}'/>")
    assert r.get("type") == "result", to_str(r)
    r = s.iq("set", f"<session xmlns='{NS_SESSION}'/>", to="localhost")
    assert r.get("type") == "result", to_str(r)


# ----- SCRAM details (RFC 5802, RFC 7677) -----

def scram_exchange(s, mechanism, client_first: bytes):
    """Sends a hand-made client-first-message; returns the server's answer element."""
    import base64
    s.send(f"<auth xmlns='{NS_SASL}' mechanism='{mechanism}'>"
           f"{base64.b64encode(client_first).decode()}</auth>")
    return s.next()


def test_scram_iterations_and_salt(server):
    """RFC 7677 §4: at least 4096 iterations; an unknown user gets a challenge of the
    same shape, stable across attempts, so accounts cannot be probed (RFC 5802 §9)."""
    import base64
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    seen = {}
    for user in (USER, "nobody", "nobody"):
        ch = scram_exchange(s, "SCRAM-SHA-256", f"n,,n={user},r=abcdefghijkl".encode())
        assert ch.tag == q(NS_SASL, "challenge"), to_str(ch)
        attrs = dict(kv.split("=", 1) for kv in base64.b64decode(ch.text).decode().split(","))
        assert attrs["r"].startswith("abcdefghijkl") and len(attrs["r"]) > len("abcdefghijkl")
        assert int(attrs["i"]) >= 4096
        assert len(base64.b64decode(attrs["s"])) >= 8
        seen.setdefault(user, []).append((attrs["s"], attrs["i"], attrs["r"]))
        s.send(f"<abort xmlns='{NS_SASL}'/>")
        assert sasl_condition(s.next()) == "aborted"
    (s1, i1, r1), (s2, i2, r2) = seen["nobody"]
    assert s1 == s2 and i1 == i2, "the fake salt for an unknown user must not change"
    assert r1 != r2, "server nonces must be fresh"
    assert i1 == seen[USER][0][1]


def test_scram_username_escaping(server):
    """RFC 5802 §5.1: ',' and '=' in the username travel as '=2C' and '=3D'."""
    server.add_user("a,b=c", "comma-password")
    s = server.connect_secure()
    assert s.auth_scram("a,b=c", "comma-password").tag == q(NS_SASL, "success")
    s.open()
    assert s.bind("r") == "a,b=c@localhost/r"


def test_scram_client_supports_channel_binding_flag_y(server):
    """RFC 5802 §6: gs2 flag 'y' (client could bind, thinks the server cannot) is fine
    when the server offers no -PLUS mechanism."""
    import base64
    from xmpp_raw import ScramClient
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    c = ScramClient(USER, PASSWORD, "SCRAM-SHA-256")
    c.gs2_header = "y,,"
    ch = scram_exchange(s, "SCRAM-SHA-256", c.first())
    s.sasl_response(c.final(base64.b64decode(ch.text)))
    el = s.next()
    assert el.tag == q(NS_SASL, "success"), to_str(el)


@pytest.mark.parametrize("gs2", ["p=tls-exporter,,", "p=tls-unique,,"])
def test_scram_channel_binding_not_offered(server, gs2):
    """RFC 5802 §6/§7: the client asks for channel binding the server did not offer
    (no -PLUS mechanism): authentication fails."""
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    el = scram_exchange(s, "SCRAM-SHA-256", f"{gs2}n={USER},r=abcdefgh".encode())
    assert el.tag == q(NS_SASL, "failure"), to_str(el)
    assert_still_serves(server)


def test_scram_channel_binding_mismatch(server):
    """RFC 5802 §5.1 'c=': the channel-binding attribute must repeat the gs2 header; a
    different one fails even with the right password."""
    import base64
    from xmpp_raw import ScramClient
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    c = ScramClient(USER, PASSWORD, "SCRAM-SHA-256")
    ch = scram_exchange(s, "SCRAM-SHA-256", c.first())
    c.gs2_header = "y,,"  # the final message now carries c=eSws instead of c=biws
    s.sasl_response(c.final(base64.b64decode(ch.text)))
    el = s.next()
    assert el.tag == q(NS_SASL, "failure"), to_str(el)


def test_scram_authzid_other_user(server):
    """RFC 6120 §6.3.8, §6.5.6: SCRAM with an authzid of another user must not log in as
    anyone (<invalid-authzid/> expected); with the user's own JID it works."""
    import base64
    from xmpp_raw import ScramClient
    server.add_user(USER, PASSWORD)
    server.add_user("bob", "bob-password")
    s = server.connect_secure()
    c = ScramClient(USER, PASSWORD, "SCRAM-SHA-256")
    c.gs2_header = "n,a=bob@localhost,"
    ch = scram_exchange(s, "SCRAM-SHA-256", c.first())
    if ch.tag == q(NS_SASL, "challenge"):
        s.sasl_response(c.final(base64.b64decode(ch.text)))
        ch = s.next()
    assert ch.tag == q(NS_SASL, "failure"), f"logged in with authzid of another user: {to_str(ch)}"
    assert sasl_condition(ch) in ("invalid-authzid", "not-authorized")
    c = ScramClient(USER, PASSWORD, "SCRAM-SHA-256")
    c.gs2_header = "n,a=alice@localhost,"
    ch = scram_exchange(s, "SCRAM-SHA-256", c.first())
    s.sasl_response(c.final(base64.b64decode(ch.text)))
    assert s.next().tag == q(NS_SASL, "success")


def test_authzid_of_another_domain(server):
    """RFC 6120 §6.3.8, §6.5.6: an authzid is the user's own bare JID, domain included:
    alice@elsewhere.example is another entity (only the local part used to be compared),
    with SCRAM and with PLAIN."""
    import base64
    from xmpp_raw import ScramClient
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    c = ScramClient(USER, PASSWORD, "SCRAM-SHA-256")
    c.gs2_header = f"n,a={USER}@elsewhere.example,"
    ch = scram_exchange(s, "SCRAM-SHA-256", c.first())
    assert ch.tag == q(NS_SASL, "failure"), to_str(ch)
    assert sasl_condition(ch) == "invalid-authzid"
    el = s.auth_plain(USER, PASSWORD, authzid=f"{USER}@elsewhere.example")
    assert sasl_condition(el) == "invalid-authzid", to_str(el)
    assert s.auth_plain(USER, PASSWORD, authzid=f"{USER}@localhost").tag == q(NS_SASL, "success")


def test_scram_mandatory_extension(server):
    """RFC 5802 §5.1: a client-first-message with the reserved 'm' extension must make
    authentication fail."""
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    el = scram_exchange(s, "SCRAM-SHA-256", f"n,,m=ext,n={USER},r=abcdefgh".encode())
    assert el.tag == q(NS_SASL, "failure"), to_str(el)


def test_new_auth_during_exchange(server):
    """RFC 6120 §6.4.4: starting a new <auth/> before the last exchange ended aborts it
    (<aborted/>); then a fresh exchange succeeds."""
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    s.sasl_auth("SCRAM-SHA-1", b"n,,n=alice,r=0123456789")
    s.expect(NS_SASL, "challenge")
    s.sasl_auth("PLAIN", f"\0{USER}\0{PASSWORD}".encode())
    assert sasl_condition(s.next()) == "aborted"
    assert s.auth_plain(USER, PASSWORD).tag == q(NS_SASL, "success")


def test_auth_without_mechanism_attribute(server):
    """RFC 6120 §6.4.2, §6.5.7: <auth/> without a mechanism → <invalid-mechanism/>."""
    s = server.connect_secure()
    s.send(f"<auth xmlns='{NS_SASL}'>AAAA</auth>")
    assert sasl_condition(s.next()) == "invalid-mechanism"
    assert_still_serves(server)


def test_unknown_sasl_element(server):
    """RFC 6120 §6.4: an element in the SASL namespace that is not part of the protocol
    does not log anyone in and leaves the server serving."""
    s = server.connect_secure()
    s.send(f"<success xmlns='{NS_SASL}'/>")
    el = s.next()
    assert el.tag in (q(NS_SASL, "failure"), q(NS_STREAMS, "error")), to_str(el)
    s.send(f"<iq type='set' id='b'><bind xmlns='{NS_BIND}'/></iq>")
    assert s.stream_error() in ("not-authorized", "policy-violation")
    assert_still_serves(server)


def test_unicode_username_and_password(server):
    """RFC 7622 §3.3 (nodeprep) and RFC 4013 SASLprep: a non-ASCII username (any case)
    and password work with SCRAM and PLAIN."""
    s = server.connect_secure()
    assert s.register("Zoë", "pässwörd-密码").get("type") == "result"
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"):
        t = server.connect_secure()
        assert t.auth("zoë", "pässwörd-密码", mech).tag == q(NS_SASL, "success"), mech
        t.open()
        assert t.bind("u") == "zoë@localhost/u"
        t.close()


def test_bind_resource_too_long(server):
    """RFC 7622 §3.4: a resourcepart is at most 1023 bytes; a longer one → <bad-request/>
    (RFC 6120 §7.7.2.1)."""
    server.add_user(USER, PASSWORD)
    s = server.connect_secure()
    s.auth_plain(USER, PASSWORD)
    s.open()
    s.send(f"<iq type='set' id='long'><bind xmlns='{NS_BIND}'><resource>{'r' * 1100}</resource></bind></iq>")
    el = s.wait_for(lambda e: e.get("id") == "long")
    assert el.get("type") == "error" and stanza_error_condition(el) == "bad-request", to_str(el)[:300]
    assert s.bind("r" * 1023).endswith("/" + "r" * 1023)
