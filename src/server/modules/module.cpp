#include "server/modules/module.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "server/c2s/client_session.hpp"
#include "server/router/router.hpp"
#include "server/server_context.hpp"
#include "xmpp/caps.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/xml_stream_parser.hpp"

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
    send(std::move(r));
}

void IqRequest::send(xml::Element reply) {
    if (session)
        session->send(reply);
    else
        server.router->route(std::move(reply));
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
    if (session) {
        session->send_stanza(std::move(out));
        return;
    }
    // A route takes elements: the stored XML is parsed once more.
    auto parsed = xml::parse_stanza(out, ns::client);
    if (!parsed) {
        error(StanzaErrorCondition::internal_server_error, "stored XML could not be read");
        return;
    }
    send(std::move(*parsed));
}

void IqRequest::error(const StanzaError& err, std::optional<xml::Element> app) {
    xml::Element r = make_error_reply(iq, err);
    if (app)
        if (auto* e = r.child("error", ns::client)) e->add_child(std::move(*app));
    if (!from) r.remove_attr("to");
    send(std::move(r));
}

const std::string& ModuleHost::caps_ver() const {
    std::call_once(caps_once_, [this] {
        // XEP-0115 §5.1 over what disco#info of the server answers.
        xml::Element q("query", std::string(ns::disco_info));
        for (const auto& i : identities_)
            q.add_child("identity", std::string(ns::disco_info))
                .set_attr("category", i.category)
                .set_attr("type", i.type)
                .set_attr("name", i.name);
        for (const auto& f : features_)
            q.add_child("feature", std::string(ns::disco_info)).set_attr("var", f);
        caps_ver_ = *caps::ver(q, "sha-1");
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
                                             const xml::Element& payload) const {
    if (has_child_handlers_) {
        auto children = payload.children();
        if (children.size() == 1) {
            std::string key = payload.xmlns();
            key += ' ';
            key += children.front()->xmlns();
            if (const auto* e = find_iq(type, target, key)) return e;
        }
    }
    return find_iq(type, target, payload.xmlns());
}

const ModuleHost::Entry* ModuleHost::find_iq(IqType type, IqTarget target,
                                             std::string_view ns) const {
    auto it = iq_.find(std::make_tuple(type, target, std::string(ns)));
    return it == iq_.end() ? nullptr : &it->second;
}

void StanzaEvent::error(const StanzaError& err, std::optional<xml::Element> app) const {
    server.router->answer_error(session, stanza, err, std::move(app));
}

HookResult ModuleHost::run_hooks(Phase phase, const StanzaEvent& ev) const {
    for (const auto& h : hooks_[slot(phase, ev.kind, ev.target)])
        if (auto r = h.sync(ev); r != HookResult::pass) return r;
    return HookResult::pass;
}

boost::asio::awaitable<HookResult> ModuleHost::run_async_hooks(Phase phase,
                                                               const StanzaEvent& ev) const {
    for (const auto& h : hooks_[slot(phase, ev.kind, ev.target)])
        if (auto r = co_await h.async(ev); r != HookResult::pass) co_return r;
    co_return HookResult::pass;
}

namespace {
template <class V>
void erase_owned(V& values, std::vector<std::string>& owners, std::string_view name) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (owners[i] == name) continue;
        if (out != i) {
            values[out] = std::move(values[i]);
            owners[out] = std::move(owners[i]);
        }
        ++out;
    }
    values.resize(out, typename V::value_type{});
    owners.resize(out);
}
}  // namespace

void ModuleContext::set_session_hooks(SessionHooks hooks) {
    if (!host_.session_hooks_owner_.empty())
        throw std::logic_error("session hooks are registered already, by " +
                               host_.session_hooks_owner_);
    host_.session_hooks_ = std::move(hooks);
    host_.session_hooks_owner_ = module_;
}

void ModuleHost::remove_module(std::string_view name) {
    if (session_hooks_owner_ == name) {
        session_hooks_ = {};
        session_hooks_owner_.clear();
    }
    std::erase_if(iq_, [&](const auto& kv) { return kv.second.module == name; });
    for (auto& v : hooks_) std::erase_if(v, [&](const Hook& h) { return h.module == name; });
    erase_owned(features_, feature_owner_, name);
    erase_owned(account_features_, account_feature_owner_, name);
    erase_owned(identities_, identity_owner_, name);
    erase_owned(account_identities_, account_identity_owner_, name);
    erase_owned(pre_auth_features_, pre_auth_owner_, name);
    erase_owned(post_auth_features_, post_auth_owner_, name);
    erase_owned(ack_barriers_, ack_barrier_owner_, name);
    for (auto it = disco_node_owner_.begin(); it != disco_node_owner_.end();) {
        if (it->second == name) {
            disco_nodes_.erase(it->first);
            it = disco_node_owner_.erase(it);
        } else {
            ++it;
        }
    }
    std::erase(module_names_, std::string(name));
}

void ModuleContext::begin_module(std::string name) {
    module_ = std::move(name);
    if (std::find(host_.module_names_.begin(), host_.module_names_.end(), module_) ==
        host_.module_names_.end())
        host_.module_names_.push_back(module_);
}

void ModuleContext::add_feature(std::string_view ns) {
    for (const auto& f : host_.features_)
        if (f == ns) return;
    host_.features_.emplace_back(ns);
    host_.feature_owner_.push_back(module_);
}

void ModuleContext::add_ack_barrier(AckBarrier barrier) {
    host_.ack_barriers_.push_back(std::move(barrier));
    host_.ack_barrier_owner_.push_back(module_);
}

void ModuleContext::add_account_feature(std::string_view ns) {
    for (const auto& f : host_.account_features_)
        if (f == ns) return;
    host_.account_features_.emplace_back(ns);
    host_.account_feature_owner_.push_back(module_);
}

void ModuleContext::add_identity(std::string category, std::string type, std::string name) {
    host_.identities_.push_back(Identity{std::move(category), std::move(type), std::move(name)});
    host_.identity_owner_.push_back(module_);
}

void ModuleContext::add_account_identity(std::string category, std::string type, std::string name) {
    host_.account_identities_.push_back(
        Identity{std::move(category), std::move(type), std::move(name)});
    host_.account_identity_owner_.push_back(module_);
}

void ModuleContext::on_iq(IqType type, IqTarget target, std::string_view ns, IqHandler handler,
                          bool pre_auth) {
    host_.iq_[std::make_tuple(type, target, std::string(ns))] =
        ModuleHost::Entry{std::move(handler), pre_auth, module_};
}

void ModuleContext::on_iq_child(IqType type, IqTarget target, std::string_view ns,
                                std::string_view child_ns, IqHandler handler) {
    // Under "<ns> <child ns>": namespaces hold no spaces.
    on_iq(type, target, std::string(ns) + " " + std::string(child_ns), std::move(handler));
    host_.has_child_handlers_ = true;
}

void ModuleContext::add_disco_node(std::string node, DiscoNode handlers) {
    host_.disco_node_owner_[node] = module_;
    host_.disco_nodes_[std::move(node)] = std::move(handlers);
}

void ModuleContext::on_stanza(Phase phase, std::string_view route, int priority,
                              StanzaHook handler) {
    if (phase == Phase::deliver)
        throw std::invalid_argument("deliver hooks are asynchronous: use on_deliver()");
    if (phase == Phase::route)
        throw std::invalid_argument("route hooks are asynchronous: use on_route()");
    add_hook(phase, route, ModuleHost::Hook{priority, module_, std::move(handler), {}});
}

void ModuleContext::on_deliver(std::string_view route, int priority, DeliverHook handler) {
    add_hook(Phase::deliver, route, ModuleHost::Hook{priority, module_, {}, std::move(handler)});
}

void ModuleContext::on_route(std::string_view route, int priority, DeliverHook handler) {
    add_hook(Phase::route, route, ModuleHost::Hook{priority, module_, {}, std::move(handler)});
}

void ModuleContext::add_hook(Phase phase, std::string_view route, ModuleHost::Hook hook) {
    auto bad = [&] {
        return std::invalid_argument("stanza hook route '" + std::string(route) +
                                     "': expected <message|presence|iq|*>/<host|bare|full|"
                                     "domain|*>");
    };
    auto slash = route.find('/');
    if (slash == std::string_view::npos) throw bad();
    const std::string_view kind = route.substr(0, slash), target = route.substr(slash + 1);
    std::vector<StanzaKind> kinds;
    if (kind == "message" || kind == "*") kinds.push_back(StanzaKind::message);
    if (kind == "presence" || kind == "*") kinds.push_back(StanzaKind::presence);
    if (kind == "iq" || kind == "*") kinds.push_back(StanzaKind::iq);
    std::vector<TargetKind> targets;
    if (target == "host" || target == "*") targets.push_back(TargetKind::host);
    if (target == "bare" || target == "*") targets.push_back(TargetKind::bare);
    if (target == "full" || target == "*") targets.push_back(TargetKind::full);
    if (target == "domain" || target == "*") targets.push_back(TargetKind::other_domain);
    if (kinds.empty() || targets.empty()) throw bad();
    // Deliver hooks take messages the sessions did not (see Phase).
    if ((phase == Phase::deliver || phase == Phase::pre_deliver) &&
        (kinds.size() != 1 || kinds[0] != StanzaKind::message))
        throw std::invalid_argument("deliver and pre_deliver hooks are for messages only");
    // Route hooks take presence (see Phase): the router routes the other kinds itself.
    if (phase == Phase::route && (kinds.size() != 1 || kinds[0] != StanzaKind::presence))
        throw std::invalid_argument("route hooks are for presence only");
    for (auto k : kinds)
        for (auto t : targets) {
            auto& v = host_.hooks_[ModuleHost::slot(phase, k, t)];
            // Descending priority; equal priorities keep registration order.
            auto pos = std::find_if(v.begin(), v.end(), [&](const ModuleHost::Hook& h) {
                return h.priority < hook.priority;
            });
            v.insert(pos, hook);
        }
}

const DiscoNode* ModuleHost::disco_node(std::string_view node) const {
    auto it = disco_nodes_.find(node);
    return it == disco_nodes_.end() ? nullptr : &it->second;
}

void ModuleContext::add_stream_feature(StreamPhase phase, xml::Element feature) {
    const bool pre = phase == StreamPhase::pre_auth;
    (pre ? host_.pre_auth_features_ : host_.post_auth_features_).push_back(std::move(feature));
    (pre ? host_.pre_auth_owner_ : host_.post_auth_owner_).push_back(module_);
}

std::vector<storage::SchemaPart> schema(std::string_view backend) {
    std::vector<storage::SchemaPart> out;
    for (const auto& m : all_modules())
        if (auto migrations = m->migrations(backend); !migrations.empty())
            out.push_back({std::string(m->name()), std::move(migrations)});
    return out;
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
