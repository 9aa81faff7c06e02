// RFC 6121 presence (§4) and subscriptions (§3): every presence a client sends and every
// presence for a hosted user that a route brings (a component, another host) goes to the
// IM core from this module's route hook, and the session hooks tell the IM core of
// sessions binding and ending. Disabled, presence goes nowhere: no broadcast, no
// subscriptions, no probes answered, no unavailable when a session ends (rosters still
// work, through the roster module).
#include "server/c2s/client_session.hpp"
#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/server_context.hpp"

namespace hongyan::modules {

namespace {
class PresenceModule final : public Module {
  public:
    std::string_view name() const override { return "presence"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"RFC 6121", "XMPP IM", "", "complete",
                 "roster (§2, `roster` module) with versioning, every subscription state and "
                 "transition of §3 and Appendix A with pre-approval, presence (§4: initial, "
                 "probes answered locally, for an offline user with the last unavailable presence "
                 "and its time (XEP-0203), directed, unavailable on close), delivery rules of §8 "
                 "for local users (an iq request to a resource only from someone it shares "
                 "presence with, §8.5.3.1, `c2s.iq_requires_subscription`); contacts at component "
                 "domains and other hosts as in "
                 "§3/§4.2/§4.3; contacts on other servers wait for s2s"}};
    }
    void start(ModuleContext& ctx) override {
        // A session's life in the IM core: the user's state is loaded (and pinned) before
        // the bind result; a resource that goes is unavailable to its contacts (§4.5.2).
        SessionHooks hooks;
        hooks.binding = [](Host& host, const Jid& full) { return host.im->bound(full); };
        hooks.abandoned = [](Host& host, const Jid& full) { host.im->release(full.local()); };
        hooks.enter = [](Host& host, const Jid& full, std::shared_ptr<c2s::ClientSession> s) {
            return host.im->bind(full, std::move(s));
        };
        hooks.leave = [](Host& host, const Jid& full, const SessionRoute* s) {
            host.im->unbind(full, s);
        };
        ctx.set_session_hooks(std::move(hooks));
        ctx.on_route(
            "presence/*", 0, [](const StanzaEvent& ev) -> boost::asio::awaitable<HookResult> {
                // Read before the stanza is taken: `ev.stanza` is the stanza `owned` points to.
                if (ev.session) {
                    auto sender = ev.session->shared_from_this();
                    std::optional<Jid> to;
                    if (!ev.stanza.attr("to").empty()) to = ev.to;
                    co_await sender->host().im->presence(sender, std::move(*ev.owned),
                                                         std::move(to));
                } else if (ev.host) {
                    co_await ev.host->im->remote_presence(std::move(*ev.owned), ev.from, ev.to);
                }
                co_return HookResult::handled;
            });
    }
};
}  // namespace

std::unique_ptr<Module> make_presence_module() {
    return std::make_unique<PresenceModule>();
}

}  // namespace hongyan::modules
