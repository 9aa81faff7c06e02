// XEP-0191 Blocking Command. The IM core applies the blocklist to every stanza routed.
#include "server/im/im.hpp"
#include "server/modules/module_list.hpp"
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
    void start(ModuleContext& ctx) override {
        ctx.add_feature(ns::blocking);
        ctx.on_iq(IqType::get, IqTarget::account, ns::blocking,
                  [](IqRequest& iq) -> boost::asio::awaitable<void> {
                      if (!iq.payload().is("blocklist", ns::blocking)) {
                          iq.error(StanzaErrorCondition::bad_request, "expected <blocklist/>");
                          return bad();
                      }
                      return iq.server.im->blocklist_get(iq);
                  });
        ctx.on_iq(IqType::set, IqTarget::account, ns::blocking,
                  [](IqRequest& iq) -> boost::asio::awaitable<void> {
                      const auto& p = iq.payload();
                      if (p.name() != "block" && p.name() != "unblock") {
                          iq.error(StanzaErrorCondition::bad_request,
                                   "expected <block/> or <unblock/>");
                          return bad();
                      }
                      return iq.server.im->blocklist_set(iq, p.name() == "block");
                  });
    }

  private:
    static boost::asio::awaitable<void> bad() { co_return; }
};
}  // namespace

std::unique_ptr<Module> make_blocking_module() {
    return std::make_unique<BlockingModule>();
}

}  // namespace hongyan::modules
