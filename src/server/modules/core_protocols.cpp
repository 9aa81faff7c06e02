// Protocols implemented by the core (streams, TLS, SASL, binding, transports, routes)
// rather than by a module; docs/protocols.md lists them first.
#include "server/modules/module.hpp"

namespace hongyan::modules {

std::vector<ProtocolSupport> core_protocols() {
    return {
        {"RFC 6120", "XMPP Core", "", "partial",
         "c2s streams, STARTTLS, SASL, resource binding, stanza errors; s2s: planned"},
        {"RFC 7622", "XMPP Address Format", "", "complete",
         "stringprep profiles (nodeprep, nameprep, resourceprep) as peers use them"},
        {"RFC 5802", "SCRAM", "", "complete", "SCRAM-SHA-1; only salted keys are stored"},
        {"RFC 7677", "SCRAM-SHA-256", "", "complete", "channel binding (-PLUS): planned"},
        {"RFC 4616", "PLAIN", "", "complete", "only offered over TLS"},
        {"RFC 7590", "TLS in XMPP", "", "complete", "TLS 1.2 minimum (configurable to 1.3)"},
        {"XEP-0368", "SRV records for XMPP over TLS", "1.1.0", "complete",
         "direct TLS on c2s.tls_port (5223)"},
        {"RFC 7395", "XMPP over WebSocket", "", "complete",
         "ws:// on http.port (5280, loopback only by default) and wss:// on https.port "
         "(5443) at websocket.path; <open/>/<close/> framing, see-other-uri, pings as "
         "keepalives; the same session, limits and features as TCP"},
        {"XEP-0114", "Jabber Component Protocol", "1.6", "complete",
         "jabber:component:accept on component.port (5347, loopback by default), one secret "
         "per domain (component.secrets); host-unknown, not-authorized, conflict and "
         "invalid-from as stream errors; a component serves its domain and its subdomains and "
         "is listed in the server's disco#items; its requests to the server and to users' bare "
         "JIDs are answered by the server's handlers; presence subscriptions both ways between "
         "users and component JIDs, probes answered and sent, presence broadcast to them"},
        {"XEP-0198", "Stream Management", "1.6.3", "complete",
         "acks both ways (the server asks after sm.request_after stanzas or within a second; "
         "'h' wraps at 2^32, too high is <undefined-condition/>); resumption for "
         "sm.resume_timeout (the client's max may lower it) on any connection and transport, "
         "the old connection closed; <resumed/> and <a/> only once what they count is archived "
         "or stored; a session that ends without a resume (timeout, clean close, shutdown) "
         "routes what its client did not acknowledge like a message to a resource that went "
         "away: offline storage or an error to the sender; stored offline messages are deleted "
         "only when acknowledged"},
        {"XEP-0352", "Client State Indication", "1.0.0", "complete",
         "while inactive, available and unavailable presence is held, the latest per sender "
         "(older ones dropped), and messages carrying only a chat state are dropped; anything "
         "else (messages, iq, subscription requests) goes out at once, after the presence "
         "held before it; <active/> sends what was held. The state survives a resume"},
        {"XEP-0156", "Discovering Alternative XMPP Connection Methods", "1.4.0", "complete",
         "/.well-known/host-meta and host-meta.json with the WebSocket endpoint, CORS *; "
         "BOSH links wait for BOSH"},
    };
}

}  // namespace hongyan::modules
