// XEP-0199: XMPP Ping. The server answers pings to itself and to the user's own account.
#include "server/modules/module.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
class PingModule final : public Module {
  public:
    std::string_view name() const override { return "ping"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0199", "XMPP Ping", "2.0.1", "complete",
                 "server answers client-to-server pings"}};
    }
    void start(ModuleContext& ctx) override {
        ctx.add_feature(ns::ping);
        auto pong = [](IqRequest& iq) -> boost::asio::awaitable<void> {
            iq.reply();
            co_return;
        };
        ctx.on_iq(IqType::get, IqTarget::host, ns::ping, pong);
        ctx.on_iq(IqType::get, IqTarget::account, ns::ping, pong);
    }
};
}  // namespace

std::unique_ptr<Module> make_ping_module() {
    return std::make_unique<PingModule>();
}

}  // namespace hongyan::modules
