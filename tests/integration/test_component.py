"""External components (XEP-0114, jabber:component:accept): the handshake and its stream
errors, stanzas routed to a component's domain and its subdomains and back, 'from'
checked to belong to the component, and slixmpp's ComponentXMPP as a real component (an
echo bot) chatting with a slixmpp user. Also the route for domains nothing serves
(RFC 6120 §10.4.3)."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
import slixmpp

import slix
import xmpp_raw
from xmpp_raw import NS_STREAMS, q, stanza_error_condition

NS_COMPONENT = "jabber:component:accept"
PW = "secret-pw"
SECRET = "s3cret=with=equals"
COMPONENTS = {"component.secrets": f"echo.localhost={SECRET},other.localhost=x"}


@pytest.fixture
def server(start_server):
    return start_server(COMPONENTS)


def component_stream(server, domain: str) -> tuple[xmpp_raw.XmppStream, str]:
    """Opens a component stream to `domain`; returns it and the server's stream id."""
    s = xmpp_raw.XmppStream(server.component_port)
    server.streams.append(s)
    s.send(xmpp_raw.stream_header(to=domain, version=None, xmlns=NS_COMPONENT))
    s.read_until(lambda raw: s.reader.header is not None)
    header = s.reader.header
    assert header.tag == q(NS_STREAMS, "stream")
    return s, header.get("id") or ""


def handshake(stream: xmpp_raw.XmppStream, stream_id: str, secret: str) -> None:
    digest = hashlib.sha1((stream_id + secret).encode()).hexdigest()
    stream.send(f"<handshake>{digest}</handshake>")


def connect_component(server, domain: str = "echo.localhost",
                      secret: str = SECRET) -> xmpp_raw.XmppStream:
    s, sid = component_stream(server, domain)
    handshake(s, sid, secret)
    el = s.next()
    assert el.tag == q(NS_COMPONENT, "handshake") and not (el.text or ""), xmpp_raw.to_str(el)
    return s


# ----- the handshake (XEP-0114 §3) -----

def test_handshake_with_the_right_secret(server):
    s, sid = component_stream(server, "echo.localhost")
    assert sid, "the server's stream header carries an id"
    assert s.reader.header.get("from") == "echo.localhost"
    handshake(s, sid, SECRET)
    el = s.next()
    assert el.tag == q(NS_COMPONENT, "handshake")
    assert "authenticated as echo.localhost" in server.log()


def test_bad_handshake_is_not_authorized(server):
    s, sid = component_stream(server, "echo.localhost")
    handshake(s, sid, "wrong")
    assert s.stream_error() == "not-authorized"
    assert s.wait_closed()
    # The domain is still free for the real component.
    connect_component(server)


def test_unknown_component_domain_is_host_unknown(server):
    s, _ = component_stream(server, "nobody.localhost")
    assert s.stream_error() == "host-unknown"


def test_second_connection_for_a_domain_is_a_conflict(server):
    connect_component(server)
    s, sid = component_stream(server, "echo.localhost")
    handshake(s, sid, SECRET)
    assert s.stream_error() == "conflict"


def test_stanza_before_handshake_is_refused(server):
    s, _ = component_stream(server, "echo.localhost")
    s.send("<message from='echo.localhost' to='alice@localhost'><body>x</body></message>")
    assert s.stream_error() == "not-authorized"


def test_silent_component_is_cut_at_the_handshake_timeout(start_server):
    server = start_server({**COMPONENTS, "c2s.preauth_timeout": 1})
    s, _ = component_stream(server, "echo.localhost")
    assert s.stream_error(timeout=5) == "connection-timeout"


# ----- routing both ways -----

def test_messages_both_ways_and_subdomains(server):
    server.ensure_user("alice", PW)
    alice = server.login("alice", PW, resource="desk")
    alice.send("<presence/>")  # available, so a message to the bare JID reaches her
    c = connect_component(server)
    # To the component's domain and to a JID in a subdomain of it: both reach it.
    alice.send("<message to='bot@echo.localhost' type='chat' id='m1'><body>hi bot</body></message>")
    alice.send("<message to='x@room.echo.localhost' id='m2'><body>sub</body></message>")
    m1 = c.next()
    m2 = c.next()
    assert m1.tag == q(NS_COMPONENT, "message"), xmpp_raw.to_str(m1)
    assert m1.get("from") == "alice@localhost/desk" and m1.get("to") == "bot@echo.localhost"
    assert m1.findtext(q(NS_COMPONENT, "body")) == "hi bot"
    assert m2.get("to") == "x@room.echo.localhost"
    # From the component (and one of its subdomains) to the user, in jabber:client.
    c.send("<message from='bot@echo.localhost' to='alice@localhost/desk' type='chat'>"
           "<body>hello alice</body></message>")
    c.send("<message from='x@room.echo.localhost' to='alice@localhost' type='chat'>"
           "<body>from the room</body></message>")
    got = alice.wait_for(lambda e: e.tag == q(xmpp_raw.NS_CLIENT, "message"))
    assert got.get("from") == "bot@echo.localhost"
    assert got.findtext(q(xmpp_raw.NS_CLIENT, "body")) == "hello alice"
    got = alice.wait_for(lambda e: e.tag == q(xmpp_raw.NS_CLIENT, "message"))
    assert got.get("from") == "x@room.echo.localhost"


def test_iq_round_trip_through_the_component(server):
    server.ensure_user("alice", PW)
    alice = server.login("alice", PW, resource="desk")
    c = connect_component(server)
    alice.send("<iq type='get' id='v1' to='echo.localhost'>"
               "<query xmlns='jabber:iq:version'/></iq>")
    iq = c.next()
    assert iq.tag == q(NS_COMPONENT, "iq") and iq.get("id") == "v1"
    c.send(f"<iq type='result' id='v1' from='echo.localhost' to='{iq.get('from')}'>"
           "<query xmlns='jabber:iq:version'><name>echo</name></query></iq>")
    res = alice.wait_for(lambda e: e.get("id") == "v1")
    assert res.get("type") == "result" and res.get("from") == "echo.localhost"
    assert res.findtext(f"{{jabber:iq:version}}query/{{jabber:iq:version}}name") == "echo"
    # A request from the component to a resource that is not online: service-unavailable.
    c.send("<iq type='get' id='gone' from='echo.localhost' to='alice@localhost/nowhere'>"
           "<ping xmlns='urn:xmpp:ping'/></iq>")
    err = c.next()
    assert err.get("id") == "gone" and err.get("type") == "error"
    assert stanza_error_condition(err, NS_COMPONENT) == "service-unavailable"


def test_the_server_answers_a_components_requests(server):
    """A component asks the server what a client could (RFC 6120 §10.3: 'to' is the
    domain; RFC 6121 §8.5.2.1.3: a user's bare JID, answered on the user's behalf): the
    same handlers answer, and the answers are routed back to the component."""
    server.ensure_user("alice", PW)
    alice = server.login("alice", PW)
    vcard = "<vCard xmlns='vcard-temp'><FN>Alice &amp; Co</FN></vCard>"
    assert alice.iq("set", vcard).get("type") == "result"
    c = connect_component(server)
    c.send(f"<iq type='get' id='info' from='bot@echo.localhost' to='localhost'>"
           f"<query xmlns='{xmpp_raw.NS_DISCO_INFO}'/></iq>")
    res = c.next()
    assert res.get("id") == "info" and res.get("type") == "result", xmpp_raw.to_str(res)
    assert res.get("from") == "localhost" and res.get("to") == "bot@echo.localhost"
    feats = [f.get("var") for f in res.iter(f"{{{xmpp_raw.NS_DISCO_INFO}}}feature")]
    assert xmpp_raw.NS_PING in feats, xmpp_raw.to_str(res)
    # A user's vCard, from storage (XEP-0054 §3.2).
    c.send("<iq type='get' id='vc' from='echo.localhost' to='alice@localhost'>"
           "<vCard xmlns='vcard-temp'/></iq>")
    res = c.next()
    assert res.get("id") == "vc" and res.get("type") == "result", xmpp_raw.to_str(res)
    assert res.findtext("{vcard-temp}vCard/{vcard-temp}FN") == "Alice & Co"
    # What only a client of the server may do is refused, and so is what nobody handles.
    c.send("<iq type='set' id='reg' from='echo.localhost' to='localhost'>"
           "<query xmlns='jabber:iq:register'><username>x</username>"
           "<password>secret-pw</password></query></iq>")
    err = c.next()
    assert err.get("id") == "reg" and err.get("type") == "error"
    assert stanza_error_condition(err, NS_COMPONENT) == "service-unavailable"
    c.send("<iq type='get' id='nope' from='echo.localhost' to='localhost'>"
           "<query xmlns='urn:example:nobody'/></iq>")
    err = c.next()
    assert err.get("id") == "nope"
    assert stanza_error_condition(err, NS_COMPONENT) == "service-unavailable"
    c.send("<iq type='get' id='two' from='echo.localhost' to='localhost'>"
           "<ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>")
    err = c.next()
    assert stanza_error_condition(err, NS_COMPONENT) == "bad-request"


def test_connected_components_are_in_the_servers_disco_items(server):
    server.ensure_user("alice", PW)
    alice = server.login("alice", PW)
    connect_component(server)
    res = alice.iq("get", f"<query xmlns='{xmpp_raw.NS_DISCO_ITEMS}'/>", to="localhost")
    jids = [i.get("jid") for i in res.iter(q(xmpp_raw.NS_DISCO_ITEMS, "item"))]
    assert jids == ["echo.localhost"], xmpp_raw.to_str(res)


def test_from_outside_the_component_domain_is_invalid_from(server):
    server.ensure_user("alice", PW)
    c = connect_component(server)
    c.send("<message from='mallory@localhost' to='alice@localhost'><body>x</body></message>")
    assert c.stream_error() == "invalid-from"


def test_message_to_offline_user_is_stored(server):
    server.ensure_user("carol", PW)
    c = connect_component(server)
    c.send("<message from='bot@echo.localhost' to='carol@localhost' type='chat' id='off1'>"
           "<body>while you were away</body></message>")
    # Stored once the component's next stanza is routed (they go in order).
    c.send("<iq type='get' id='b1' from='echo.localhost' to='localhost'>"
           "<ping xmlns='urn:xmpp:ping'/></iq>")
    c.next()
    carol = server.login("carol", PW)
    carol.send("<presence/>")
    got = carol.wait_for(lambda e: e.tag == q(xmpp_raw.NS_CLIENT, "message"))
    assert got.get("from") == "bot@echo.localhost"
    assert got.find("{urn:xmpp:delay}delay") is not None


def test_directed_presence_reaches_the_component_and_ends_with_unavailable(server):
    server.ensure_user("alice", PW)
    alice = server.login("alice", PW, resource="desk")
    c = connect_component(server)
    alice.send("<presence/>")
    alice.send("<presence to='bot@echo.localhost'/>")
    p = c.next()
    assert p.tag == q(NS_COMPONENT, "presence") and p.get("from") == "alice@localhost/desk"
    assert p.get("type") is None
    # RFC 6121 §4.6.3: the recipient of directed presence hears when the resource leaves.
    alice.logout()
    p = c.next()
    assert p.get("type") == "unavailable" and p.get("from") == "alice@localhost/desk"


def test_subscription_request_to_a_component_jid(server):
    """RFC 6121 §3.1.2: the user's roster gets the item with ask='subscribe' (a push), and
    the request goes on from the bare JID."""
    server.ensure_user("alice", PW)
    alice = server.login("alice", PW, resource="desk")
    alice.iq("get", "<query xmlns='jabber:iq:roster'/>")  # interested in pushes
    c = connect_component(server)
    alice.send("<presence to='bot@echo.localhost' type='subscribe'/>")
    p = c.next()
    assert p.get("type") == "subscribe" and p.get("from") == "alice@localhost"
    assert p.get("to") == "bot@echo.localhost"
    push = alice.wait_for(lambda e: e.get("type") == "set")
    item = push.find("{jabber:iq:roster}query/{jabber:iq:roster}item")
    assert item.get("jid") == "bot@echo.localhost" and item.get("ask") == "subscribe"


def is_presence(type_=None):
    def pred(e):
        return e.tag == q(xmpp_raw.NS_CLIENT, "presence") and e.get("type") == type_
    return pred


def roster_push_with(jid, **attrs):
    def pred(e):
        if e.tag != q(xmpp_raw.NS_CLIENT, "iq") or e.get("type") != "set":
            return False
        item = e.find("{jabber:iq:roster}query/{jabber:iq:roster}item")
        return item is not None and item.get("jid") == jid and all(
            item.get(k) == v for k, v in attrs.items())
    return pred


def test_a_component_jid_subscribes_to_a_user(server):
    """RFC 6121 §3.1 with a contact at another domain: bot@echo.localhost asks alice; the
    request reaches her (§3.1.3), her approval goes back followed by her presence
    (§3.1.5), her roster says 'from', a probe is answered (§4.3.2) and her next presence
    is broadcast to the bot (§4.4.2)."""
    server.ensure_user("alice", PW)
    alice = server.login("alice", PW, resource="desk")
    alice.iq("get", "<query xmlns='jabber:iq:roster'/>")  # interested in pushes
    alice.send("<presence/>")
    c = connect_component(server)
    # §4.3.2: no subscription yet, so no presence.
    c.send("<presence type='probe' from='bot@echo.localhost' to='alice@localhost'/>")
    p = c.next()
    assert p.get("type") == "unsubscribed" and p.get("from") == "alice@localhost"
    c.send("<presence type='subscribe' from='bot@echo.localhost/res' to='alice@localhost'/>")
    req = alice.wait_for(is_presence("subscribe"))
    assert req.get("from") == "bot@echo.localhost"  # bare, §3.1.3
    alice.send("<presence type='subscribed' to='bot@echo.localhost'/>")
    p = c.next()
    assert p.get("type") == "subscribed" and p.get("from") == "alice@localhost", \
        xmpp_raw.to_str(p)
    assert p.get("to") == "bot@echo.localhost"
    p = c.next()
    assert p.get("type") is None and p.get("from") == "alice@localhost/desk", xmpp_raw.to_str(p)
    assert p.get("to") == "bot@echo.localhost"
    alice.wait_for(roster_push_with("bot@echo.localhost", subscription="from"))
    c.send("<presence type='probe' from='bot@echo.localhost' to='alice@localhost'/>")
    p = c.next()
    assert p.get("type") is None and p.get("from") == "alice@localhost/desk", xmpp_raw.to_str(p)
    alice.send("<presence><show>away</show></presence>")
    p = c.next()
    assert p.findtext(q(NS_COMPONENT, "show")) == "away" and p.get("to") == "bot@echo.localhost"
    # §3.3: the bot unsubscribes; alice's roster drops 'from' and the bot hears unavailable.
    c.send("<presence type='unsubscribe' from='bot@echo.localhost' to='alice@localhost'/>")
    p = c.next()
    assert p.get("type") == "unavailable" and p.get("from") == "alice@localhost/desk", \
        xmpp_raw.to_str(p)
    alice.wait_for(roster_push_with("bot@echo.localhost", subscription="none"))


def test_a_user_subscribes_to_a_component_jid_and_probes_it_at_login(server):
    """§3.1.6: the component's approval gives alice 'to'; its presence reaches her; at her
    next initial presence her server probes the contact (§4.2.1)."""
    server.ensure_user("alice", PW)
    alice = server.login("alice", PW, resource="desk")
    alice.iq("get", "<query xmlns='jabber:iq:roster'/>")
    alice.send("<presence/>")
    c = connect_component(server)
    alice.send("<presence to='bot@echo.localhost' type='subscribe'/>")
    assert c.next().get("type") == "subscribe"
    c.send("<presence type='subscribed' from='bot@echo.localhost' to='alice@localhost'/>")
    alice.wait_for(roster_push_with("bot@echo.localhost", subscription="to"))
    c.send("<presence from='bot@echo.localhost/x' to='alice@localhost'><status>beep</status>"
           "</presence>")
    p = alice.wait_for(is_presence(None))
    while p.get("from") != "bot@echo.localhost/x":
        p = alice.wait_for(is_presence(None))
    assert p.findtext(q(xmpp_raw.NS_CLIENT, "status")) == "beep"
    alice.logout()
    again = server.login("alice", PW, resource="phone")
    again.send("<presence/>")
    p = c.next()
    assert p.get("type") == "probe" and p.get("from") == "alice@localhost", xmpp_raw.to_str(p)
    assert p.get("to") == "bot@echo.localhost"


def test_a_component_request_to_nobody_is_declined(server):
    """§3.1.3: a subscription request for an account that does not exist is answered
    with unsubscribed."""
    c = connect_component(server)
    c.send("<presence type='subscribe' from='bot@echo.localhost' to='ghost@localhost'/>")
    p = c.next()
    assert p.get("type") == "unsubscribed" and p.get("from") == "ghost@localhost"
    assert p.get("to") == "bot@echo.localhost"


def test_disconnected_component_and_unknown_domains(server):
    server.ensure_user("alice", PW)
    alice = server.login("alice", PW)
    # Configured but not connected.
    alice.send("<message to='bot@other.localhost' id='nc'><body>x</body></message>")
    err = alice.wait_for(lambda e: e.get("id") == "nc")
    assert stanza_error_condition(err) == "service-unavailable"
    # RFC 6120 §10.4.3: a domain nothing here serves (no federation yet).
    alice.send("<message to='bob@example.net' id='far'><body>x</body></message>")
    err = alice.wait_for(lambda e: e.get("id") == "far")
    assert stanza_error_condition(err) == "remote-server-not-found"


def test_queued_stanzas_are_answered_when_the_component_goes(server):
    server.ensure_user("alice", PW)
    alice = server.login("alice", PW)
    c = connect_component(server)
    c.send("</stream:stream>")
    assert c.wait_closed()
    alice.send("<message to='bot@echo.localhost' id='late'><body>x</body></message>")
    err = alice.wait_for(lambda e: e.get("id") == "late")
    assert stanza_error_condition(err) == "service-unavailable"


def test_component_domain_must_not_be_the_server_domain(tmp_path):
    from conftest import run_daemon
    r = run_daemon("--set", f"server.data_dir={tmp_path}",
                   "--set", "component.secrets=localhost=x", "--check-config")
    assert r.returncode != 0
    assert "component.secrets" in (r.stdout + r.stderr)


# ----- slixmpp's component class as a real component -----

class EchoBot(slixmpp.ComponentXMPP):
    """Answers every chat message with its body, from the JID it was sent to."""

    def __init__(self, port: int) -> None:
        super().__init__("echo.localhost", SECRET, "127.0.0.1", port)
        self.register_plugin("xep_0030")
        self.started = self.loop.create_future()
        self.add_event_handler("session_start", lambda _e: self.started.done()
                               or self.started.set_result(True))
        self.add_event_handler("message", self.on_message)

    def on_message(self, msg) -> None:
        if msg["type"] in ("chat", "normal") and msg["body"]:
            msg.reply("echo: " + msg["body"]).send()


def test_slixmpp_echo_bot(server):
    server.ensure_user("alice", PW)

    async def scenario(loop):
        bot = EchoBot(server.component_port)
        bot.connect("127.0.0.1", server.component_port)
        await asyncio.wait_for(bot.started, 10)
        alice = await slix.connect("alice@localhost/phone", PW, server.port)
        got = loop.create_future()
        alice.add_event_handler(
            "message", lambda m: got.done() or got.set_result((str(m["from"]), m["body"])))
        alice.send_message(mto="echo@echo.localhost", mbody="ping me", mtype="chat")
        sender, body = await asyncio.wait_for(got, 10)
        # The bot's disco#info, asked by the user and answered by slixmpp's plugin.
        info = await alice["xep_0030"].get_info(jid="echo.localhost", timeout=10)
        await slix.disconnect(alice)
        bot.disconnect()
        await asyncio.wait_for(bot.disconnected, 5)
        return sender, body, info

    sender, body, info = slix.run(scenario, timeout=40)
    assert sender == "echo@echo.localhost"
    assert body == "echo: ping me"
    assert info["type"] == "result"
