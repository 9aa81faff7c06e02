// XEP-0191 Blocking Command: the blocklist iq (get, block, unblock, pushes), and a
// pre-route hook that stops stanzas between a user and a JID the user blocks (§3.7). The
// IM core keeps the lists with the rest of a user's state and, with this module on, also
// applies them to the presence it broadcasts. Disabled, no list is loaded or applied.
#include "server/c2s/client_session.hpp"
#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/server_context.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
class BlockingModule final : public Module {
  public:
    std::string_view name() const override { return "blocking"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0191", "Blocking Command", "1.3", "complete",
                 "block, unblock, unblock all, pushes; JID, bare, domain/resource and domain "
                 "items; limit blocking.max_items"}};
    }
    std::vector<config::KeySpec> config_keys() const override {
        using config::ValueType;
        return {
            {"blocking.max_items", ValueType::integer, std::int64_t{1000},
             "JIDs one user may block (XEP-0191); more gets <not-acceptable/>.", 1, 1000000},
        };
    }
    void start(ModuleContext& ctx) override {
        for (auto& h : ctx.server().hosts) h->im->enable_blocking();
        ctx.on_stanza(Phase::pre_route, "*/*", 100, check);
        ctx.add_feature(ns::blocking);
        ctx.on_iq(IqType::get, IqTarget::account, ns::blocking, get);
        ctx.on_iq(IqType::set, IqTarget::account, ns::blocking, set);
    }

  private:
    // §3.2: the list.
    static boost::asio::awaitable<void> get(IqRequest& iq) {
        if (!iq.payload().is("blocklist", ns::blocking)) {
            iq.error(StanzaErrorCondition::bad_request, "expected <blocklist/>");
            co_return;
        }
        auto jids = co_await iq.host.im->blocklist(*iq.from, iq.session.get());
        xml::Element list("blocklist", std::string(ns::blocking));
        for (const auto& j : jids)
            list.add_child("item", std::string(ns::blocking)).set_attr("jid", j);
        iq.reply(std::move(list));
    }

    // §3.3 block, §3.4 unblock.
    static boost::asio::awaitable<void> set(IqRequest& iq) {
        const auto& p = iq.payload();
        if (p.name() != "block" && p.name() != "unblock") {
            iq.error(StanzaErrorCondition::bad_request, "expected <block/> or <unblock/>");
            co_return;
        }
        const bool block = p.name() == "block";
        std::vector<std::string> jids;
        for (const auto* item : p.children()) {
            if (!item->is("item", ns::blocking)) continue;
            auto j = Jid::parse(item->attr("jid"));
            if (!j) {
                iq.error(StanzaErrorCondition::jid_malformed,
                         "'" + std::string(item->attr("jid")) + "' is not a valid JID");
                co_return;
            }
            jids.push_back(j->str());
        }
        // §3.3: a block names at least one JID; an empty unblock unblocks everyone.
        if (block && jids.empty()) {
            iq.error(StanzaErrorCondition::bad_request, "name at least one JID to block");
            co_return;
        }
        auto& im = *iq.host.im;
        const std::string user = iq.from->local();
        auto r = co_await im.change_blocklist(user, jids, block);
        if (r.full) {
            iq.error(
                StanzaErrorCondition::not_acceptable,
                "the blocklist is full (" + std::to_string(im.limits().blocklist_max) + " JIDs)");
            co_return;
        }
        iq.reply();
        // §3.3.2, §3.4.2: every resource that asked for the list hears of the change; an
        // unblock of everything is pushed as an empty <unblock/>.
        xml::Element push("iq", std::string(ns::client));
        push.set_attr("type", "set");
        push.set_attr("id", "push-block-" + std::to_string(im.next_push_id()));
        auto& body = push.add_child(p.name(), std::string(ns::blocking));
        if (!(p.children().empty() && !block))
            for (const auto& j : r.changed)
                body.add_child("item", std::string(ns::blocking)).set_attr("jid", j);
        if (!r.changed.empty() || !block)
            im.send_to_interested(user, push.to_string(ns::client), true);
    }

    // XEP-0191 §3.7. Stanzas between a user's own resources are never blocked.
    static HookResult check(const StanzaEvent& ev) {
        const bool local_from = ev.server.find_host(ev.from.domain()) != nullptr;
        const bool local_to = ev.target == TargetKind::bare || ev.target == TargetKind::full;
        if (ev.to.local().empty() || (local_from && ev.to.bare() == ev.from.bare()))
            return HookResult::pass;
        const std::string_view type = ev.stanza.attr("type");
        const bool answerable = ev.kind == StanzaKind::message ||
                                (ev.kind == StanzaKind::iq && (type == "get" || type == "set"));
        // Nothing goes to a JID the sender blocks; the sender is told why.
        if (ev.session && ev.session->host().im->blocks(ev.from.local(), ev.to)) {
            if (answerable) {
                xml::Element blocked("blocked", std::string(ns::blocking_errors));
                ev.error(StanzaError{StanzaErrorCondition::not_acceptable,
                                     "you have blocked this contact", StanzaErrorType::cancel},
                         std::move(blocked));
            }
            return HookResult::refused;
        }
        // Nothing arrives from a JID the recipient blocks; messages and requests get the
        // same answer as for a user who is not there, presence is dropped silently.
        if (local_to && ev.host->im->blocks(ev.to.local(), ev.from)) {
            if (answerable)
                ev.error(StanzaError{StanzaErrorCondition::service_unavailable, {}, {}});
            return HookResult::refused;
        }
        return HookResult::pass;
    }
};
}  // namespace

std::unique_ptr<Module> make_blocking_module() {
    return std::make_unique<BlockingModule>();
}

}  // namespace hongyan::modules
