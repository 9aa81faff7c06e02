#include "server/modules/module.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "server/c2s/client_session.hpp"
#include "server/server_context.hpp"
#include "xmpp/crypto.hpp"
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

void IqRequest::reply_raw(std::string_view payload_xml) {
    std::string out = "<iq type=\"result\" id=\"";
    xml::escape_attr(iq.attr("id"), out);
    out += '"';
    if (from) {
        out += " to=\"";
        xml::escape_attr(from->str(), out);
        out += '"';
    }
    if (to) {
        out += " from=\"";
        xml::escape_attr(to->str(), out);
        out += '"';
    }
    out += '>';
    out += payload_xml;
    out += "</iq>";
    session->send_stanza(std::move(out));
}

void IqRequest::error(const StanzaError& err, std::optional<xml::Element> app) {
    xml::Element r = make_error_reply(iq, err);
    if (app)
        if (auto* e = r.child("error", ns::client)) e->add_child(std::move(*app));
    if (!from) r.remove_attr("to");
    session->send(r);
}

const std::string& ModuleHost::caps_ver() const {
    std::call_once(caps_once_, [this] {
        // XEP-0115 §5.1: identities sorted, "category/type/lang/name<", then features
        // sorted, each followed by '<'; base64 of the SHA-1.
        std::vector<std::string> ids, feats(features_.begin(), features_.end());
        for (const auto& i : identities_) ids.push_back(i.category + "/" + i.type + "//" + i.name);
        std::sort(ids.begin(), ids.end());
        std::sort(feats.begin(), feats.end());
        std::string s;
        for (const auto& i : ids) s += i + "<";
        for (const auto& f : feats) s += f + "<";
        caps_ver_ = crypto::base64_encode(crypto::digest(crypto::Hash::sha1, s));
        caps_feature_ = xml::Element("c", std::string(ns::caps));
        caps_feature_.set_attr("hash", "sha-1");
        caps_feature_.set_attr("node", caps_node);
        caps_feature_.set_attr("ver", caps_ver_);
    });
    return caps_ver_;
}

std::string ModuleHost::caps_node_ver() const {
    return std::string(caps_node) + "#" + caps_ver();
}

const xml::Element& ModuleHost::caps_feature() const {
    caps_ver();
    return caps_feature_;
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

void ModuleContext::add_disco_node(std::string node, DiscoNode handlers) {
    host_.disco_nodes_[std::move(node)] = std::move(handlers);
}

const DiscoNode* ModuleHost::disco_node(std::string_view node) const {
    auto it = disco_nodes_.find(node);
    return it == disco_nodes_.end() ? nullptr : &it->second;
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
