#include "server/c2s/resource_binding.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include "server/modules/module.hpp"
#include "server/router/session_registry.hpp"
#include "server/server_context.hpp"
#include "xmpp/crypto.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::c2s {

namespace asio = boost::asio;
using xml::Element;

void reply_unrouted_error(ClientSession& session, const Element& request, StanzaErrorCondition c,
                          std::string text) {
    Element reply = make_error_reply(request, StanzaError{c, std::move(text), {}});
    reply.remove_attr("from");
    session.send(reply);
}

asio::awaitable<void> bind_resource(ServerContext& server, const SessionPtr& session,
                                    const Element& iq) {
    const Element* bind = iq.child("bind", ns::bind);
    std::string requested = bind->child_text("resource", ns::bind);
    std::string resource;
    if (!requested.empty()) {
        auto r = jid::resourceprep(requested);
        if (!r) {
            // RFC 6120 §7.7.2.1
            reply_unrouted_error(*session, iq, StanzaErrorCondition::bad_request,
                                 "invalid resource");
            co_return;
        }
        resource = *r;
    } else {
        resource = "hongyan-" + crypto::random_token(10);
    }
    auto full = Jid::make(session->username(), session->host().domain, resource);
    if (!full) {
        reply_unrouted_error(*session, iq, StanzaErrorCondition::bad_request, "invalid JID");
        co_return;
    }
    // The session hooks (the presence module: the user's roster and blocklist are in memory
    // before the first stanza is routed); without them only the registry knows of it.
    const modules::SessionHooks* hooks = session->server().modules->session_hooks();
    Host& host = session->host();
    try {
        if (hooks) co_await hooks->binding(host, *full);
    } catch (const std::exception& e) {
        spdlog::error("binding {} failed: {}", full->str(), e.what());
        reply_unrouted_error(*session, iq, StanzaErrorCondition::internal_server_error,
                             "the server cannot load your account now; try again later");
        co_return;
    }
    if (session->closing()) {
        if (hooks) hooks->abandoned(host, *full);  // what binding() took
        co_return;
    }
    session->set_bound(*full);
    // RFC 6120 §7.7.2.2: the newer session wins; the old one gets <conflict/>.
    RoutePtr old;
    if (hooks) {
        old = hooks->enter(host, *full, session);
    } else if (auto replaced = session->server().registry->add(*full, session)) {
        old = replaced->session;
    }
    if (old) old->terminate(StreamErrorCondition::conflict, "replaced by a new connection");
    Element result("iq", ns::client);
    result.set_attr("type", "result");
    result.set_attr("id", iq.attr("id"));
    result.add_child("bind", std::string(ns::bind))
        .add_child("jid", std::string(ns::bind))
        .add_text(full->str());
    session->send(result);
    spdlog::info("c2s {} bound {}", session->peer(), full->str());
}

}  // namespace hongyan::c2s
