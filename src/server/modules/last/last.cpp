// XEP-0012: Last Activity. Asked of the server, it answers the server's uptime (§5).
#include <chrono>

#include "server/modules/module_list.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
class LastModule final : public Module {
  public:
    std::string_view name() const override { return "last"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0012", "Last Activity", "2.0", "partial",
                 "server uptime; users' last activity and idle time: planned (needs presence)"}};
    }
    void start(ModuleContext& ctx) override {
        ctx.add_feature(ns::last);
        const auto started = std::chrono::steady_clock::now();
        ctx.on_iq(IqType::get, IqTarget::host, ns::last,
                  [started](IqRequest& iq) -> boost::asio::awaitable<void> {
                      auto up = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now() - started);
                      xml::Element q("query", std::string(ns::last));
                      q.set_attr("seconds", std::to_string(up.count()));
                      iq.reply(std::move(q));
                      co_return;
                  });
    }
};
}  // namespace

std::unique_ptr<Module> make_last_module() {
    return std::make_unique<LastModule>();
}

}  // namespace hongyan::modules
