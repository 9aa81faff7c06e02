// XEP-0160 offline messages (stored by the IM core, delivered at initial presence with a
// non-negative priority, deleted once written) with XEP-0203 delay stamps.
#include "server/im/im.hpp"
#include "server/modules/module_list.hpp"
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
    void start(ModuleContext& ctx) override {
        ctx.add_feature(ns::msgoffline);
        ctx.server().im->enable_offline();
    }
};
}  // namespace

std::unique_ptr<Module> make_offline_module() {
    return std::make_unique<OfflineModule>();
}

}  // namespace hongyan::modules
