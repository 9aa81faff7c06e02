"""XEP-0163 Personal Eventing Protocol over the parts of XEP-0060 it uses (section numbers
of XEP-0163 1.2.2 and XEP-0060 1.26.0), with XEP-0223 publish-options, and the profiles
built on it: avatars (XEP-0084), bookmarks (XEP-0402), OMEMO device lists (XEP-0384),
nicknames (XEP-0172). Raw streams announce their +notify features with entity
capabilities (XEP-0115) and answer the server's disco#info query; slixmpp's plugins do
the same on their own."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import xml.etree.ElementTree as ET

import pytest

import slix
from im_helpers import befriend, friends, iq, online, wait_keep
from xmpp_raw import NS_CLIENT, XmppStream, local_name, no_element_after, q

NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_OWNER = NS_PUBSUB + "#owner"
NS_EVENT = NS_PUBSUB + "#event"
NS_ERRORS = NS_PUBSUB + "#errors"
NS_DISCO = "http://jabber.org/protocol/disco#info"
NS_CAPS = "http://jabber.org/protocol/caps"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_XDATA = "jabber:x:data"
NS_DELAY = "urn:xmpp:delay"
NS_TUNE = "http://jabber.org/protocol/tune"
NS_MOOD = "http://jabber.org/protocol/mood"
NS_BOOKMARKS = "urn:xmpp:bookmarks:1"
NS_OMEMO_DEVICES = "eu.siacs.conversations.axolotl.devicelist"

A, AP = "alice", "alice-password"
B, BP = "bob", "bob-password"
C, CP = "carol", "carol-password"
AJ, BJ, CJ = "alice@localhost", "bob@localhost", "carol@localhost"


def announce(s: XmppStream, notify: list[str]) -> None:
    """Sends presence with capabilities (XEP-0115 §4) whose features include node+notify
    for each node in `notify`, answers the server's disco#info query (§6.2) and waits
    until the server has taken the answer (a ping barrier)."""
    identity = ("client", "pc", "", f"test {s.jid}")  # a ver of its own per resource
    features = sorted({NS_DISCO, NS_CAPS} | {n + "+notify" for n in notify})
    S = "/".join(identity) + "<" + "".join(f + "<" for f in features)
    ver = base64.b64encode(hashlib.sha1(S.encode()).digest()).decode()
    node = "https://hongyan.im/tests"
    s.send(f"<presence><c xmlns='{NS_CAPS}' hash='sha-1' node='{node}' ver='{ver}'/></presence>")
    query = wait_keep(s, lambda e: local_name(e.tag) == "iq" and e.get("type") == "get"
                      and e.find(q(NS_DISCO, "query")) is not None)
    assert query.find(q(NS_DISCO, "query")).get("node") == f"{node}#{ver}"
    body = (f"<identity category='{identity[0]}' type='{identity[1]}' name='{identity[3]}'/>"
            + "".join(f"<feature var='{f}'/>" for f in features))
    s.send(f"<iq type='result' to='{query.get('from')}' id='{query.get('id')}'>"
           f"<query xmlns='{NS_DISCO}' node='{node}#{ver}'>{body}</query></iq>")
    s.sync()


def options(**fields: str) -> str:
    """A publish-options form (XEP-0060 §7.1.5)."""
    inner = "".join(f"<field var='pubsub#{k}'><value>{v}</value></field>" for k, v in fields.items())
    return (f"<publish-options><x xmlns='{NS_XDATA}' type='submit'>"
            f"<field var='FORM_TYPE' type='hidden'><value>{NS_PUBSUB}#publish-options</value>"
            f"</field>{inner}</x></publish-options>")


def publish(s: XmppStream, node: str, payload: str, item_id: str = "current",
            opts: str = "") -> ET.Element:
    return iq(s, "set", f"<pubsub xmlns='{NS_PUBSUB}'><publish node='{node}'>"
              f"<item id='{item_id}'>{payload}</item></publish>{opts}</pubsub>")


def get_items(s: XmppStream, owner: str, node: str, extra: str = "", inner: str = "") -> ET.Element:
    return iq(s, "get", f"<pubsub xmlns='{NS_PUBSUB}'><items node='{node}'{extra}>{inner}"
              "</items></pubsub>", to=owner)


def item_ids(result: ET.Element) -> list[str]:
    items = result.find(f"{q(NS_PUBSUB, 'pubsub')}/{q(NS_PUBSUB, 'items')}")
    assert items is not None, ET.tostring(result)
    return [i.get("id") for i in items.findall(q(NS_PUBSUB, "item"))]


def error_of(result: ET.Element) -> tuple[str, str]:
    """(the stanza error condition, the pubsub#errors condition or '')."""
    assert result.get("type") == "error", ET.tostring(result)
    err = result.find(q(NS_CLIENT, "error"))
    cond = next(local_name(c.tag) for c in err if c.tag.startswith("{" + NS_STANZAS))
    app = next((local_name(c.tag) for c in err if c.tag.startswith("{" + NS_ERRORS)), "")
    return cond, app


def is_event(frm: str, node: str):
    def pred(e: ET.Element) -> bool:
        if local_name(e.tag) != "message" or e.get("from") != frm:
            return False
        ev = e.find(q(NS_EVENT, "event"))
        return ev is not None and any(c.get("node") == node for c in ev)
    return pred


def tune(title: str) -> str:
    return f"<tune xmlns='{NS_TUNE}'><title>{title}</title></tune>"


def mood(m: str) -> str:
    return f"<mood xmlns='{NS_MOOD}'><{m}/></mood>"


def trio(server) -> tuple[XmppStream, XmppStream, XmppStream]:
    """alice, bob and carol online; alice and bob subscribed to each other, and alice
    and carol too."""
    a, b = friends(server, (A, AP, "phone"), (B, BP, "desk"))
    server.add_user(C, CP)
    c = online(server, C, CP, "laptop")
    befriend(a, c, AJ, CJ)
    return a, b, c


def test_account_is_a_pep_service(server):
    """XEP-0163 §6.1: the account's disco#info has the pubsub/pep identity and the
    features a client checks (publish-options for XEP-0223 and OMEMO)."""
    server.add_user(A, AP)
    a = online(server, A, AP, "phone")
    r = iq(a, "get", f"<query xmlns='{NS_DISCO}'/>", to=AJ)
    query = r.find(q(NS_DISCO, "query"))
    ids = {(i.get("category"), i.get("type")) for i in query.findall(q(NS_DISCO, "identity"))}
    assert ("pubsub", "pep") in ids and ("account", "registered") in ids
    features = {f.get("var") for f in query.findall(q(NS_DISCO, "feature"))}
    for f in ("publish", "publish-options", "retract-items", "retrieve-items",
              "auto-create", "last-published", "filtered-notifications", "access-whitelist"):
        assert f"{NS_PUBSUB}#{f}" in features, f


def test_publish_notifies_resources_that_want_it(server):
    """§4.3: a publish goes to the owner's and contacts' resources whose capabilities
    carry node+notify (§4.3.2 filtered notifications), not to a contact that wants only
    another node; the event carries the item (XEP-0060 §7.1.2.1)."""
    a, b, c = trio(server)
    announce(a, [NS_TUNE])
    announce(b, [NS_TUNE])
    announce(c, [NS_MOOD])
    r = publish(a, NS_TUNE, tune("Ode"))
    assert r.get("type") == "result", ET.tostring(r)
    pub = r.find(f"{q(NS_PUBSUB, 'pubsub')}/{q(NS_PUBSUB, 'publish')}")
    assert pub.get("node") == NS_TUNE and pub.find(q(NS_PUBSUB, "item")).get("id") == "current"
    for s in (a, b):
        m = s.wait_for(is_event(AJ, NS_TUNE))
        assert m.get("type") == "headline"
        item = m.find(f"{q(NS_EVENT, 'event')}/{q(NS_EVENT, 'items')}/{q(NS_EVENT, 'item')}")
        assert item.get("id") == "current"
        assert item.findtext(f"{q(NS_TUNE, 'tune')}/{q(NS_TUNE, 'title')}") == "Ode"
    # The next publish's notification to carol comes after anything the first caused
    # for her (one request is handled to its end before the next).
    publish(a, NS_MOOD, mood("happy"))
    got = []
    m = c.wait_for(lambda e: got.append(e) or is_event(AJ, NS_MOOD)(e))
    assert not [e for e in got if is_event(AJ, NS_TUNE)(e)], "carol got a tune she never wanted"
    assert m.find(f".//{q(NS_MOOD, 'happy')}") is not None


def test_items_and_presence_access(server):
    """XEP-0060 §6.5: a contact who sees the owner's presence gets the items (the default
    'presence' access model, XEP-0163 §5); a stranger gets not-authorized with
    presence-subscription-required (§6.5.9.2)."""
    a, b = friends(server, (A, AP, "phone"), (B, BP, "desk"))
    server.add_user(C, CP)
    c = online(server, C, CP, "laptop")
    publish(a, NS_TUNE, tune("One"), "t1")
    assert item_ids(get_items(b, AJ, NS_TUNE)) == ["t1"]
    assert error_of(get_items(c, AJ, NS_TUNE)) == ("not-authorized",
                                                   "presence-subscription-required")
    assert error_of(get_items(b, AJ, "urn:example:none"))[0] == "item-not-found"


def test_max_items_and_item_ids(server):
    """XEP-0060 §6.5.7 (max_items: the most recent N), §6.5.8 (by id), a node keeping
    pubsub#max_items items, and the same id replacing an item (§7.1.2)."""
    server.add_user(A, AP)
    a = online(server, A, AP, "phone")
    opts = options(max_items="3")
    for i in ("1", "2", "3", "4"):
        assert publish(a, "urn:example:log", f"<e xmlns='urn:example'>{i}</e>", i, opts
                       ).get("type") == "result"
    assert item_ids(get_items(a, AJ, "urn:example:log")) == ["2", "3", "4"]
    assert item_ids(get_items(a, AJ, "urn:example:log", " max_items='1'")) == ["4"]
    assert item_ids(get_items(a, AJ, "urn:example:log", inner="<item id='3'/><item id='9'/>")) == ["3"]
    publish(a, "urn:example:log", "<e xmlns='urn:example'>again</e>", "2", opts)
    assert item_ids(get_items(a, AJ, "urn:example:log")) == ["3", "4", "2"]


def test_publish_options_are_preconditions(server):
    """XEP-0223 §4 / XEP-0060 §7.1.5: the first publish creates the node with the
    options; a publish whose options differ gets conflict with precondition-not-met and
    changes nothing; matching options publish."""
    server.add_user(A, AP)
    a = online(server, A, AP, "phone")
    private = options(persist_items="true", access_model="whitelist")
    assert publish(a, "storage:example", "<x xmlns='storage:example'>1</x>", "current",
                   private).get("type") == "result"
    r = publish(a, "storage:example", "<x xmlns='storage:example'>2</x>", "current",
                options(access_model="open"))
    assert error_of(r) == ("conflict", "precondition-not-met")
    assert publish(a, "storage:example", "<x xmlns='storage:example'>3</x>", "current",
                   private).get("type") == "result"
    r = get_items(a, AJ, "storage:example")
    assert r.find(f".//{{storage:example}}x").text == "3"
    r = publish(a, "urn:example:bad", "<x xmlns='urn:example'/>", "i", options(max_items="lots"))
    assert error_of(r) == ("conflict", "precondition-not-met")


def test_bookmarks_between_two_clients(server):
    """XEP-0402 §3: bookmarks as items of urn:xmpp:bookmarks:1, one per room, with the
    whitelist access model and max_items 'max': the account's other client hears of a new
    one (§3.4, its +notify) and of a removal (a retract notification), a fetch returns all
    of them, and a contact cannot read them (XEP-0060 §6.5.9.? closed-node)."""
    a, b = friends(server, (A, AP, "phone"), (B, BP, "desk"))
    a2 = server.login(A, AP, resource="laptop")
    a2.send("<presence/>")
    announce(a2, [NS_BOOKMARKS])
    opts = options(persist_items="true", max_items="max", send_last_published_item="never",
                   access_model="whitelist")
    for room in ("tea@conference.localhost", "chess@conference.localhost"):
        conf = (f"<conference xmlns='{NS_BOOKMARKS}' name='{room.split('@')[0]}' autojoin='true'>"
                "<nick>alice</nick></conference>")
        assert publish(a, NS_BOOKMARKS, conf, room, opts).get("type") == "result"
        m = a2.wait_for(is_event(AJ, NS_BOOKMARKS))
        assert m.find(f".//{q(NS_EVENT, 'item')}").get("id") == room
    assert sorted(item_ids(get_items(a2, AJ, NS_BOOKMARKS))) == [
        "chess@conference.localhost", "tea@conference.localhost"]
    r = iq(a, "set", f"<pubsub xmlns='{NS_PUBSUB}'><retract node='{NS_BOOKMARKS}' notify='true'>"
           "<item id='tea@conference.localhost'/></retract></pubsub>")
    assert r.get("type") == "result"
    m = a2.wait_for(is_event(AJ, NS_BOOKMARKS))
    assert m.find(f".//{q(NS_EVENT, 'retract')}").get("id") == "tea@conference.localhost"
    assert item_ids(get_items(a2, AJ, NS_BOOKMARKS)) == ["chess@conference.localhost"]
    assert error_of(get_items(b, AJ, NS_BOOKMARKS)) == ("not-allowed", "closed-node")
    r = iq(a, "set", f"<pubsub xmlns='{NS_PUBSUB}'><retract node='{NS_BOOKMARKS}'>"
           "<item id='nope'/></retract></pubsub>")
    assert error_of(r)[0] == "item-not-found"


def test_omemo_device_list_is_open(server):
    """XEP-0384 §5.3: the device list published with the open access model can be read
    by anyone, also without a presence subscription."""
    server.add_user(A, AP)
    server.add_user(C, CP)
    a = online(server, A, AP, "phone")
    c = online(server, C, CP, "laptop")
    devices = f"<list xmlns='{NS_OMEMO_DEVICES}'><device id='12345'/></list>"
    assert publish(a, NS_OMEMO_DEVICES, devices, "current",
                   options(access_model="open")).get("type") == "result"
    r = get_items(c, AJ, NS_OMEMO_DEVICES)
    assert r.find(f".//{{{NS_OMEMO_DEVICES}}}device").get("id") == "12345"


def test_last_item_when_a_contact_comes_online(server):
    """XEP-0163 §4.3.2 / XEP-0060 send_last_published_item 'on_sub_and_presence': a
    contact's resource that comes online with +notify gets the last item, with its time
    (XEP-0203)."""
    a, b = friends(server, (A, AP, "phone"), (B, BP, "desk"))
    publish(a, NS_TUNE, tune("first"), "t1")
    publish(a, NS_TUNE, tune("second"), "t2")
    b2 = server.login(B, BP, resource="tablet")
    announce(b2, [NS_TUNE])
    m = b2.wait_for(is_event(AJ, NS_TUNE))
    items = m.findall(f".//{q(NS_EVENT, 'item')}")
    assert [i.get("id") for i in items] == ["t2"]
    assert m.find(q(NS_DELAY, "delay")) is not None


def test_last_item_when_a_subscription_is_approved(server):
    """XEP-0163 §1.1, §4.3.2: a presence subscription is an implicit subscription to the
    account's nodes; the last item goes to the new subscriber's resources that want it as
    soon as the subscription is approved, not at their next login (send_last_published_item
    'on_sub_and_presence')."""
    server.add_user(A, AP)
    server.add_user(B, BP)
    a = online(server, A, AP, "phone")
    b = server.login(B, BP, resource="desk")
    announce(b, [NS_TUNE])
    publish(a, NS_TUNE, tune("before you came"), "t1")
    no_element_after(a, b, allow=lambda e: local_name(e.tag) == "presence")
    b.send(f"<presence to='{AJ}' type='subscribe'/>")
    a.wait_for(lambda e: e.get("type") == "subscribe")
    a.send(f"<presence to='{BJ}' type='subscribed'/>")
    m = b.wait_for(is_event(AJ, NS_TUNE))
    assert [i.get("id") for i in m.findall(f".//{q(NS_EVENT, 'item')}")] == ["t1"]
    assert m.find(q(NS_DELAY, "delay")) is not None


def test_owner_configures_and_deletes(server):
    """XEP-0060 §8.2 configure (get the form, submit a change), §8.4 delete (the audience
    hears <delete/>), §8.5 purge; a contact may not configure (forbidden)."""
    a, b = friends(server, (A, AP, "phone"), (B, BP, "desk"))
    announce(b, [NS_TUNE])
    publish(a, NS_TUNE, tune("x"), "t1")
    b.wait_for(is_event(AJ, NS_TUNE))
    r = iq(a, "get", f"<pubsub xmlns='{NS_OWNER}'><configure node='{NS_TUNE}'/></pubsub>")
    form = r.find(f".//{q(NS_XDATA, 'x')}")
    values = {f.get("var"): f.findtext(q(NS_XDATA, "value")) for f in form}
    assert values["pubsub#access_model"] == "presence" and values["pubsub#max_items"] == "1"
    submit = (f"<x xmlns='{NS_XDATA}' type='submit'><field var='FORM_TYPE' type='hidden'>"
              f"<value>{NS_PUBSUB}#node_config</value></field>"
              "<field var='pubsub#access_model'><value>whitelist</value></field></x>")
    r = iq(a, "set", f"<pubsub xmlns='{NS_OWNER}'><configure node='{NS_TUNE}'>{submit}"
           "</configure></pubsub>")
    assert r.get("type") == "result", ET.tostring(r)
    assert error_of(get_items(b, AJ, NS_TUNE)) == ("not-allowed", "closed-node")
    r = iq(b, "set", f"<pubsub xmlns='{NS_OWNER}'><delete node='{NS_TUNE}'/></pubsub>", to=AJ)
    assert error_of(r)[0] == "forbidden"
    publish(a, NS_MOOD, mood("calm"))
    r = iq(a, "set", f"<pubsub xmlns='{NS_OWNER}'><purge node='{NS_MOOD}'/></pubsub>")
    assert r.get("type") == "result" and item_ids(get_items(a, AJ, NS_MOOD)) == []
    r = iq(a, "set", f"<pubsub xmlns='{NS_OWNER}'><delete node='{NS_MOOD}'/></pubsub>")
    assert r.get("type") == "result"
    assert error_of(get_items(a, AJ, NS_MOOD))[0] == "item-not-found"


def test_bad_publishes(start_server):
    """XEP-0060 §7.1.3: publishing to someone else's PEP (forbidden), no item
    (item-required), two payloads (invalid-payload), too large (payload-too-big, here
    pep.max_item_size), more nodes than pep.max_nodes (max-nodes-exceeded)."""
    server = start_server({"pep.max_item_size": 256, "pep.max_nodes": 2})
    a, b = friends(server, (A, AP, "phone"), (B, BP, "desk"))
    r = iq(b, "set", f"<pubsub xmlns='{NS_PUBSUB}'><publish node='{NS_TUNE}'><item>{tune('x')}"
           "</item></publish></pubsub>", to=AJ)
    assert error_of(r)[0] == "forbidden"
    r = iq(a, "set", f"<pubsub xmlns='{NS_PUBSUB}'><publish node='{NS_TUNE}'/></pubsub>")
    assert error_of(r) == ("bad-request", "item-required")
    r = iq(a, "set", f"<pubsub xmlns='{NS_PUBSUB}'><publish node='{NS_TUNE}'><item>"
           f"{tune('a')}{tune('b')}</item></publish></pubsub>")
    assert error_of(r) == ("bad-request", "invalid-payload")
    assert error_of(publish(a, NS_TUNE, tune("x" * 300))) == ("not-acceptable", "payload-too-big")
    assert publish(a, "urn:example:1", "<a xmlns='urn:example'/>").get("type") == "result"
    assert publish(a, "urn:example:2", "<a xmlns='urn:example'/>").get("type") == "result"
    assert error_of(publish(a, "urn:example:3", "<a xmlns='urn:example'/>")) == (
        "not-allowed", "max-nodes-exceeded")
    r = iq(a, "set", f"<pubsub xmlns='{NS_PUBSUB}'><subscribe node='{NS_TUNE}' jid='{AJ}'/>"
           "</pubsub>")
    assert error_of(r) == ("feature-not-implemented", "unsupported")


def test_slixmpp_avatar_and_nick(server):
    """XEP-0084 §4 and XEP-0172 with slixmpp's plugins on both sides: alice publishes an
    avatar (data, then metadata) and a nickname; bob's client, whose capabilities say
    +notify for the metadata and the nickname, is notified of both and fetches the
    image by its id from alice's data node (§4.2)."""
    server.add_user(A, AP)
    server.add_user(B, BP)
    a = online(server, A, AP, "setup")
    b = online(server, B, BP, "setup")
    befriend(a, b, AJ, BJ)
    a.close()
    b.close()
    image = bytes(range(256)) * 4
    image_id = hashlib.sha1(image).hexdigest()

    async def scenario(_loop: asyncio.AbstractEventLoop) -> tuple[bytes, str, str]:
        clients = []
        for jid, pw in ((f"{AJ}/phone", AP), (f"{BJ}/desk", BP)):
            c = slix.Client(jid, pw)
            for p in ("xep_0030", "xep_0115", "xep_0163", "xep_0084", "xep_0172"):
                c.register_plugin(p)
            clients.append(c)
        alice, bob = clients
        got: dict[str, str] = {}
        bob.add_event_handler("avatar_metadata_publish",
                              lambda m: got.__setitem__("avatar", m["pubsub_event"]["items"]["item"]["id"]))
        bob.add_event_handler("user_nick_publish",
                              lambda m: got.__setitem__("nick", m["pubsub_event"]["items"]["item"]["nick"]["nick"]))
        answered: list[bool] = []

        def outgoing(stanza):
            # bob's answer to the server's disco#info query about his capabilities.
            if stanza.name == "iq" and stanza["type"] == "result" and \
                    stanza.xml.find(f"{{{NS_DISCO}}}query") is not None:
                answered.append(True)
            return stanza
        bob.add_filter("out", outgoing)
        for c in clients:
            c.connect(("127.0.0.1", server.port))
            await asyncio.wait_for(c.started, 10)
        bob.send_presence()
        await slix.wait_until(lambda: bool(answered), "the server's capabilities query")
        await bob["xep_0199"].ping("localhost", timeout=5)  # the server has the answer
        alice.send_presence()
        await alice["xep_0084"].publish_avatar(image, timeout=10)
        await alice["xep_0084"].publish_avatar_metadata(
            [{"id": image_id, "type": "image/png", "bytes": len(image)}], timeout=10)
        await alice["xep_0172"].publish_nick("Alice A.", timeout=10)
        await slix.wait_until(lambda: "avatar" in got and "nick" in got, "bob's notifications",
                              timeout=10)
        data = await bob["xep_0084"].retrieve_avatar(AJ, image_id, timeout=10)
        fetched = data["pubsub"]["items"]["item"]["avatar_data"]["value"]
        for c in clients:
            await slix.disconnect(c)
        return fetched, got["avatar"], got["nick"]

    fetched, avatar_id, nick = slix.run(scenario, timeout=60)
    assert avatar_id == image_id and nick == "Alice A."
    assert fetched == image


def legacy_storage(*rooms: tuple[str, str, bool]) -> str:
    confs = "".join(f"<conference jid='{j}' name='{n}' autojoin='{'true' if a else 'false'}'>"
                    "<nick>al</nick></conference>" for j, n, a in rooms)
    return (f"<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'>{confs}"
            "</storage></query>")


def test_bookmarks_kept_in_private_storage_move_to_pep(start_server):
    """Bookmarks that private XML storage kept while pep was off (or on an older
    hongyand) become the XEP-0402 node at the next start (XEP-0402 §5.3), once: the old
    fragment is gone afterwards, so a node deleted later does not come back."""
    tea = "tea@conference.localhost"
    server = start_server({"modules.disabled": "pep"})
    server.add_user(A, AP)
    a = server.login(A, AP)
    assert iq(a, "set", legacy_storage((tea, "Tea", True))).get("type") == "result"
    server = start_server(after=server)
    a = server.login(A, AP)
    r = get_items(a, AJ, NS_BOOKMARKS)
    confs = {i.get("id"): i.find(q(NS_BOOKMARKS, "conference")) for i in
             r.iter(q(NS_PUBSUB, "item"))}
    assert set(confs) == {tea} and confs[tea].get("autojoin") == "true", ET.tostring(r)
    r = iq(a, "set", f"<pubsub xmlns='{NS_OWNER}'><delete node='{NS_BOOKMARKS}'/></pubsub>")
    assert r.get("type") == "result"
    server = start_server(after=server)
    a = server.login(A, AP)
    assert error_of(get_items(a, AJ, NS_BOOKMARKS))[0] == "item-not-found"


def test_bookmarks_compat_with_private_storage(server):
    """XEP-0402 §5.3 (#compat): a XEP-0048 client's list in private XML storage (XEP-0049)
    becomes one item per room, notified to the account's XEP-0402 client; a room the new
    client adds shows in the old client's list; a replacement list retracts what it no
    longer has and does not notify what did not change."""
    server.add_user(A, AP)
    old = online(server, A, AP, "old")
    r = iq(old, "get", f"<query xmlns='{NS_DISCO}'/>", to=AJ)
    assert f"{NS_BOOKMARKS}#compat" in {f.get("var") for f in r.iter(q(NS_DISCO, "feature"))}
    new = server.login(A, AP, resource="new")
    announce(new, [NS_BOOKMARKS])
    tea, chess, go = ("tea@conference.localhost", "chess@conference.localhost",
                      "go@conference.localhost")
    r = iq(old, "set", legacy_storage((tea, "Tea", True), (chess, "Chess", False)))
    assert r.get("type") == "result", ET.tostring(r)
    seen = sorted(new.wait_for(is_event(AJ, NS_BOOKMARKS)).find(f".//{q(NS_EVENT, 'item')}").get("id")
                  for _ in range(2))
    assert seen == [chess, tea]
    r = get_items(new, AJ, NS_BOOKMARKS)
    confs = {i.get("id"): i.find(q(NS_BOOKMARKS, "conference")) for i in
             r.iter(q(NS_PUBSUB, "item"))}
    assert confs[tea].get("autojoin") == "true" and confs[tea].findtext(q(NS_BOOKMARKS, "nick")) == "al"
    assert confs[chess].get("name") == "Chess"

    publish(new, NS_BOOKMARKS, f"<conference xmlns='{NS_BOOKMARKS}' name='Go'/>", go,
            options(access_model="whitelist", max_items="max"))
    r = iq(old, "get", "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>")
    listed = {c.get("jid"): c for c in r.iter("{storage:bookmarks}conference")}
    assert set(listed) == {tea, chess, go} and listed[go].get("name") == "Go"
    new.drain()

    # Tea unchanged, chess and go gone: two retractions and no tea event.
    assert iq(old, "set", legacy_storage((tea, "Tea", True))).get("type") == "result"
    retracted = []
    for _ in range(2):
        m = new.wait_for(is_event(AJ, NS_BOOKMARKS))
        assert m.find(f".//{q(NS_EVENT, 'item')}") is None, "an unchanged room was notified"
        retracted.append(m.find(f".//{q(NS_EVENT, 'retract')}").get("id"))
    assert sorted(retracted) == [chess, go]
    assert item_ids(get_items(new, AJ, NS_BOOKMARKS)) == [tea]


def test_slixmpp_legacy_bookmarks_reach_pep(server):
    """XEP-0402 §5.3 with slixmpp's XEP-0048 plugin as the old client (private XML
    storage): what it stores, a raw XEP-0402 client reads as items; what it reads back
    is the same list."""
    server.add_user(A, AP)
    raw = online(server, A, AP, "raw")

    async def scenario(_loop: asyncio.AbstractEventLoop) -> list[tuple[str, str, str]]:
        c = slix.Client(f"{AJ}/legacy", AP)
        for p in ("xep_0049", "xep_0048"):
            c.register_plugin(p)
        c.connect(("127.0.0.1", server.port))
        await asyncio.wait_for(c.started, 10)
        marks = c["xep_0048"].stanza.Bookmarks()
        marks.add_conference("tea@conference.localhost", "alice", name="Tea", autojoin=True)
        marks.add_conference("chess@conference.localhost", "al", name="Chess")
        await c["xep_0048"].set_bookmarks(marks, method="xep_0049", timeout=10)
        back = await c["xep_0048"].get_bookmarks(method="xep_0049", timeout=10)
        confs = [(str(x["jid"]), x["nick"], x["name"]) for x in back["private"]["bookmarks"]["conferences"]]
        await slix.disconnect(c)
        return confs

    confs = slix.run(scenario, timeout=30)
    assert sorted(confs) == [("chess@conference.localhost", "al", "Chess"),
                             ("tea@conference.localhost", "alice", "Tea")]
    r = get_items(raw, AJ, NS_BOOKMARKS)
    assert sorted(item_ids(r)) == ["chess@conference.localhost", "tea@conference.localhost"]


NS_UPDATE = "vcard-temp:x:update"
NS_VCARD = "vcard-temp"


def photo_of(p: ET.Element):
    x = p.find(q(NS_UPDATE, "x"))
    return None if x is None else x.findtext(q(NS_UPDATE, "photo"))


def test_pep_avatar_becomes_the_vcard_photo_and_its_hash_is_in_presence(server):
    """XEP-0398 §2 (the feature), §3.1 (the image published through XEP-0084 becomes the
    vCard's PHOTO), §4 (the server adds its hash to available presence, and leaves a
    client's own <photo/> alone)."""
    a, b = friends(server, (A, AP, "phone"), (B, BP, "desk"))
    r = iq(a, "get", f"<query xmlns='{NS_DISCO}'/>", to=AJ)
    assert "urn:xmpp:pep-vcard-conversion:0" in {f.get("var") for f in r.iter(q(NS_DISCO, "feature"))}
    image = bytes(range(256)) * 3
    h = hashlib.sha1(image).hexdigest()
    b64 = base64.b64encode(image).decode()
    assert publish(a, "urn:xmpp:avatar:data", f"<data xmlns='urn:xmpp:avatar:data'>{b64}</data>",
                   h).get("type") == "result"
    assert publish(a, "urn:xmpp:avatar:metadata",
                   f"<metadata xmlns='urn:xmpp:avatar:metadata'><info id='{h}' type='image/png' "
                   f"bytes='{len(image)}'/></metadata>", h).get("type") == "result"
    v = iq(b, "get", f"<vCard xmlns='{NS_VCARD}'/>", to=AJ)
    photo = v.find(f"{q(NS_VCARD, 'vCard')}/{q(NS_VCARD, 'PHOTO')}")
    assert photo.findtext(q(NS_VCARD, "TYPE")) == "image/png"
    assert base64.b64decode(photo.findtext(q(NS_VCARD, "BINVAL"))) == image

    a.send("<presence><show>away</show></presence>")
    p = b.wait_for(lambda e: local_name(e.tag) == "presence" and e.get("from") == f"{AJ}/phone")
    assert photo_of(p) == h
    # An <x/> without a photo is replaced; a client's empty <photo/> ("no avatar now")
    # is kept.
    a.send(f"<presence><x xmlns='{NS_UPDATE}'/></presence>")
    p = b.wait_for(lambda e: local_name(e.tag) == "presence" and e.get("from") == f"{AJ}/phone")
    assert photo_of(p) == h
    a.send(f"<presence><x xmlns='{NS_UPDATE}'><photo/></x></presence>")
    p = b.wait_for(lambda e: local_name(e.tag) == "presence" and e.get("from") == f"{AJ}/phone")
    assert photo_of(p) == ""
    # bob has no vCard: his presence says so with an empty photo.
    b.send("<presence/>")
    p = a.wait_for(lambda e: local_name(e.tag) == "presence" and e.get("from") == f"{BJ}/desk")
    assert photo_of(p) == ""
