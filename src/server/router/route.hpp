// A destination the router hands stanzas to when they are not for an account of this
// server: an external component (XEP-0114), later a hosted service on a subdomain, a
// remote domain (s2s) or a session on another cluster node. The router finds the route by
// the domain of the stanza's 'to'; the route delivers it, or answers it with an error
// routed back to its 'from'.
#pragma once

#include <string_view>

#include "xmpp/xml.hpp"

namespace hongyan {

class Route {
  public:
    virtual ~Route() = default;
    // "component", "unreachable": for logs and, later, metrics.
    virtual std::string_view kind() const = 0;
    // Takes one stanza, from any thread. Its 'from' and 'to' are set and valid, and it is
    // in jabber:client (the namespace of every stanza inside the server).
    virtual void deliver(xml::Element stanza) = 0;
};

}  // namespace hongyan
