// Resource binding (RFC 6120 §7): the full JID of an authenticated session, the registry
// entry that makes it reachable, and the conflict rule when the resource is taken.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "server/c2s/client_session.hpp"
#include "xmpp/xml.hpp"

namespace hongyan::c2s {

// Handles <iq type='set'><bind/></iq> for `session` and answers it.
boost::asio::awaitable<void> bind_resource(ServerContext& server, const SessionPtr& session,
                                           const xml::Element& iq);

// An error reply to a stanza the router never saw (negotiation, binding): before binding
// the client has no address to answer from, and an unbound 'from' is the client's own claim,
// so the reply carries neither.
void reply_unrouted_error(ClientSession& session, const xml::Element& request,
                          StanzaErrorCondition c, std::string text);

}  // namespace hongyan::c2s
