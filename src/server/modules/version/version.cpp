// XEP-0092: Software Version of the server.
#include <sys/utsname.h>

#include "server/modules/module.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
class VersionModule final : public Module {
  public:
    std::string_view name() const override { return "version"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0092", "Software Version", "1.1", "complete",
                 "name, version and OS of the server"}};
    }
    void start(ModuleContext& ctx) override {
        ctx.add_feature(ns::version);
        std::string os = "Linux";
        if (utsname u{}; uname(&u) == 0) os = std::string(u.sysname) + " " + u.release;
        ctx.on_iq(IqType::get, IqTarget::host, ns::version,
                  [os](IqRequest& iq) -> boost::asio::awaitable<void> {
                      xml::Element q("query", std::string(ns::version));
                      q.add_child("name", std::string(ns::version)).add_text("Hongyan");
                      q.add_child("version", std::string(ns::version)).add_text(HONGYAN_VERSION);
                      q.add_child("os", std::string(ns::version)).add_text(os);
                      iq.reply(std::move(q));
                      co_return;
                  });
    }
};
}  // namespace

std::unique_ptr<Module> make_version_module() {
    return std::make_unique<VersionModule>();
}

}  // namespace hongyan::modules
