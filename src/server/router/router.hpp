// Decides where a stanza goes (RFC 6120 §10, RFC 6121 §8): to a server handler, to a local
// account, to a bound session, to a route of another kind (an external component; later
// hosted services, remote domains and cluster nodes), or back as an error. Modules never
// re-implement routing; they register handlers that the router calls.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "server/router/route.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/stanza_error.hpp"
#include "xmpp/xml.hpp"

namespace hongyan {

struct ServerContext;
struct Host;
class SessionRoute;
namespace c2s {
class ClientSession;
}
namespace modules {
enum class IqTarget;
}

class Router {
  public:
    explicit Router(ServerContext& server);
    ~Router();

    // A stanza from an authenticated, bound client; `from` is already stamped.
    boost::asio::awaitable<void> route_from_client(std::shared_ptr<c2s::ClientSession> sender,
                                                   xml::Element stanza);
    // A stanza from a route (an external component), with 'from' and 'to' set, valid and
    // checked by the route, in jabber:client. Errors go back to its 'from' through route().
    boost::asio::awaitable<void> route_from_route(xml::Element stanza);
    // Sends a stanza on its way without any of the checks above: an error or a result
    // the server itself generates, or a stanza for a non-local domain. Local full JIDs get
    // it if online, local bare JIDs on their available resources, other domains through
    // their route. Any thread.
    void route(xml::Element stanza);
    // The last step of route() for a JID of a host here: to the full JID's session if
    // online, or to the bare JID's available resources. Presence from another domain comes
    // here once the recipient's IM core has taken it. Any thread.
    void deliver_local(xml::Element stanza, const Jid& to);
    // Answers `stanza` with an error (RFC 6120 §8.3; never an error to an error): to the
    // local client `sender`, or routed back to its 'from' when `sender` is null. `app`
    // goes inside <error/> (§8.3.2).
    void answer_error(c2s::ClientSession* sender, const xml::Element& stanza,
                      const StanzaError& err, std::optional<xml::Element> app = std::nullopt);
    void bounce_routed(const xml::Element& stanza, StanzaErrorCondition c, std::string text = {});
    // Stanzas a session had taken but its client never acknowledged (XEP-0198 §5: the
    // session ended without a resume), in order: each is treated as if sent now to a
    // resource that is gone (RFC 6121 §8.5.3.2): chat and normal messages go to the
    // deliver hooks (offline storage, or the user's other resources), requests get
    // <service-unavailable/>, the rest (presence, copies, archive results) is dropped. On
    // the caller's executor.
    boost::asio::awaitable<void> undeliverable(std::vector<xml::Element> stanzas);

    // Routes for domains other than the server's own: `domain` and its subdomains go to
    // `route` (XEP-0114 §3: a component serves its hostname). False when the domain has
    // one already (the caller refuses with <conflict/>).
    bool add_route(const std::string& domain, std::shared_ptr<Route> route);
    void remove_route(const std::string& domain, const Route* route);
    // Drops every route (at shutdown, before the I/O threads' event loops go: a
    // component's connection must not outlive its socket's io_context).
    void clear_routes();
    // The route for `domain` (the server's own domain has none): a connected component for
    // it or a parent domain, or the route that answers for unreachable domains.
    std::shared_ptr<Route> find_route(std::string_view domain) const;
    // Domains of the routes connected now (for disco#items of the server).
    std::vector<std::string> routed_domains() const;

  private:
    // Where errors for a stanza go: back to the local client that sent it, or (null) routed
    // to its 'from'.
    using Sender = std::shared_ptr<c2s::ClientSession>;
    // `host`: the host of 'to' (or the sender's, without 'to').
    boost::asio::awaitable<void> route_iq(std::shared_ptr<c2s::ClientSession> sender, Host& host,
                                          xml::Element stanza, const std::optional<Jid>& to);
    // Hands a presence to the route hooks (the presence module), which may take the stanza.
    boost::asio::awaitable<void> presence_hooks(c2s::ClientSession* sender, Host* host,
                                                const Jid& from, const Jid& to,
                                                xml::Element& stanza);
    boost::asio::awaitable<void> route_presence(std::shared_ptr<c2s::ClientSession> sender,
                                                xml::Element stanza, std::optional<Jid> to);
    // Whether an iq request from `from` may reach the resource `to` (RFC 6121 §8.5.3.1).
    bool may_query(Host& host, const Jid& from, const Jid& to, const SessionRoute& route) const;
    // The module handler for an iq get/set, with the answer back to `sender` (or routed
    // to `from` when null); <service-unavailable/> when nobody handles it.
    boost::asio::awaitable<void> call_iq_handler(Sender sender, Host& host, const Jid& from,
                                                 xml::Element stanza, std::optional<Jid> to,
                                                 modules::IqTarget target);
    // A message for an account of `host`, from a local client (`sender`, maybe of another
    // host) or a route (null); `from` is the sender's JID.
    boost::asio::awaitable<void> route_message(Sender sender, Host& host, const Jid& from,
                                               xml::Element stanza, const Jid& to);
    // The deliver hooks for a normal or chat message nobody takes now (offline storage),
    // or an error to its sender when none took it.
    boost::asio::awaitable<void> deliver_hooks(Sender sender, Host& host, const Jid& from,
                                               const xml::Element& stanza, const Jid& to);
    // A stanza for a domain of another route, from a local client.
    boost::asio::awaitable<void> route_to_other_domain(Sender sender, xml::Element stanza,
                                                       const Jid& to);
    // An iq from a route for a local JID that no handler answered.
    void route_inbound(xml::Element stanza, const Jid& to);
    // The pre-route hooks (modules/module.hpp): false when one stopped the stanza (and
    // answered the sender). `sender` is null for a stanza from a route.
    bool pre_route(c2s::ClientSession* sender, const Jid& from, const xml::Element& stanza,
                   const Jid& to);
    // The pre-deliver hooks, just before a message goes to its sessions or to the deliver
    // hooks (they may add to it); the post-deliver hooks once it reached its target.
    void pre_deliver(c2s::ClientSession* sender, Host& host, const Jid& from, xml::Element& stanza,
                     const Jid& to);
    void post_deliver(c2s::ClientSession* sender, Host& host, const Jid& from,
                      const xml::Element& stanza, const Jid& to);
    void bounce(c2s::ClientSession& sender, const xml::Element& stanza, StanzaErrorCondition c,
                std::string text = {});
    void bounce(const Sender& sender, const xml::Element& stanza, StanzaErrorCondition c,
                std::string text = {});
    ServerContext& server_;
    mutable std::shared_mutex routes_mu_;
    std::map<std::string, std::shared_ptr<Route>, std::less<>> routes_;
    std::shared_ptr<Route> unreachable_;
};

}  // namespace hongyan
