#include "server/router/router.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "server/c2s/client_session.hpp"
#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/router/session_registry.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "server/storage/storage_error.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan {

namespace asio = boost::asio;
using c2s::ClientSession;
using xml::Element;

// Directly when that keeps the order (on the session's own thread, nothing posted to it
// waiting: ClientSession::can_queue_now()), else a post.
void Router::deliver(const std::shared_ptr<ClientSession>& target, std::string stanza) {
    if (target->can_queue_now()) {
        target->send_stanza(std::move(stanza));
        return;
    }
    target->post(
        [target, stanza = std::move(stanza)]() mutable { target->send_stanza(std::move(stanza)); });
}

void Router::deliver(const std::shared_ptr<ClientSession>& target,
                     std::shared_ptr<const std::string> stanza) {
    if (target->can_queue_now()) {
        target->send_stanza(std::move(stanza));
        return;
    }
    target->post(
        [target, stanza = std::move(stanza)]() mutable { target->send_stanza(std::move(stanza)); });
}

void Router::deliver(const std::shared_ptr<ClientSession>& target,
                     std::vector<std::shared_ptr<const std::string>> stanzas) {
    if (stanzas.empty()) return;
    auto send_all = [target, stanzas = std::move(stanzas)]() mutable {
        for (auto& s : stanzas) target->send_stanza(std::move(s));
    };
    if (target->can_queue_now())
        send_all();
    else
        target->post(std::move(send_all));
}

void Router::bounce(ClientSession& sender, const Element& stanza, StanzaErrorCondition c,
                    std::string text) {
    // RFC 6120 §8.3.1: never answer an error with an error.
    if (stanza.attr("type") == "error") return;
    Element reply = make_error_reply(stanza, StanzaError{c, std::move(text), {}});
    if (!reply.has_attr("from")) reply.set_attr("from", server_.settings.domain);
    sender.send(reply);
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
    if (to && to->domain() != server_.settings.domain) {
        // Federation (s2s) is not available yet.
        bounce(*sender, stanza, StanzaErrorCondition::remote_server_not_found,
               "this server does not federate with " + to->domain());
        co_return;
    }
    if (to && !to->local().empty() && to->bare() != sender->jid().bare() &&
        !blocking_allows(*sender, stanza, *to))
        co_return;
    if (stanza.name() == "iq") {
        co_await route_iq(sender, std::move(stanza), to);
        co_return;
    }
    if (stanza.name() == "message") {
        // RFC 6120 §10.3.1: a message without 'to' is for the sender's own bare JID.
        Jid target = to ? *to : sender->jid().bare();
        if (target.is_domain()) co_return;  // messages to the server itself: nothing to do yet
        co_await route_message(sender, std::move(stanza), target);
        co_return;
    }
    co_await route_presence(std::move(sender), std::move(stanza), to);
}

// A coroutine of its own, so that the copy kept for an error answer is not in the frame
// of every stanza's route_from_client() (past about 1 KiB a frame is no longer recycled
// by the thread and costs a malloc that consolidates the heap).
asio::awaitable<void> Router::route_presence(std::shared_ptr<ClientSession> sender, Element stanza,
                                             std::optional<Jid> to) {
    Element copy = stanza;  // presence() consumes its own
    try {
        co_await server_.im->presence(sender, std::move(stanza), std::move(to));
    } catch (const std::exception& e) {
        spdlog::error("presence from {} failed: {}", sender->jid().str(), e.what());
        bounce(*sender, copy, StanzaErrorCondition::internal_server_error,
               storage::storage_failure_text(e));
    }
}

bool Router::blocking_allows(ClientSession& sender, const Element& stanza, const Jid& to) {
    // XEP-0191 §3.7: nothing goes to a JID the sender blocks; the sender is told.
    const std::string_view type = stanza.attr("type");
    const bool answerable =
        stanza.name() == "message" || (stanza.name() == "iq" && (type == "get" || type == "set"));
    if (server_.im->blocks(sender.jid().local(), to)) {
        if (answerable && type != "error") {
            Element reply = make_error_reply(
                stanza, StanzaError{StanzaErrorCondition::not_acceptable,
                                    "you have blocked this contact", StanzaErrorType::cancel});
            if (auto* err = reply.child("error", ns::client))
                err->add_child("blocked", std::string(ns::blocking_errors));
            sender.send(reply);
        }
        return false;
    }
    // Nothing arrives from a JID the recipient blocks; messages and requests get the
    // same answer as for a user who is not there, presence is dropped silently.
    if (to.domain() == server_.settings.domain && server_.im->blocks(to.local(), sender.jid())) {
        if (answerable) bounce(sender, stanza, StanzaErrorCondition::service_unavailable);
        return false;
    }
    return true;
}

asio::awaitable<void> Router::route_iq(std::shared_ptr<ClientSession> sender, Element stanza,
                                       const std::optional<Jid>& to) {
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
    // Addressed to a full JID of someone online: deliver as is.
    if (to && !to->is_bare()) {
        if (auto s = server_.registry->find(*to)) {
            deliver(s, stanza.to_string(ns::client));
            co_return;
        }
        // RFC 6121 §8.5.3.2.3: no such resource.
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
    auto* entry = server_.modules->find_iq(
        type == "get" ? modules::IqType::get : modules::IqType::set, target, payload->xmlns());
    if (!entry) {
        // RFC 6120 §8.4: nobody here understands the payload.
        bounce(*sender, stanza, StanzaErrorCondition::service_unavailable);
        co_return;
    }
    modules::IqRequest req{server_, sender, std::move(stanza), sender->jid(), to};
    try {
        co_await entry->handler(req);
    } catch (const std::exception& e) {
        spdlog::error("iq handler for {} failed: {}", payload ? req.payload().xmlns() : "",
                      e.what());
        req.error(StanzaErrorCondition::internal_server_error, storage::storage_failure_text(e));
    }
}

asio::awaitable<void> Router::route_message(std::shared_ptr<ClientSession> sender, Element stanza,
                                            const Jid& to) {
    const std::string_view type = stanza.attr("type");
    if (!to.is_bare()) {
        if (auto s = server_.registry->find(to)) {
            deliver(s, stanza.to_string(ns::client));
            co_return;
        }
        // RFC 6121 §8.5.3.2.1: no such resource. Only chat is treated as if sent to the
        // bare JID; normal and groupchat get an error (the sender learns the resource is
        // gone rather than losing the message), headline and error are dropped.
        if (type == "headline" || type == "error") co_return;
        if (type != "chat") {
            bounce(*sender, stanza, StanzaErrorCondition::service_unavailable,
                   "that resource is not online");
            co_return;
        }
    }
    // RFC 6121 §8.5.2.1.1: a groupchat message is never delivered to a user's bare JID.
    if (type == "groupchat") {
        bounce(*sender, stanza, StanzaErrorCondition::service_unavailable);
        co_return;
    }
    // §8.5.2.1.1: every available resource with a non-negative priority.
    auto sessions = server_.registry->message_targets(to.bare_str());
    if (!sessions.empty()) {
        auto bytes = std::make_shared<const std::string>(stanza.to_string(ns::client));
        for (auto& s : sessions) deliver(s, bytes);
        co_return;
    }
    // §8.5.2.2: nobody takes it now. headline and error are dropped; normal and chat are
    // kept for later (XEP-0160), or the sender learns why not.
    if (type == "headline" || type == "error") co_return;
    std::optional<StanzaError> err;
    try {
        err = co_await server_.im->deliver_or_store(sender->jid(), stanza, to.bare());
    } catch (const std::exception& e) {
        // A storage failure: the sender learns the message was not taken.
        spdlog::error("offline message for {} failed: {}", to.bare_str(), e.what());
        err = StanzaError{
            StanzaErrorCondition::internal_server_error, storage::storage_failure_text(e), {}};
    }
    if (err) bounce(*sender, stanza, err->condition, err->text);
}

}  // namespace hongyan
