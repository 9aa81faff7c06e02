// XEP-0191 Blocking Command: the blocklist iq, and a pre-route hook that stops stanzas
// between a user and a JID the user blocks (§3.7). The IM core keeps the lists with the
// rest of a user's state and, with this module on, also applies them to the presence it
// broadcasts. Disabled, no list is loaded or applied.
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
        ctx.on_iq(IqType::get, IqTarget::account, ns::blocking,
                  [](IqRequest& iq) -> boost::asio::awaitable<void> {
                      if (!iq.payload().is("blocklist", ns::blocking)) {
                          iq.error(StanzaErrorCondition::bad_request, "expected <blocklist/>");
                          return bad();
                      }
                      return iq.host.im->blocklist_get(iq);
                  });
        ctx.on_iq(IqType::set, IqTarget::account, ns::blocking,
                  [](IqRequest& iq) -> boost::asio::awaitable<void> {
                      const auto& p = iq.payload();
                      if (p.name() != "block" && p.name() != "unblock") {
                          iq.error(StanzaErrorCondition::bad_request,
                                   "expected <block/> or <unblock/>");
                          return bad();
                      }
                      return iq.host.im->blocklist_set(iq, p.name() == "block");
                  });
    }

  private:
    static boost::asio::awaitable<void> bad() { co_return; }

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
