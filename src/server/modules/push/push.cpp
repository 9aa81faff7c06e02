// XEP-0357 Push Notifications: a phone's client registers its app server (a pubsub service,
// often an external component bridging to the platform's push network) and a node; when a
// message reaches the user while none of their resources is awake (no session at all, or
// only sessions that are inactive, XEP-0352, or waiting for a resume, XEP-0198), the server
// publishes a summary to that node, so the phone wakes up and connects. Registrations are
// kept per user in the module's table; an app server that answers with an error that is
// not "try later" loses its registration.
#include <spdlog/spdlog.h>

#include <deque>
#include <mutex>
#include <unordered_map>

#include "server/modules/module.hpp"
#include "server/router/router.hpp"
#include "server/router/session_registry.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/crypto.hpp"
#include "xmpp/message_kinds.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/xml_stream_parser.hpp"

namespace hongyan::modules {

namespace {

constexpr const char* kTable = "push_registrations";
// One document per user (key ""): <registrations/> holding the <enable/> elements.
constexpr const char* kKey = "";
constexpr std::string_view kIdPrefix = "push-";
// Publishes whose answer is still awaited, to know which registration an error is about.
constexpr std::size_t kMaxPending = 10000;

using boost::asio::awaitable;

struct Registration {
    std::string user;  // the local account
    std::string service;
    std::string node;
};

std::vector<xml::Element> load(storage::Storage& st, const std::string& user) {
    std::vector<xml::Element> out;
    auto doc = st.xml_store(kTable).get(user, kKey);
    if (!doc) return out;
    auto parsed = xml::parse_stanza(*doc, ns::push);
    if (!parsed) return out;
    for (const auto* e : parsed->children())
        if (e->name() == "enable") out.push_back(*e);
    return out;
}

void save(storage::Storage& st, const std::string& user, const std::vector<xml::Element>& regs) {
    if (regs.empty()) {
        st.xml_store(kTable).set(user, kKey, "");
        return;
    }
    xml::Element doc("registrations", ns::push);
    for (const auto& r : regs) doc.add_child(r);
    st.xml_store(kTable).set(user, kKey, doc.to_string(ns::push));
}

// What a push is worth: a message a person would want to be woken for.
bool notable(const xml::Element& m) {
    const std::string_view type = m.attr("type");
    if (type == "groupchat" || type == "error" || type == "headline") return false;
    if (message_kinds::is_carbon(m)) return false;
    return m.child("body", ns::client) != nullptr ||
           m.child("encrypted", "eu.siacs.conversations.axolotl") != nullptr;
}

class PushModule final : public Module {
  public:
    std::string_view name() const override { return "push"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0357", "Push Notifications", "0.4.1", "complete",
                 "enable (with publish-options) and disable, kept across restarts; a summary "
                 "(urn:xmpp:push:summary: message-count, and the sender and body only with "
                 "push.include_sender and push.include_body) published for each message with a "
                 "body (or OMEMO payload) while no resource of the user is awake: offline, "
                 "CSI-inactive or waiting for a stream-management resume; an app server's "
                 "error other than type='wait' disables its registration; "
                 "push.max_registrations"}};
    }
    std::vector<std::string> migrations(std::string_view backend) const override {
        return {storage::xml_store_migration(backend, kTable)};
    }
    std::vector<config::KeySpec> config_keys() const override {
        using config::ValueType;
        return {
            {"push.max_registrations", ValueType::integer, std::int64_t{5},
             "Push registrations (XEP-0357 app server and node) one account may have; one "
             "more is refused with <resource-constraint/>.",
             1, 1000},
            {"push.include_sender", ValueType::boolean, false,
             "Put the sender's JID into push notifications (the app server and the "
             "platform's push network then see who writes to whom)."},
            {"push.include_body", ValueType::boolean, false,
             "Put the message's text into push notifications (the app server and the "
             "platform's push network then read it)."},
        };
    }

    void start(ModuleContext& ctx) override {
        const auto& cfg = ctx.server().config;
        max_ = static_cast<std::size_t>(cfg.integer("push.max_registrations"));
        include_sender_ = cfg.boolean("push.include_sender");
        include_body_ = cfg.boolean("push.include_body");
        ctx.add_account_feature(ns::push);
        ctx.on_iq(IqType::set, IqTarget::account, ns::push,
                  [this](IqRequest& iq) { return configure(iq); });
        for (const char* route : {"message/bare", "message/full"})
            ctx.on_stanza(Phase::post_deliver, route, 0,
                          [this](const StanzaEvent& ev) { return delivered(ev); });
        // The app servers' answers to our publishes, addressed to the user's bare JID.
        ctx.on_stanza(Phase::pre_route, "iq/bare", 1000,
                      [this](const StanzaEvent& ev) { return answer(ev); });
    }

  private:
    // XEP-0357 §5 (enable), §6 (disable).
    awaitable<void> configure(IqRequest& iq) {
        const auto& p = iq.payload();
        const bool enable = p.name() == "enable";
        if (!enable && p.name() != "disable") {
            iq.error(StanzaErrorCondition::bad_request, "expected <enable/> or <disable/>");
            co_return;
        }
        auto service = Jid::parse(p.attr("jid"));
        const std::string node(p.attr("node"));
        if (!service || (enable && node.empty())) {
            iq.error(StanzaErrorCondition::bad_request,
                     enable ? "<enable/> needs a 'jid' and a 'node'" : "<disable/> needs a 'jid'");
            co_return;
        }
        xml::Element reg("enable", ns::push);
        reg.set_attr("jid", service->str());
        if (!node.empty()) reg.set_attr("node", node);
        // The publish options (a secret for the app server, say), if any.
        for (const auto* x : p.children())
            if (x->name() == "x" && x->xmlns() == ns::data_forms) reg.add_child(*x);
        auto& st = *iq.host.storage;
        const bool ok = co_await st.run(
            [&st, user = iq.from->local(), enable, reg, svc = service->str(), node, max = max_] {
                auto regs = load(st, user);
                // Enabling again replaces; disabling without a node ends every one there.
                std::erase_if(regs, [&](const xml::Element& r) {
                    return r.attr("jid") == svc && (node.empty() || r.attr("node") == node);
                });
                if (enable) {
                    if (regs.size() >= max) return false;
                    regs.push_back(reg);
                }
                save(st, user, regs);
                return true;
            });
        if (!ok) {
            iq.error(StanzaErrorCondition::resource_constraint,
                     "this account has push.max_registrations push registrations already");
            co_return;
        }
        spdlog::info("push {} for {} at {} node {}", enable ? "enabled" : "disabled",
                     iq.from->bare_str(), service->str(), node.empty() ? "(all)" : node);
        iq.reply();
    }

    // A message reached a local user: a push when none of their resources is awake.
    HookResult delivered(const StanzaEvent& ev) {
        if (!ev.host || ev.to.local().empty() || !notable(ev.stanza)) return HookResult::pass;
        if (ev.server.registry->awake(ev.to.bare_str())) return HookResult::pass;
        Host& host = *ev.host;
        std::string sender = ev.from.bare_str();
        std::string body;
        if (const auto* b = ev.stanza.child("body", ns::client)) body = b->text();
        host.storage->post([this, &host, &server = ev.server, user = ev.to.local(),
                            sender = std::move(sender), body = std::move(body)] {
            for (const auto& reg : load(*host.storage, user))
                publish(server, host, user, reg, sender, body);
        });
        return HookResult::pass;
    }

    // §7: the notification, published to the registration's node.
    void publish(ServerContext& server, Host& host, const std::string& user,
                 const xml::Element& reg, const std::string& sender, const std::string& body) {
        const std::string id = std::string(kIdPrefix) + crypto::random_token(16);
        xml::Element iq("iq", ns::client);
        iq.set_attr("type", "set");
        iq.set_attr("from", user + "@" + host.domain);
        iq.set_attr("to", reg.attr("jid"));
        iq.set_attr("id", id);
        auto& pubsub = iq.add_child("pubsub", std::string(ns::pubsub));
        auto& publish = pubsub.add_child("publish", std::string(ns::pubsub));
        publish.set_attr("node", reg.attr("node"));
        auto& item = publish.add_child("item", std::string(ns::pubsub));
        auto& form = item.add_child("notification", std::string(ns::push))
                         .add_child("x", std::string(ns::data_forms));
        form.set_attr("type", "submit");
        auto field = [&form](std::string_view var, std::string_view value) {
            auto& f = form.add_child("field", std::string(ns::data_forms));
            f.set_attr("var", var);
            f.add_child("value", std::string(ns::data_forms)).add_text(value);
        };
        field("FORM_TYPE", "urn:xmpp:push:summary");
        field("message-count", "1");
        if (include_sender_) field("last-message-sender", sender);
        if (include_body_ && !body.empty()) field("last-message-body", body);
        for (const auto* x : reg.children())
            pubsub.add_child("publish-options", std::string(ns::pubsub)).add_child(*x);
        {
            std::lock_guard lock(mu_);
            pending_.emplace(id, Registration{user, std::string(reg.attr("jid")),
                                              std::string(reg.attr("node"))});
            order_.push_back(id);
            while (order_.size() > kMaxPending) {
                pending_.erase(order_.front());
                order_.pop_front();
            }
        }
        server.router->route(std::move(iq));
    }

    // The app server's answer: a result is the end of it; an error other than "try again
    // later" means the registration is no good (§8: the node is gone, the token expired).
    HookResult answer(const StanzaEvent& ev) {
        const std::string_view type = ev.stanza.attr("type");
        const std::string_view id = ev.stanza.attr("id");
        if ((type != "result" && type != "error") || !id.starts_with(kIdPrefix) || !ev.host)
            return HookResult::pass;
        std::optional<Registration> reg;
        {
            std::lock_guard lock(mu_);
            auto it = pending_.find(std::string(id));
            if (it == pending_.end()) return HookResult::pass;
            reg = it->second;
            pending_.erase(it);
        }
        if (reg->service != ev.from.str()) return HookResult::handled;  // not from it
        const auto* err = ev.stanza.child("error", ns::client);
        if (type == "error" && !(err && err->attr("type") == "wait")) {
            spdlog::info("push to {} node {} for {} failed: registration disabled", reg->service,
                         reg->node, reg->user);
            Host& host = *ev.host;
            host.storage->post([&host, r = *reg] {
                auto regs = load(*host.storage, r.user);
                std::erase_if(regs, [&](const xml::Element& e) {
                    return e.attr("jid") == r.service && e.attr("node") == r.node;
                });
                save(*host.storage, r.user, regs);
            });
        }
        return HookResult::handled;
    }

    std::size_t max_ = 5;
    bool include_sender_ = false, include_body_ = false;
    std::mutex mu_;
    std::unordered_map<std::string, Registration> pending_;
    std::deque<std::string> order_;
};

}  // namespace

std::unique_ptr<Module> make_push_module() {
    return std::make_unique<PushModule>();
}

}  // namespace hongyan::modules
