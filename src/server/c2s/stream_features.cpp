#include "server/c2s/stream_features.hpp"

#include "server/modules/module.hpp"
#include "server/net/transport.hpp"
#include "server/server_context.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::c2s {

using xml::Element;

bool tls_required(const ServerContext& server, const net::Transport& transport) {
    // Transports that cannot add TLS themselves (WebSocket) were admitted in the clear
    // only where the configuration allows it.
    return server.settings.require_tls && !transport.secure() && transport.can_starttls();
}

std::string stream_features(const ServerContext& server, const net::Transport& transport,
                            bool authenticated, const std::vector<std::string>& mechanisms) {
    const Settings& s = server.settings;
    Element features("features", ns::streams);
    if (!authenticated) {
        if (transport.can_starttls()) {
            auto& tls = features.add_child("starttls", std::string(ns::tls));
            if (s.require_tls) tls.add_child("required", std::string(ns::tls));
        }
        if (!tls_required(server, transport)) {
            auto& mechs = features.add_child("mechanisms", std::string(ns::sasl));
            for (const auto& m : mechanisms)
                mechs.add_child("mechanism", std::string(ns::sasl)).add_text(m);
            for (const auto& f : server.modules->stream_features(modules::StreamPhase::pre_auth))
                features.add_child(f);
            features.add_child(server.modules->caps_feature());
        }
    } else {
        features.add_child("bind", std::string(ns::bind));
        if (s.sm_enabled) features.add_child("sm", std::string(ns::sm));  // XEP-0198 §2
        features.add_child("csi", std::string(ns::csi));                  // XEP-0352 §5
        for (const auto& f : server.modules->stream_features(modules::StreamPhase::post_auth))
            features.add_child(f);
        features.add_child(server.modules->caps_feature());
    }
    std::string out = "<stream:features";
    out += transport.stream_prefix_declaration();
    out += '>';
    for (const auto* c : features.children()) c->serialize(out, ns::client);
    out += "</stream:features>";
    return out;
}

}  // namespace hongyan::c2s
