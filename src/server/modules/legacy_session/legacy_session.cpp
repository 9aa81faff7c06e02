// RFC 3921 §3 session establishment, kept for old clients: an optional no-op
// (draft-cridland-xmpp-session-01 <optional/> marks it as such).
#include "server/modules/module.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
class LegacySessionModule final : public Module {
  public:
    std::string_view name() const override { return "legacy_session"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"RFC 3921 §3", "Session establishment (legacy)", "", "complete",
                 "advertised as `<optional/>`; the iq is answered with a result"}};
    }
    void start(ModuleContext& ctx) override {
        xml::Element feature("session", std::string(ns::session));
        feature.add_child("optional", std::string(ns::session));
        ctx.add_stream_feature(StreamPhase::post_auth, std::move(feature));
        auto ok = [](IqRequest& iq) -> boost::asio::awaitable<void> {
            iq.reply();
            co_return;
        };
        ctx.on_iq(IqType::set, IqTarget::host, ns::session, ok);
        ctx.on_iq(IqType::set, IqTarget::account, ns::session, ok);
    }
};
}  // namespace

std::unique_ptr<Module> make_legacy_session_module() {
    return std::make_unique<LegacySessionModule>();
}

}  // namespace hongyan::modules
