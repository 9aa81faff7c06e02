"""XEP-0077 for an authenticated user: registration info, password change (§3.3) and
account cancellation (§3.2)."""

import slix
from xmpp_raw import (NS_REGISTER, NS_SASL, assert_still_serves, q, stanza_error_condition,
                      to_str)

USER, PASSWORD = "alice", "alice-password"


def scram_ok(server, user, password, mechanism="SCRAM-SHA-256"):
    s = server.connect_secure()
    el = s.auth(user, password, mechanism)
    s.close()
    return el.tag == q(NS_SASL, "success")


def test_registered_info(server):
    """XEP-0077 §3.1 (already registered): an authenticated get returns <registered/>
    and the username."""
    s = server.login(USER, PASSWORD)
    r = s.iq("get", f"<query xmlns='{NS_REGISTER}'/>")
    assert r.get("type") == "result", to_str(r)
    query = r.find(q(NS_REGISTER, "query"))
    assert query.find(q(NS_REGISTER, "registered")) is not None
    assert query.findtext(q(NS_REGISTER, "username")) == USER


def test_change_password_then_old_fails(server):
    """XEP-0077 §3.3: a password change takes effect at once: the new password works for
    every mechanism, the old one gets <not-authorized/> (RFC 6120 §6.5.10)."""
    s = server.login(USER, PASSWORD)
    r = s.iq("set", f"<query xmlns='{NS_REGISTER}'><username>{USER}</username>"
                    f"<password>brand-new-password</password></query>")
    assert r.get("type") == "result", to_str(r)
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"):
        assert scram_ok(server, USER, "brand-new-password", mech), mech
    assert not scram_ok(server, USER, PASSWORD)
    assert not scram_ok(server, USER, PASSWORD, "PLAIN")
    # The session that changed the password stays usable.
    assert s.ping().get("type") == "result"


def test_change_password_to_bare_jid(server):
    """XEP-0077 §3.3: the request may be addressed to the server (to='localhost')."""
    s = server.login(USER, PASSWORD)
    r = s.iq("set", f"<query xmlns='{NS_REGISTER}'><username>{USER}</username>"
                    f"<password>another-password</password></query>", to="localhost")
    assert r.get("type") == "result", to_str(r)
    assert scram_ok(server, USER, "another-password")


def test_change_password_too_short(server):
    """XEP-0077 §3.3 with register.min_password_length: a short password →
    <not-acceptable/>, the old password still works."""
    s = server.login(USER, PASSWORD)
    r = s.iq("set", f"<query xmlns='{NS_REGISTER}'><username>{USER}</username>"
                    f"<password>abc</password></query>")
    assert r.get("type") == "error" and stanza_error_condition(r) == "not-acceptable", to_str(r)
    assert scram_ok(server, USER, PASSWORD)


def test_change_other_users_password_refused(server):
    """XEP-0077 §3.3: a user can only change their own password."""
    server.add_user("bob", "bob-password")
    s = server.login(USER, PASSWORD)
    r = s.iq("set", "<query xmlns='jabber:iq:register'><username>bob</username>"
                    "<password>hijacked-password</password></query>")
    assert r.get("type") == "error", to_str(r)
    assert stanza_error_condition(r) in ("not-allowed", "not-authorized", "bad-request")
    assert scram_ok(server, "bob", "bob-password")
    assert not scram_ok(server, "bob", "hijacked-password")


def test_change_password_slixmpp(server):
    """XEP-0077 §3.3 through slixmpp's change_password()."""
    server.add_user(USER, PASSWORD)

    async def scenario(loop):
        c = await slix.connect(f"{USER}@localhost/x", PASSWORD, server.port)
        try:
            await c["xep_0077"].change_password("via-slixmpp-pw", timeout=5)
        finally:
            await slix.disconnect(c)

    slix.run(scenario)
    assert scram_ok(server, USER, "via-slixmpp-pw")
    assert not scram_ok(server, USER, PASSWORD)


def test_cancel_registration(server):
    """XEP-0077 §3.2: <remove/> deletes the account: result, then every session of the
    account ends with the stream error <not-authorized/>; the account can no longer log
    in and its name can be registered again."""
    s = server.login(USER, PASSWORD, resource="one")
    other = server.login(USER, PASSWORD, resource="two")
    r = s.iq("set", f"<query xmlns='{NS_REGISTER}'><remove/></query>")
    assert r.get("type") == "result", to_str(r)
    assert s.stream_error() == "not-authorized"
    assert other.stream_error() == "not-authorized"
    assert s.wait_closed(2) and other.wait_closed(2)
    assert not scram_ok(server, USER, PASSWORD)
    assert USER + "@localhost" not in server.ctl("user", "list").stdout
    reg = server.connect_secure()
    assert reg.register(USER, "fresh-password").get("type") == "result"
    assert scram_ok(server, USER, "fresh-password")
    assert_still_serves(server)


def test_cancel_does_not_touch_other_accounts(server):
    """XEP-0077 §3.2: only the requesting account goes; others stay online."""
    bob = server.login("bob", "bob-password")
    s = server.login(USER, PASSWORD)
    assert s.iq("set", f"<query xmlns='{NS_REGISTER}'><remove/></query>").get("type") == "result"
    assert s.stream_error() == "not-authorized"
    assert bob.ping().get("type") == "result"
    assert scram_ok(server, "bob", "bob-password")


def test_cancel_slixmpp(server):
    """XEP-0077 §3.2 through slixmpp's cancel_registration()."""
    server.add_user(USER, PASSWORD)

    async def scenario(loop):
        c = await slix.connect(f"{USER}@localhost/x", PASSWORD, server.port)
        try:
            await c["xep_0077"].cancel_registration(timeout=5)
        finally:
            await slix.disconnect(c)

    slix.run(scenario)
    assert not scram_ok(server, USER, PASSWORD)
