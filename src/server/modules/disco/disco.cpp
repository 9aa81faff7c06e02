// XEP-0030: Service Discovery of the server: its identity and the features modules
// registered (only those that work are registered).
#include "server/modules/module_list.hpp"
#include "server/server_context.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
class DiscoModule final : public Module {
  public:
    std::string_view name() const override { return "disco"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0030", "Service Discovery", "2.5rc3", "partial",
                 "disco#info and disco#items on the server; on accounts: planned"}};
    }
    void start(ModuleContext& ctx) override {
        ctx.add_feature(ns::disco_info);
        ctx.add_feature(ns::disco_items);
        ctx.add_identity("server", "im", "Hongyan");
        ModuleHost* host = ctx.server().modules.get();
        ctx.on_iq(IqType::get, IqTarget::host, ns::disco_info,
                  [host](IqRequest& iq) -> boost::asio::awaitable<void> {
                      std::string_view node = iq.payload().attr("node");
                      if (!node.empty()) {
                          iq.error(StanzaErrorCondition::item_not_found, "no such node");
                          co_return;
                      }
                      xml::Element q("query", std::string(ns::disco_info));
                      for (const auto& id : host->identities()) {
                          auto& e = q.add_child("identity", std::string(ns::disco_info));
                          e.set_attr("category", id.category)
                              .set_attr("type", id.type)
                              .set_attr("name", id.name);
                      }
                      for (const auto& f : host->features())
                          q.add_child("feature", std::string(ns::disco_info)).set_attr("var", f);
                      iq.reply(std::move(q));
                      co_return;
                  });
        ctx.on_iq(IqType::get, IqTarget::host, ns::disco_items,
                  [](IqRequest& iq) -> boost::asio::awaitable<void> {
                      std::string_view node = iq.payload().attr("node");
                      if (!node.empty()) {
                          iq.error(StanzaErrorCondition::item_not_found, "no such node");
                          co_return;
                      }
                      // No components or rooms yet: an empty list.
                      iq.reply(xml::Element("query", std::string(ns::disco_items)));
                      co_return;
                  });
    }
};
}  // namespace

std::unique_ptr<Module> make_disco_module() {
    return std::make_unique<DiscoModule>();
}

}  // namespace hongyan::modules
