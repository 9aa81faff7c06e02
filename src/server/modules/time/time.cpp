// XEP-0202: Entity Time of the server.
#include <ctime>

#include "server/modules/module.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
class TimeModule final : public Module {
  public:
    std::string_view name() const override { return "time"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0202", "Entity Time", "2.0", "complete",
                 "the server's time (in UTC); a user's time comes from their client (iq to a full "
                 "JID is routed)"}};
    }
    void start(ModuleContext& ctx) override {
        ctx.add_feature(ns::time);
        ctx.on_iq(IqType::get, IqTarget::host, ns::time,
                  [](IqRequest& iq) -> boost::asio::awaitable<void> {
                      std::time_t now = std::time(nullptr);
                      std::tm utc{};
                      gmtime_r(&now, &utc);
                      char stamp[32];
                      // XEP-0082 DateTime profile, UTC.
                      std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
                      xml::Element t("time", std::string(ns::time));
                      t.add_child("tzo", std::string(ns::time)).add_text("+00:00");
                      t.add_child("utc", std::string(ns::time)).add_text(stamp);
                      iq.reply(std::move(t));
                      co_return;
                  });
    }
};
}  // namespace

std::unique_ptr<Module> make_time_module() {
    return std::make_unique<TimeModule>();
}

}  // namespace hongyan::modules
