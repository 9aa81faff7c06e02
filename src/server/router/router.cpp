#include "server/router/router.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include <boost/asio/post.hpp>

#include "server/c2s/client_session.hpp"
#include "server/host.hpp"
#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/router/session_registry.hpp"
#include "server/run_on.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "server/storage/storage_error.hpp"
#include "xmpp/message_kinds.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan {

namespace asio = boost::asio;
using c2s::ClientSession;
using xml::Element;

namespace {

// The entry for `domain`, or else for the nearest parent domain that has one, or end().
template <class Map>
auto find_domain(const Map& map, std::string_view domain) -> decltype(map.find(domain)) {
    for (;;) {
        auto it = map.find(domain);
        if (it != map.end()) return it;
        auto dot = domain.find('.');
        if (dot == std::string_view::npos) return map.end();
        domain.remove_prefix(dot + 1);
    }
}

// Domains nothing here routes to. Federation (s2s) is a later route of its own; until then
// a stanza for another server is answered with <remote-server-not-found/> (RFC 6120
// §10.4.3), and one for a component that is configured but not connected with
// <service-unavailable/>.
class UnreachableRoute final : public Route {
  public:
    explicit UnreachableRoute(ServerContext& server) : server_(server) {}
    std::string_view kind() const override { return "unreachable"; }
    void deliver(Element stanza) override {
        const auto& secrets = server_.settings.component_secrets;
        auto to = Jid::parse(stanza.attr("to"));
        std::string domain = to ? to->domain() : std::string();
        if (find_domain(secrets, domain) != secrets.end())
            server_.router->bounce_routed(stanza, StanzaErrorCondition::service_unavailable,
                                          "the component " + domain + " is not connected");
        else
            server_.router->bounce_routed(stanza, StanzaErrorCondition::remote_server_not_found,
                                          "this server does not federate with " + domain);
    }

  private:
    ServerContext& server_;
};

}  // namespace

Router::Router(ServerContext& server)
    : server_(server), unreachable_(std::make_shared<UnreachableRoute>(server)) {}

Router::~Router() = default;

bool Router::add_route(const std::string& domain, std::shared_ptr<Route> route) {
    std::unique_lock lock(routes_mu_);
    return routes_.emplace(domain, std::move(route)).second;
}

void Router::remove_route(const std::string& domain, const Route* route) {
    std::unique_lock lock(routes_mu_);
    auto it = routes_.find(domain);
    if (it != routes_.end() && it->second.get() == route) routes_.erase(it);
}

void Router::clear_routes() {
    std::unique_lock lock(routes_mu_);
    routes_.clear();
}

std::shared_ptr<Route> Router::find_route(std::string_view domain) const {
    std::shared_lock lock(routes_mu_);
    auto it = find_domain(routes_, domain);
    return it == routes_.end() ? unreachable_ : it->second;
}

std::vector<std::string> Router::routed_domains() const {
    std::shared_lock lock(routes_mu_);
    std::vector<std::string> out;
    for (const auto& [domain, route] : routes_) out.push_back(domain);
    return out;
}

void Router::route(Element stanza) {
    auto to = Jid::parse(stanza.attr("to"));
    if (!to) return;
    Host* host = server_.find_host(to->domain());
    if (!host) {
        find_route(to->domain())->deliver(std::move(stanza));
        return;
    }
    if (to->local().empty()) return;  // for the server itself: nothing to do with it
    if (stanza.name() == "presence") {
        auto from = Jid::parse(stanza.attr("from"));
        if (from && from->domain() != to->domain()) {
            // From another host of this server: the recipient's IM core takes it as it
            // takes a component's (subscriptions, probes), on an I/O thread chosen by
            // the recipient, so that one sender's presence to one user stays in order.
            const auto& io = server_.io_executors;
            if (io.empty()) return;  // not running (shutting down)
            const auto& ex = io[std::hash<std::string>{}(to->bare_str()) % io.size()];
            spawn_logged(ex, route_from_route(std::move(stanza)), "presence between hosts");
            return;
        }
    }
    deliver_local(std::move(stanza), *to);
}

void Router::deliver_local(Element stanza, const Jid& to) {
    if (to.local().empty()) return;
    if (!to.is_bare()) {
        if (auto s = server_.registry->find(to)) s->deliver(stanza.to_string(ns::client));
        return;
    }
    auto bytes = std::make_shared<const std::string>(stanza.to_string(ns::client));
    for (const auto& r : server_.registry->resources(to.str()))
        if (r.state.available) r.session->deliver(bytes);
}

void Router::answer_error(ClientSession* sender, const Element& stanza, const StanzaError& err,
                          std::optional<Element> app) {
    // RFC 6120 §8.3.1: never answer an error with an error.
    if (stanza.attr("type") == "error") return;
    if (!sender && stanza.attr("from").empty()) return;
    Element reply = make_error_reply(stanza, err);
    if (app)
        if (auto* e = reply.child("error", ns::client)) e->add_child(std::move(*app));
    if (!sender) {
        route(std::move(reply));
        return;
    }
    if (!reply.has_attr("from")) reply.set_attr("from", sender->host().domain);
    sender->send(reply);
}

void Router::bounce_routed(const Element& stanza, StanzaErrorCondition c, std::string text) {
    answer_error(nullptr, stanza, StanzaError{c, std::move(text), {}});
}

void Router::bounce(const Sender& sender, const Element& stanza, StanzaErrorCondition c,
                    std::string text) {
    answer_error(sender.get(), stanza, StanzaError{c, std::move(text), {}});
}

void Router::bounce(ClientSession& sender, const Element& stanza, StanzaErrorCondition c,
                    std::string text) {
    answer_error(&sender, stanza, StanzaError{c, std::move(text), {}});
}

asio::awaitable<void> Router::route_from_client(std::shared_ptr<ClientSession> sender,
                                                Element stanza) {
    std::string_view to_attr = stanza.attr("to");
    std::optional<Jid> to;
    if (!to_attr.empty()) {
        to = Jid::parse(to_attr);
        if (!to) {
            bounce(*sender, stanza, StanzaErrorCondition::jid_malformed,
                   "the 'to' address is not a valid JID");
            co_return;
        }
        stanza.set_attr("to", to->str());
    }
    if (!pre_route(sender.get(), sender->jid(), stanza, to ? *to : sender->jid().bare())) co_return;
    Host* host = to ? server_.find_host(to->domain()) : &sender->host();
    if (!host) {
        co_await route_to_other_domain(std::move(sender), std::move(stanza), *to);
        co_return;
    }
    if (stanza.name() == "iq") {
        co_await route_iq(sender, *host, std::move(stanza), to);
        co_return;
    }
    if (stanza.name() == "message") {
        // RFC 6120 §10.3.1: a message without 'to' is for the sender's own bare JID.
        Jid target = to ? *to : sender->jid().bare();
        if (target.is_domain()) co_return;  // messages to the server itself: nothing to do yet
        const Jid& from = sender->jid();
        co_await route_message(std::move(sender), *host, from, std::move(stanza), target);
        co_return;
    }
    // Presence, to a user of another host too, goes to the route hooks (the presence
    // module: the sender's IM core, which keeps the roster side of a subscription and
    // directed presence, and routes it on).
    co_await route_presence(std::move(sender), std::move(stanza), to);
}

namespace {

modules::StanzaKind kind_of(const Element& stanza) {
    if (stanza.name() == "message") return modules::StanzaKind::message;
    if (stanza.name() == "presence") return modules::StanzaKind::presence;
    return modules::StanzaKind::iq;
}

modules::TargetKind target_of(const Jid& to, const Host* host) {
    if (!host) return modules::TargetKind::other_domain;
    if (to.local().empty()) return modules::TargetKind::host;
    return to.is_bare() ? modules::TargetKind::bare : modules::TargetKind::full;
}

}  // namespace

// A coroutine of its own, so that the copy kept for an error answer is not in the frame
// of every stanza's route_from_client() (past about 1 KiB a frame is no longer recycled
// by the thread and costs a malloc that consolidates the heap).
asio::awaitable<void> Router::route_presence(std::shared_ptr<ClientSession> sender, Element stanza,
                                             std::optional<Jid> to) {
    Element copy = stanza;  // the hook takes its own
    const Jid target = to ? *to : sender->jid().bare();
    try {
        co_await presence_hooks(sender.get(), server_.find_host(target.domain()), sender->jid(),
                                target, stanza);
    } catch (const std::exception& e) {
        spdlog::error("presence from {} failed: {}", sender->jid().str(), e.what());
        bounce(*sender, copy, StanzaErrorCondition::internal_server_error,
               storage::storage_failure_text(e));
    }
}

asio::awaitable<void> Router::presence_hooks(ClientSession* sender, Host* host, const Jid& from,
                                             const Jid& to, Element& stanza) {
    const modules::StanzaEvent ev{
        server_, host, sender, from, to, stanza, modules::StanzaKind::presence, target_of(to, host),
        &stanza};
    co_await server_.modules->run_async_hooks(modules::Phase::route, ev);
}

bool Router::pre_route(ClientSession* sender, const Jid& from, const Element& stanza,
                       const Jid& to) {
    const auto kind = kind_of(stanza);
    Host* host = server_.find_host(to.domain());
    const auto target = target_of(to, host);
    if (!server_.modules->hooked(modules::Phase::pre_route, kind, target)) return true;
    const modules::StanzaEvent ev{server_, host, sender, from, to, stanza, kind, target};
    return server_.modules->run_hooks(modules::Phase::pre_route, ev) == modules::HookResult::pass;
}

void Router::pre_deliver(ClientSession* sender, Host& host, const Jid& from, Element& stanza,
                         const Jid& to) {
    const auto target = target_of(to, &host);
    if (!server_.modules->hooked(modules::Phase::pre_deliver, modules::StanzaKind::message, target))
        return;
    const modules::StanzaEvent ev{
        server_, &host, sender, from, to, stanza, modules::StanzaKind::message, target, &stanza};
    server_.modules->run_hooks(modules::Phase::pre_deliver, ev);
}

void Router::post_deliver(ClientSession* sender, Host& host, const Jid& from, const Element& stanza,
                          const Jid& to) {
    const auto target = target_of(to, &host);
    if (!server_.modules->hooked(modules::Phase::post_deliver, modules::StanzaKind::message,
                                 target))
        return;
    const modules::StanzaEvent ev{
        server_, &host, sender, from, to, stanza, modules::StanzaKind::message, target};
    server_.modules->run_hooks(modules::Phase::post_deliver, ev);
}

asio::awaitable<void> Router::route_iq(std::shared_ptr<ClientSession> sender, Host& host,
                                       Element stanza, const std::optional<Jid>& to) {
    std::string_view type = stanza.attr("type");
    // RFC 6120 §8.2.3: id and a known type are required; get/set carry exactly one payload.
    if (stanza.attr("id").empty() ||
        (type != "get" && type != "set" && type != "result" && type != "error")) {
        bounce(*sender, stanza, StanzaErrorCondition::bad_request,
               "iq needs an id and a type of get, set, result or error");
        co_return;
    }
    const bool request = type == "get" || type == "set";
    const Element* payload = stanza.first_child();
    if (request && (!payload || stanza.children().size() != 1)) {
        bounce(*sender, stanza, StanzaErrorCondition::bad_request,
               "an iq get or set has exactly one child element");
        co_return;
    }
    // Addressed to a full JID of someone online: deliver as is, a request only from
    // someone the recipient shares presence with (RFC 6121 §8.5.3.1). The refusal is the
    // same error as for a resource that is not there (§8.5.3.2.3), so that it tells a
    // stranger nothing about the recipient's presence (§11.1).
    if (to && !to->is_bare()) {
        auto s = server_.registry->find(*to);
        if (s && (!request || may_query(host, sender->jid(), *to, *s))) {
            s->deliver(stanza.to_string(ns::client));
            co_return;
        }
        if (request) bounce(*sender, stanza, StanzaErrorCondition::service_unavailable);
        co_return;
    }
    if (!request) co_return;  // results and errors to the server or a bare JID end here
    modules::IqTarget target =
        (!to || !to->local().empty()) ? modules::IqTarget::account : modules::IqTarget::host;
    // An iq to another user's bare JID is answered on that user's behalf only by handlers
    // registered for other accounts (vCard, last activity, disco); RFC 6121 §8.5.2.1.3.
    if (target == modules::IqTarget::account && to && to->bare() != sender->jid().bare())
        target = modules::IqTarget::other_account;
    const Jid from = sender->jid();
    co_await call_iq_handler(std::move(sender), host, from, std::move(stanza), to, target);
}

bool Router::may_query(Host& host, const Jid& from, const Jid& to,
                       const SessionRoute& route) const {
    if (!server_.settings.iq_requires_presence || from.bare() == to.bare()) return true;
    if (host.im && host.im->shares_presence(to.local(), from).value_or(true)) return true;
    // Directed presence from the recipient's resource (§4.6), to the full or bare JID.
    const auto st = server_.registry->state(to, &route);
    if (!st) return false;
    const auto& directed = st->directed();
    return std::find(directed.begin(), directed.end(), from.str()) != directed.end() ||
           std::find(directed.begin(), directed.end(), from.bare_str()) != directed.end();
}

asio::awaitable<void> Router::call_iq_handler(Sender sender, Host& host, const Jid& from,
                                              Element stanza, std::optional<Jid> to,
                                              modules::IqTarget target) {
    const Element* payload = stanza.first_child();
    auto* entry = server_.modules->find_iq(
        stanza.attr("type") == "get" ? modules::IqType::get : modules::IqType::set, target,
        *payload);
    if (!entry) {
        // RFC 6120 §8.4: nobody here understands the payload.
        bounce(sender, stanza, StanzaErrorCondition::service_unavailable);
        co_return;
    }
    modules::IqRequest req{server_,           host, std::move(sender),
                           std::move(stanza), from, std::move(to)};
    try {
        co_await entry->handler(req);
    } catch (const std::exception& e) {
        spdlog::error("iq handler for {} failed: {}", req.payload().xmlns(), e.what());
        req.error(StanzaErrorCondition::internal_server_error, storage::storage_failure_text(e));
    }
}

asio::awaitable<void> Router::route_message(Sender sender, Host& host, const Jid& from,
                                            Element stanza, const Jid& to) {
    const std::string_view type = stanza.attr("type");
    if (!to.is_bare()) {
        if (auto s = server_.registry->find(to)) {
            pre_deliver(sender.get(), host, from, stanza, to);
            s->deliver(stanza.to_string(ns::client));
            post_deliver(sender.get(), host, from, stanza, to);
            co_return;
        }
        // RFC 6121 §8.5.3.2.1: no such resource. Only chat is treated as if sent to the
        // bare JID; normal and groupchat get an error (the sender learns the resource is
        // gone rather than losing the message), headline and error are dropped.
        if (type == "headline" || type == "error") co_return;
        if (type != "chat") {
            bounce(sender, stanza, StanzaErrorCondition::service_unavailable,
                   "that resource is not online");
            co_return;
        }
    }
    // RFC 6121 §8.5.2.1.1: a groupchat message is never delivered to a user's bare JID.
    if (type == "groupchat") {
        bounce(sender, stanza, StanzaErrorCondition::service_unavailable);
        co_return;
    }
    pre_deliver(sender.get(), host, from, stanza, to.bare());
    // §8.5.2.1.1: the available resources of the highest non-negative priority (the
    // others see it through carbons, XEP-0280).
    auto sessions = server_.registry->message_targets(to.bare_str());
    if (!sessions.empty()) {
        auto bytes = std::make_shared<const std::string>(stanza.to_string(ns::client));
        for (auto& s : sessions) s->deliver(bytes);
        post_deliver(sender.get(), host, from, stanza, to.bare());
        co_return;
    }
    // §8.5.2.2: nobody takes it now. headline and error are dropped; normal and chat go to
    // the deliver hooks (offline storage, XEP-0160), or the sender learns nobody took them.
    if (type == "headline" || type == "error") co_return;
    co_await deliver_hooks(std::move(sender), host, from, stanza, to.bare());
}

asio::awaitable<void> Router::deliver_hooks(Sender sender, Host& host, const Jid& from,
                                            const Element& stanza, const Jid& bare) {
    auto result = modules::HookResult::pass;
    if (server_.modules->hooked(modules::Phase::deliver, modules::StanzaKind::message,
                                modules::TargetKind::bare)) {
        const modules::StanzaEvent ev{server_,
                                      &host,
                                      sender.get(),
                                      from,
                                      bare,
                                      stanza,
                                      modules::StanzaKind::message,
                                      modules::TargetKind::bare};
        try {
            result = co_await server_.modules->run_async_hooks(modules::Phase::deliver, ev);
        } catch (const std::exception& e) {
            // A storage failure: the sender learns the message was not taken.
            spdlog::error("delivery to {} failed: {}", bare.str(), e.what());
            bounce(sender, stanza, StanzaErrorCondition::internal_server_error,
                   storage::storage_failure_text(e));
            co_return;
        }
    }
    if (result == modules::HookResult::handled)
        post_deliver(sender.get(), host, from, stanza, bare);
    else if (result == modules::HookResult::pass)
        bounce(sender, stanza, StanzaErrorCondition::service_unavailable,
               "the recipient is offline and this server keeps no messages");
}

asio::awaitable<void> Router::undeliverable(std::vector<Element> stanzas) {
    for (auto& stanza : stanzas) {
        auto to = Jid::parse(stanza.attr("to"));
        auto from = Jid::parse(stanza.attr("from"));
        if (!to || !from) continue;
        const std::string_view type = stanza.attr("type");
        if (stanza.name() == "iq") {
            if (type == "get" || type == "set")
                bounce_routed(stanza, StanzaErrorCondition::service_unavailable,
                              "the recipient's session ended");
            continue;
        }
        if (stanza.name() != "message") continue;  // contacts hear it went unavailable
        if (type == "headline" || type == "error" || type == "groupchat") continue;
        // Copies of messages that went elsewhere, and answers to the session's own queries.
        if (message_kinds::is_carbon(stanza) || stanza.child("result", ns::mam)) continue;
        Host* host = server_.find_host(to->domain());
        if (!host || to->local().empty()) continue;
        co_await deliver_hooks(nullptr, *host, *from, stanza, to->bare());
    }
}

asio::awaitable<void> Router::route_to_other_domain(Sender sender, Element stanza, const Jid& to) {
    // Presence goes through the IM core, which remembers directed presence (RFC 6121
    // §4.6) and keeps the roster side of subscriptions; it routes the stanza on.
    if (stanza.name() == "presence") {
        co_await route_presence(std::move(sender), std::move(stanza), to);
        co_return;
    }
    if (stanza.name() == "iq" && stanza.attr("id").empty()) {
        bounce(*sender, stanza, StanzaErrorCondition::bad_request, "iq needs an id");
        co_return;
    }
    find_route(to.domain())->deliver(std::move(stanza));
}

asio::awaitable<void> Router::route_from_route(Element stanza) {
    auto from = Jid::parse(stanza.attr("from"));
    auto to = Jid::parse(stanza.attr("to"));
    if (!from || !to) co_return;  // the route checked both
    if (!pre_route(nullptr, *from, stanza, *to)) co_return;
    Host* host = server_.find_host(to->domain());
    if (!host) {
        // A component's stanza for another component (or a remote domain).
        find_route(to->domain())->deliver(std::move(stanza));
        co_return;
    }
    const std::string_view type = stanza.attr("type");
    if (stanza.name() == "iq" && (type == "get" || type == "set") && to->is_bare()) {
        // A request to the server (disco, ping, version, ...) or on behalf of an account
        // (vCard, last activity; RFC 6121 §8.5.2.1.3), answered by the same handlers as
        // for local clients, with the answer routed back.
        const Element* payload = stanza.first_child();
        if (!payload || stanza.children().size() != 1) {
            bounce_routed(stanza, StanzaErrorCondition::bad_request,
                          "an iq get or set has exactly one child element");
            co_return;
        }
        const auto target =
            to->local().empty() ? modules::IqTarget::host : modules::IqTarget::other_account;
        const Jid sender_jid = *from;
        std::optional<Jid> target_jid = *to;
        co_await call_iq_handler(nullptr, *host, sender_jid, std::move(stanza),
                                 std::move(target_jid), target);
        co_return;
    }
    if (to->local().empty()) co_return;  // other stanzas for the server itself end here
    if (stanza.name() == "message") {
        const Jid target = *to;
        co_await route_message(nullptr, *host, *from, std::move(stanza), target);
        co_return;
    }
    if (stanza.name() == "presence") {
        // The route hooks (the presence module): subscriptions with contacts at other
        // domains, probes, delivery.
        const Jid sender_jid = *from, target = *to;
        try {
            co_await presence_hooks(nullptr, host, sender_jid, target, stanza);
        } catch (const std::exception& e) {
            // Presence has no answer to give (RFC 6121 §3.1.3 leaves a request to be
            // resent); the roster did not change.
            spdlog::error("presence from {} to {} failed: {}", sender_jid.str(), target.str(),
                          e.what());
        }
        co_return;
    }
    route_inbound(std::move(stanza), *to);
}

void Router::route_inbound(Element stanza, const Jid& to) {
    // Only iq comes here: requests to a bare JID were answered by the handlers, results and
    // errors to a bare JID end here (RFC 6121 §8.5.2.1.3).
    if (to.is_bare()) return;
    // §8.5.3: to a resource that is online, or an error for a request.
    const std::string_view type = stanza.attr("type");
    if (auto s = server_.registry->find(to))
        s->deliver(stanza.to_string(ns::client));
    else if (type == "get" || type == "set")
        bounce_routed(stanza, StanzaErrorCondition::service_unavailable);
}

}  // namespace hongyan
