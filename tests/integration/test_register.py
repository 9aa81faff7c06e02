"""XEP-0077 In-Band Registration, before authentication (register.policy, limits), with a
raw client and with slixmpp."""

import pytest

import slix
from xmpp_raw import (NS_REGISTER, NS_REGISTER_FEATURE, NS_SASL, assert_still_serves, q,
                      stanza_error_condition, to_str)


def registration_stream(server, direct_tls=False):
    s = server.connect(direct_tls=direct_tls)
    feats = s.open()
    if not direct_tls:
        feats = s.starttls()
    return s, feats


def login_works(server, user, password):
    s = server.connect_secure()
    ok = s.auth_scram(user, password).tag == q(NS_SASL, "success")
    s.close()
    return ok


def test_register_feature_advertised(server):
    """XEP-0077 §4: the server advertises <register xmlns='http://jabber.org/features/
    iq-register'/> among the stream features (after TLS)."""
    _, feats = registration_stream(server)
    assert feats.find(q(NS_REGISTER_FEATURE, "register")) is not None, to_str(feats)


def test_registration_form(server):
    """XEP-0077 §3.1: an iq get before authentication returns the fields to fill in:
    <instructions/>, <username/>, <password/>."""
    s, _ = registration_stream(server)
    r = s.iq("get", f"<query xmlns='{NS_REGISTER}'/>")
    assert r.get("type") == "result", to_str(r)
    query = r.find(q(NS_REGISTER, "query"))
    assert query is not None
    assert query.find(q(NS_REGISTER, "username")) is not None
    assert query.find(q(NS_REGISTER, "password")) is not None
    assert query.find(q(NS_REGISTER, "instructions")) is not None
    assert query.find(q(NS_REGISTER, "registered")) is None


@pytest.mark.parametrize("direct_tls", [False, True])
def test_register_raw_then_login(server, direct_tls):
    """XEP-0077 §3.1: registration with username and password gets an empty result; the
    new account can then log in (RFC 6120 §6)."""
    s, _ = registration_stream(server, direct_tls)
    r = s.register("carol", "carol-password")
    assert r.get("type") == "result", to_str(r)
    assert len(r) == 0
    assert login_works(server, "carol", "carol-password")
    assert not login_works(server, "carol", "other-password")


def test_register_then_login_on_same_stream(server):
    """XEP-0077 §3.1: after registering, the client authenticates on the same stream."""
    s, _ = registration_stream(server)
    assert s.register("dave", "dave-password").get("type") == "result"
    assert s.auth_scram("dave", "dave-password").tag == q(NS_SASL, "success")
    s.open()
    assert s.bind("r") == "dave@localhost/r"


def test_register_slixmpp(server):
    """XEP-0077 §3.1 with slixmpp's xep_0077 plugin: it registers and then logs in."""
    assert slix.register(server.port, "erin", "erin-password") == "ok"
    assert login_works(server, "erin", "erin-password")


def test_register_slixmpp_direct_tls(server):
    """XEP-0077 over a direct TLS stream (XEP-0368) with slixmpp."""
    assert slix.register(server.tls_port, "frank", "frank-password", direct_tls=True) == "ok"
    assert login_works(server, "frank", "frank-password")


def test_register_duplicate_conflict(server):
    """XEP-0077 §3.1: a username that is taken → <conflict/>; the password of the
    existing account is not changed."""
    s, _ = registration_stream(server)
    assert s.register("carol", "carol-password").get("type") == "result"
    r = s.register("carol", "other-password")
    assert r.get("type") == "error" and stanza_error_condition(r) == "conflict", to_str(r)
    # Case-folded names are the same account (RFC 7622 §3.3).
    r = s.register("CAROL", "other-password")
    assert stanza_error_condition(r) == "conflict", to_str(r)
    assert login_works(server, "carol", "carol-password")
    assert slix.register(server.port, "carol", "third-password") == "conflict"


@pytest.mark.parametrize("payload", [
    "<username>gina</username>",
    "<password>gina-password</password>",
    "<username></username><password>gina-password</password>",
    "<username>gina</username><password></password>",
])
def test_register_missing_fields(server, payload):
    """XEP-0077 §3.1: required fields missing or empty → <not-acceptable/>."""
    s, _ = registration_stream(server)
    r = s.iq("set", f"<query xmlns='{NS_REGISTER}'>{payload}</query>")
    assert r.get("type") == "error" and stanza_error_condition(r) == "not-acceptable", to_str(r)
    assert_still_serves(server)


def test_register_short_password(server):
    """XEP-0077 §3.1 (server policy register.min_password_length = 6 by default): a
    short password → <not-acceptable/>; the account is not created."""
    s, _ = registration_stream(server)
    r = s.register("henry", "12345")
    assert r.get("type") == "error" and stanza_error_condition(r) == "not-acceptable", to_str(r)
    assert s.register("henry", "123456").get("type") == "result"


def test_register_min_password_length_configurable(start_server):
    """register.min_password_length changes what <not-acceptable/> means."""
    server = start_server({"register.min_password_length": 12})
    s, _ = registration_stream(server)
    assert stanza_error_condition(s.register("ivan", "elevenchars")) == "not-acceptable"
    assert s.register("ivan", "twelve-chars").get("type") == "result"


def test_register_invalid_username(server):
    """RFC 7622 §3.3: a username that is not a valid localpart (here with '@') is refused
    (<jid-malformed/> per XEP-0077 §3.1 'not-acceptable'-class errors)."""
    s, _ = registration_stream(server)
    r = s.register("bad@name", "valid-password")
    assert r.get("type") == "error", to_str(r)
    assert stanza_error_condition(r) in ("jid-malformed", "not-acceptable")
    assert_still_serves(server)


def test_register_policy_closed(start_server):
    """XEP-0077 §3.1/§4: with register.policy=closed the stream feature is gone, the form
    is unavailable and a registration attempt is refused with <not-allowed/>."""
    server = start_server({"register.policy": "closed"})
    s, feats = registration_stream(server)
    assert feats.find(q(NS_REGISTER_FEATURE, "register")) is None
    r = s.iq("get", f"<query xmlns='{NS_REGISTER}'/>")
    assert r.get("type") == "error"
    assert stanza_error_condition(r) in ("service-unavailable", "not-allowed"), to_str(r)
    r = s.register("jack", "jack-password")
    assert r.get("type") == "error", to_str(r)
    assert stanza_error_condition(r) in ("not-allowed", "service-unavailable")
    assert not login_works(server, "jack", "jack-password")
    assert_still_serves(server)


def test_register_policy_localhost_allows_loopback(start_server):
    """register.policy=localhost (the default) lets clients on 127.0.0.1 register."""
    server = start_server({"register.policy": "localhost"})
    s, feats = registration_stream(server)
    assert feats.find(q(NS_REGISTER_FEATURE, "register")) is not None
    assert s.register("kate", "kate-password").get("type") == "result"


def test_register_policy_open(start_server):
    """register.policy=open lets anyone register."""
    server = start_server({"register.policy": "open"})
    s, _ = registration_stream(server)
    assert s.register("liam", "liam-password").get("type") == "result"


def test_register_per_ip_limit(start_server):
    """XEP-0077 §3.1 / §11 (abuse): after register.per_ip_per_hour registrations from one
    address, more get <resource-constraint/>."""
    server = start_server({"register.per_ip_per_hour": 2})
    s, _ = registration_stream(server)
    assert s.register("u1", "password1").get("type") == "result"
    assert s.register("u2", "password2").get("type") == "result"
    r = s.register("u3", "password3")
    assert r.get("type") == "error" and stanza_error_condition(r) == "resource-constraint", to_str(r)
    t, _ = registration_stream(server)
    assert stanza_error_condition(t.register("u4", "password4")) == "resource-constraint"
    # Accounts created before the limit still log in.
    assert login_works(server, "u1", "password1")
    assert_still_serves(server)


def test_register_before_starttls_refused(server):
    """RFC 6120 §5.3.1: registration is a stanza, so before STARTTLS on a TLS-required
    stream it gets <policy-violation/>."""
    s = server.connect()
    s.open()
    s.send(f"<iq type='set' id='r1'><query xmlns='{NS_REGISTER}'><username>mallory</username>"
           f"<password>mallory-pw</password></query></iq>")
    assert s.stream_error() == "policy-violation"
    assert not login_works(server, "mallory", "mallory-pw")
    assert_still_serves(server)


def test_other_iq_before_auth_refused(server):
    """RFC 6120 §6.4.1: only registration is allowed before authentication; any other iq
    (here a roster get) closes the stream with <not-authorized/>."""
    s, _ = registration_stream(server)
    s.send("<iq type='get' id='x1'><query xmlns='jabber:iq:roster'/></iq>")
    assert s.stream_error() == "not-authorized"
    assert_still_serves(server)


def test_register_username_too_long(server):
    """RFC 7622 §3.3: a localpart is at most 1023 bytes; a longer username is refused."""
    s, _ = registration_stream(server)
    r = s.register("u" * 1100, "valid-password")
    assert r.get("type") == "error", to_str(r)[:300]
    assert stanza_error_condition(r) in ("jid-malformed", "not-acceptable", "bad-request")
    assert s.register("u" * 1023, "valid-password").get("type") == "result"
    assert login_works(server, "u" * 1023, "valid-password")


def test_register_twice_in_one_request_stream(server):
    """XEP-0077 §3.1: registrations on one stream are independent; the stream stays
    usable for the login afterwards."""
    s, _ = registration_stream(server)
    assert s.register("one", "password-one").get("type") == "result"
    assert s.register("two", "password-two").get("type") == "result"
    assert s.auth_plain("two", "password-two").tag == q(NS_SASL, "success")


def test_register_with_remove_before_auth(server):
    """XEP-0077 §3.2: <remove/> needs an authenticated stream; before authentication it
    deletes nothing."""
    server.add_user("alice", "alice-password")
    s, _ = registration_stream(server)
    r = s.iq("set", f"<query xmlns='{NS_REGISTER}'><remove/></query>")
    assert r.get("type") == "error", to_str(r)
    r = s.iq("set", f"<query xmlns='{NS_REGISTER}'><username>alice</username><remove/></query>")
    assert r.get("type") == "error", to_str(r)
    assert login_works(server, "alice", "alice-password")
