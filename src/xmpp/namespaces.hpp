// XML namespaces used across Hongyan, by the document that defines them.
#pragma once

#include <string_view>

namespace hongyan::ns {

// RFC 6120
inline constexpr std::string_view streams = "http://etherx.jabber.org/streams";
inline constexpr std::string_view client = "jabber:client";
inline constexpr std::string_view server = "jabber:server";
inline constexpr std::string_view streams_error = "urn:ietf:params:xml:ns:xmpp-streams";
inline constexpr std::string_view stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
inline constexpr std::string_view tls = "urn:ietf:params:xml:ns:xmpp-tls";
inline constexpr std::string_view sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
inline constexpr std::string_view bind = "urn:ietf:params:xml:ns:xmpp-bind";
inline constexpr std::string_view xml = "http://www.w3.org/XML/1998/namespace";
// XEP-0114
inline constexpr std::string_view component_accept = "jabber:component:accept";
// RFC 7395 (XMPP over WebSocket)
inline constexpr std::string_view framing = "urn:ietf:params:xml:ns:xmpp-framing";
// RFC 3921 §3 (kept by RFC 6121 only as an optional feature for old clients)
inline constexpr std::string_view session = "urn:ietf:params:xml:ns:xmpp-session";
// XEP-0030
inline constexpr std::string_view disco_info = "http://jabber.org/protocol/disco#info";
inline constexpr std::string_view disco_items = "http://jabber.org/protocol/disco#items";
// XEP-0077
inline constexpr std::string_view register_ = "jabber:iq:register";
inline constexpr std::string_view register_feature = "http://jabber.org/features/iq-register";
// XEP-0004
inline constexpr std::string_view data_forms = "jabber:x:data";
// XEP-0092
inline constexpr std::string_view version = "jabber:iq:version";
// XEP-0199
inline constexpr std::string_view ping = "urn:xmpp:ping";
// XEP-0202
inline constexpr std::string_view time = "urn:xmpp:time";
// XEP-0012
inline constexpr std::string_view last = "jabber:iq:last";
// RFC 6121
inline constexpr std::string_view roster = "jabber:iq:roster";
inline constexpr std::string_view roster_ver = "urn:xmpp:features:rosterver";       // §2.6
inline constexpr std::string_view pre_approval = "urn:xmpp:features:pre-approval";  // §3.4
// XEP-0191
inline constexpr std::string_view blocking = "urn:xmpp:blocking";
inline constexpr std::string_view blocking_errors = "urn:xmpp:blocking:errors";
// XEP-0203
inline constexpr std::string_view delay = "urn:xmpp:delay";
// XEP-0085
inline constexpr std::string_view chatstates = "http://jabber.org/protocol/chatstates";
// XEP-0160 (a disco feature, not a namespace)
inline constexpr std::string_view msgoffline = "msgoffline";
// XEP-0054
inline constexpr std::string_view vcard = "vcard-temp";
// XEP-0049
inline constexpr std::string_view private_ = "jabber:iq:private";
// XEP-0115
inline constexpr std::string_view caps = "http://jabber.org/protocol/caps";
// XEP-0055
inline constexpr std::string_view search = "jabber:iq:search";
// XEP-0050
inline constexpr std::string_view commands = "http://jabber.org/protocol/commands";
// XEP-0280, XEP-0297, XEP-0334
inline constexpr std::string_view carbons = "urn:xmpp:carbons:2";
inline constexpr std::string_view forward = "urn:xmpp:forward:0";
inline constexpr std::string_view hints = "urn:xmpp:hints";
// XEP-0313, XEP-0359, XEP-0059
inline constexpr std::string_view mam = "urn:xmpp:mam:2";
inline constexpr std::string_view mam_extended = "urn:xmpp:mam:2#extended";
inline constexpr std::string_view sid = "urn:xmpp:sid:0";
inline constexpr std::string_view rsm = "http://jabber.org/protocol/rsm";
// XEP-0198, XEP-0352
inline constexpr std::string_view sm = "urn:xmpp:sm:3";
inline constexpr std::string_view csi = "urn:xmpp:csi:0";
// XEP-0357, and the XEP-0060 pubsub it publishes with
inline constexpr std::string_view push = "urn:xmpp:push:0";
inline constexpr std::string_view pubsub = "http://jabber.org/protocol/pubsub";
// XEP-0060 as XEP-0163 (PEP) uses it
inline constexpr std::string_view pubsub_owner = "http://jabber.org/protocol/pubsub#owner";
inline constexpr std::string_view pubsub_event = "http://jabber.org/protocol/pubsub#event";
inline constexpr std::string_view pubsub_errors = "http://jabber.org/protocol/pubsub#errors";
inline constexpr std::string_view pubsub_node_config =
    "http://jabber.org/protocol/pubsub#node_config";
inline constexpr std::string_view pubsub_publish_options =
    "http://jabber.org/protocol/pubsub#publish-options";
// XEP-0045 (a message from a room's occupant carries it)
inline constexpr std::string_view muc_user = "http://jabber.org/protocol/muc#user";
inline constexpr std::string_view muc = "http://jabber.org/protocol/muc";              // §7.2
inline constexpr std::string_view muc_owner = "http://jabber.org/protocol/muc#owner";  // §10

// Every namespace above, most used first (xml::Element interns these).
inline constexpr std::string_view all[] = {
    client,
    streams,
    server,
    streams_error,
    stanzas,
    tls,
    sasl,
    bind,
    xml,
    framing,
    session,
    disco_info,
    disco_items,
    register_,
    register_feature,
    data_forms,
    version,
    ping,
    time,
    last,
    roster,
    roster_ver,
    pre_approval,
    blocking,
    blocking_errors,
    delay,
    chatstates,
    msgoffline,
    vcard,
    private_,
    caps,
    search,
    commands,
    component_accept,
    carbons,
    forward,
    hints,
    muc_user,
    muc,
    muc_owner,
    mam,
    sid,
    rsm,
    sm,
    csi,
    push,
    pubsub,
};

}  // namespace hongyan::ns
