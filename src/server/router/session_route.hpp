// The route handle of one bound resource: what the session registry holds, and all the
// router and the IM core need of a session they did not get the stanza from. A local
// client session (c2s::ClientSession) is one; a session on another cluster node will be
// another (its handle forwards to that node), without the router or the IM core changing.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "xmpp/stanza_error.hpp"

namespace hongyan {

namespace c2s {
class ClientSession;
}

class SessionRoute {
  public:
    virtual ~SessionRoute() = default;
    // Takes serialised stanzas for this resource, from any thread; stanzas handed over by
    // one thread arrive in that order.
    virtual void deliver(std::string stanza) = 0;
    virtual void deliver(std::shared_ptr<const std::string> stanza) = 0;
    virtual void deliver(std::vector<std::shared_ptr<const std::string>> stanzas) = 0;
    // Ends the session with a stream error (a newer session took its full JID, the
    // account was deleted), from any thread.
    virtual void terminate(StreamErrorCondition cond, std::string text) = 0;
    // The local session behind the handle, for delivery batched per I/O thread
    // (im::DeliveryBatch); null for a session elsewhere.
    virtual c2s::ClientSession* local() { return nullptr; }
};

using RoutePtr = std::shared_ptr<SessionRoute>;

}  // namespace hongyan
