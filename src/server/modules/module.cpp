#include "server/modules/module.hpp"

#include <fmt/format.h>

#include "server/c2s/c2s_session.hpp"
#include "server/server_context.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

const xml::Element& IqRequest::payload() const {
    return *iq.first_child();
}

void IqRequest::reply(std::optional<xml::Element> payload) {
    xml::Element r("iq", std::string(ns::client));
    r.set_attr("type", "result");
    r.set_attr("id", iq.attr("id"));
    if (from) r.set_attr("to", from->str());
    if (to) r.set_attr("from", to->str());
    if (payload) r.add_child(std::move(*payload));
    session->send(r);
}

void IqRequest::error(const StanzaError& err) {
    xml::Element r = make_error_reply(iq, err);
    if (!from) r.remove_attr("to");
    session->send(r);
}

const ModuleHost::Entry* ModuleHost::find_iq(IqType type, IqTarget target,
                                             std::string_view ns) const {
    auto it = iq_.find(std::make_tuple(type, target, std::string(ns)));
    return it == iq_.end() ? nullptr : &it->second;
}

void ModuleContext::add_feature(std::string_view ns) {
    for (const auto& f : host_.features_)
        if (f == ns) return;
    host_.features_.emplace_back(ns);
}

void ModuleContext::add_identity(std::string category, std::string type, std::string name) {
    host_.identities_.push_back(Identity{std::move(category), std::move(type), std::move(name)});
}

void ModuleContext::on_iq(IqType type, IqTarget target, std::string_view ns, IqHandler handler,
                          bool pre_auth) {
    host_.iq_[std::make_tuple(type, target, std::string(ns))] =
        ModuleHost::Entry{std::move(handler), pre_auth};
}

void ModuleContext::add_stream_feature(StreamPhase phase, xml::Element feature) {
    (phase == StreamPhase::pre_auth ? host_.pre_auth_features_ : host_.post_auth_features_)
        .push_back(std::move(feature));
}

std::string protocols_markdown() {
    std::string out =
        "| specification | title | version | status | where | notes |\n"
        "| --- | --- | --- | --- | --- | --- |\n";
    auto row = [&](const ProtocolSupport& p, std::string_view where) {
        out += fmt::format("| {} | {} | {} | {} | {} | {} |\n", p.spec, p.title,
                           p.version.empty() ? "—" : p.version, p.status, where, p.notes);
    };
    for (const auto& p : core_protocols()) row(p, "core");
    for (const auto& m : all_modules())
        for (const auto& p : m->protocols()) row(p, fmt::format("`{}` module", m->name()));
    return out;
}

}  // namespace hongyan::modules
