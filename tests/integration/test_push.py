"""XEP-0357 Push Notifications (section numbers of version 0.4.1), with the test's own app
server: an external component (XEP-0114) that receives the server's pubsub publishes, as
a real push service would. A phone registers, goes away (offline, inactive, or its
connection drops with stream management), and each message for it is pushed; an awake
resource gets no push, and an app server that refuses loses its registration."""

from __future__ import annotations

import socket
import struct
from typing import Optional
import xml.etree.ElementTree as ET

import pytest

from im_helpers import friends, online
from test_component import connect_component
from xmpp_raw import NS_CLIENT, XmppStream, local_name, to_str

A, AP = "alice", "alice-password"
B, BP = "bob", "bob-password"
AJ, BJ = "alice@localhost", "bob@localhost"
APP = "push.localhost"
NS_PUSH = "urn:xmpp:push:0"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_DATA = "jabber:x:data"
SECRET_FORM = (f"<x xmlns='{NS_DATA}' type='submit'><field var='FORM_TYPE'>"
               f"<value>{NS_PUBSUB}#publish-options</value></field>"
               "<field var='secret'><value>eruio234vzxc2kla</value></field></x>")


@pytest.fixture
def server(start_server):
    return start_server({"component.secrets": f"{APP}=app-secret"})


def enable(s: XmppStream, node: str = "node-1", form: str = SECRET_FORM,
           jid: str = APP) -> ET.Element:
    return s.iq("set", f"<enable xmlns='{NS_PUSH}' jid='{jid}' node='{node}'>{form}</enable>")


def fields(publish_iq: ET.Element) -> dict[str, str]:
    x = publish_iq.find(f"{{{NS_PUBSUB}}}pubsub/{{{NS_PUBSUB}}}publish/{{{NS_PUBSUB}}}item/"
                        f"{{{NS_PUSH}}}notification/{{{NS_DATA}}}x")
    assert x is not None, to_str(publish_iq)
    return {f.get("var"): f.findtext(f"{{{NS_DATA}}}value") for f in x.findall(f"{{{NS_DATA}}}field")}


def next_push(app: XmppStream, answer: Optional[str] = "result") -> ET.Element:
    """The next publish the app server receives, answered (result, or an error
    condition)."""
    iq = app.wait_for(lambda e: local_name(e.tag) == "iq" and e.get("type") == "set")
    if answer == "result":
        app.send(f"<iq type='result' id='{iq.get('id')}' from='{APP}' to='{iq.get('from')}'/>")
    elif answer:
        app.send(f"<iq type='error' id='{iq.get('id')}' from='{APP}' to='{iq.get('from')}'>"
                 f"<error type='cancel'><{answer} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                 "</error></iq>")
    return iq


def storage_barrier(app: XmppStream, id_: str = "barrier") -> ET.Element:
    """The app server asks for alice's vCard: the server answers from its storage thread,
    after the publishes it was preparing there for messages routed before (it reads the
    registrations there). Returns the first publish or the answer, whichever comes."""
    app.send(f"<iq type='get' id='{id_}' from='{APP}' to='{AJ}'><vCard xmlns='vcard-temp'/></iq>")
    return app.wait_for(lambda e: local_name(e.tag) == "iq" and e.get("type") != "get")


def no_push(app: XmppStream) -> None:
    e = storage_barrier(app)
    assert e.get("id") == "barrier", f"an unexpected push: {to_str(e)}"


def chat(s: XmppStream, id_: str, to: str = AJ) -> None:
    s.send(f"<message to='{to}' type='chat' id='{id_}'><body>secret words {id_}</body></message>")
    s.sync()


def test_offline_user_is_pushed(server):
    """§5 enable with publish options, §7: a message for a user with no session is stored
    and a summary is published to the node, from the user's bare JID, with the publish
    options; neither the sender nor the body by default."""
    app = connect_component(server, APP, "app-secret")
    server.add_user(A, AP)
    server.add_user(B, BP)
    a = server.login(A, AP)
    info = a.iq("get", "<query xmlns='http://jabber.org/protocol/disco#info'/>", to=AJ)
    assert NS_PUSH in [f.get("var") for f in info.iter("{http://jabber.org/protocol/disco#info}feature")]
    assert enable(a).get("type") == "result"
    a.logout()
    b = online(server, B, BP, "desk")
    chat(b, "m1")
    push = next_push(app)
    assert push.get("from") == AJ and push.get("to") == APP, to_str(push)
    assert push.find(f"{{{NS_PUBSUB}}}pubsub/{{{NS_PUBSUB}}}publish").get("node") == "node-1"
    f = fields(push)
    assert f["FORM_TYPE"] == "urn:xmpp:push:summary" and f["message-count"] == "1", f
    assert "last-message-body" not in f and "last-message-sender" not in f, f
    opts = push.find(f"{{{NS_PUBSUB}}}pubsub/{{{NS_PUBSUB}}}publish-options/{{{NS_DATA}}}x")
    assert opts is not None and "eruio234vzxc2kla" in to_str(opts)
    # The message itself waits in offline storage.
    a2 = server.login(A, AP, resource="back")
    a2.send("<presence/>")
    a2.wait_for(lambda e: local_name(e.tag) == "message" and e.get("id") == "m1")


def test_sender_and_body_when_configured(start_server):
    server = start_server({"component.secrets": f"{APP}=app-secret",
                           "push.include_sender": True, "push.include_body": True})
    app = connect_component(server, APP, "app-secret")
    server.add_user(A, AP)
    server.add_user(B, BP)
    a = server.login(A, AP)
    enable(a)
    a.logout()
    b = online(server, B, BP, "desk")
    chat(b, "m1")
    f = fields(next_push(app))
    assert f["last-message-sender"] == BJ and f["last-message-body"] == "secret words m1", f


def test_awake_inactive_and_detached_resources(server):
    """No push while a resource is awake; one while the only resource is CSI-inactive
    (XEP-0352), and one while its session waits for a stream-management resume."""
    app = connect_component(server, APP, "app-secret")
    a, b = friends(server, (A, AP, "phone"), (B, BP, "desk"))
    enable(a)
    chat(b, "awake")
    no_push(app)
    a.send("<inactive xmlns='urn:xmpp:csi:0'/>")
    a.sync()
    chat(b, "inactive")
    assert fields(next_push(app))["message-count"] == "1"
    a.send("<active xmlns='urn:xmpp:csi:0'/>")
    a.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
    a.wait_for(lambda e: e.tag == "{urn:xmpp:sm:3}enabled")
    a.sync()
    chat(b, "active-again")
    no_push(app)
    a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    a.sock.close()
    a.eof = True
    # The server notices the reset; then the session waits, and messages are pushed.
    for i in range(50):
        chat(b, f"detached{i}")
        if storage_barrier(app, f"probe{i}").get("type") == "set":
            break
    else:
        raise AssertionError("no push while the session waits for a resume")


def test_disable_and_refusing_app_server(server):
    """§6: after <disable/>, no more pushes; §8 (errors): an app server that answers with
    an error loses the registration."""
    app = connect_component(server, APP, "app-secret")
    server.add_user(A, AP)
    server.add_user(B, BP)
    a = server.login(A, AP)
    enable(a, node="n1")
    enable(a, node="n2")
    assert a.iq("set", f"<disable xmlns='{NS_PUSH}' jid='{APP}' node='n1'/>").get("type") == "result"
    a.logout()
    b = online(server, B, BP, "desk")
    chat(b, "m1")
    push = next_push(app, answer="item-not-found")  # n2: the app server refuses it
    assert push.find(f"{{{NS_PUBSUB}}}pubsub/{{{NS_PUBSUB}}}publish").get("node") == "n2"
    no_push(app)  # n1 was disabled
    chat(b, "m2")
    no_push(app)  # n2 is gone too


def test_bad_requests(start_server):
    server = start_server({"component.secrets": f"{APP}=app-secret",
                           "push.max_registrations": 1})
    server.add_user(A, AP)
    a = server.login(A, AP)
    r = a.iq("set", f"<enable xmlns='{NS_PUSH}' jid='{APP}'/>")  # no node
    assert r.get("type") == "error" and r.find(f"{{{NS_CLIENT}}}error/"
                                                 "{urn:ietf:params:xml:ns:xmpp-stanzas}bad-request") is not None
    assert enable(a, node="one").get("type") == "result"
    assert enable(a, node="one").get("type") == "result"  # the same again replaces it
    r = enable(a, node="two")
    assert r.find(f"{{{NS_CLIENT}}}error/"
                  "{urn:ietf:params:xml:ns:xmpp-stanzas}resource-constraint") is not None, to_str(r)
