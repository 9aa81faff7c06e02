// XEP-0160 offline messages with XEP-0203 delay stamps: a deliver hook takes the messages
// no session takes and stores them; the IM core delivers them at initial presence with a
// non-negative priority and deletes them once written. Disabled, such messages bounce
// with <service-unavailable/> (what was stored before is still delivered).
#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/server_context.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
class OfflineModule final : public Module {
  public:
    std::string_view name() const override { return "offline"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0160", "Best Practices for Handling Offline Messages", "1.0.1", "complete",
                 "normal and chat messages (not chat states alone); offline.max_messages per "
                 "user, then service-unavailable"},
                {"XEP-0203", "Delayed Delivery", "2.0", "complete", "stamped on offline messages"}};
    }
    std::vector<config::KeySpec> config_keys() const override {
        using config::ValueType;
        return {
            {"offline.max_messages", ValueType::integer, std::int64_t{1000},
             "Messages kept for a user who is offline (XEP-0160); past it senders get "
             "<service-unavailable/>. 0 keeps none.",
             0, 10000000},
        };
    }
    void start(ModuleContext& ctx) override {
        ctx.add_feature(ns::msgoffline);
        ctx.on_deliver(
            "message/bare", 0, [](const StanzaEvent& ev) -> boost::asio::awaitable<HookResult> {
                auto err = co_await ev.host->im->deliver_or_store(ev.from, ev.stanza, ev.to);
                if (!err) co_return HookResult::handled;
                ev.error(*err);
                co_return HookResult::refused;
            });
    }
};
}  // namespace

std::unique_ptr<Module> make_offline_module() {
    return std::make_unique<OfflineModule>();
}

}  // namespace hongyan::modules
