// Decides where a stanza from a local client goes (RFC 6120 §10, RFC 6121 §8): to a server
// handler, to a local account, to a bound session, or back as an error. Modules never
// re-implement routing; they register handlers that the router calls.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <vector>

#include "xmpp/jid.hpp"
#include "xmpp/stanza_error.hpp"
#include "xmpp/xml.hpp"

namespace hongyan {

struct ServerContext;
namespace c2s {
class ClientSession;
}

class Router {
  public:
    explicit Router(ServerContext& server) : server_(server) {}

    // A stanza from an authenticated, bound client; `from` is already stamped.
    boost::asio::awaitable<void> route_from_client(std::shared_ptr<c2s::ClientSession> sender,
                                                   xml::Element stanza);
    // Hands one serialised stanza to a session, on that session's own thread.
    static void deliver(const std::shared_ptr<c2s::ClientSession>& target, std::string stanza);
    static void deliver(const std::shared_ptr<c2s::ClientSession>& target,
                        std::shared_ptr<const std::string> stanza);
    // Several stanzas, in this order.
    static void deliver(const std::shared_ptr<c2s::ClientSession>& target,
                        std::vector<std::shared_ptr<const std::string>> stanzas);

  private:
    boost::asio::awaitable<void> route_iq(std::shared_ptr<c2s::ClientSession> sender,
                                          xml::Element stanza, const std::optional<Jid>& to);
    boost::asio::awaitable<void> route_presence(std::shared_ptr<c2s::ClientSession> sender,
                                                xml::Element stanza, std::optional<Jid> to);
    boost::asio::awaitable<void> route_message(std::shared_ptr<c2s::ClientSession> sender,
                                               xml::Element stanza, const Jid& to);
    // XEP-0191: false (and the sender answered) when a blocklist stops the stanza.
    bool blocking_allows(c2s::ClientSession& sender, const xml::Element& stanza, const Jid& to);
    void bounce(c2s::ClientSession& sender, const xml::Element& stanza, StanzaErrorCondition c,
                std::string text = {});
    ServerContext& server_;
};

}  // namespace hongyan
