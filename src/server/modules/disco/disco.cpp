// XEP-0030: Service Discovery of the server: its identity and the features modules
// registered (only those that work are registered), answered for node#ver of the server's
// entity capabilities too (XEP-0115); and of accounts, answered by the server for those who
// may see the account's presence.
#include <algorithm>

#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/router/router.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
class DiscoModule final : public Module {
  public:
    std::string_view name() const override { return "disco"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0030", "Service Discovery", "2.5rc3", "complete",
                 "disco#info and disco#items on the server and on accounts"},
                {"XEP-0115", "Entity Capabilities", "1.6.0", "complete",
                 "the server's own capabilities as a stream feature (§6.3)"}};
    }
    void start(ModuleContext& ctx) override {
        ctx.add_feature(ns::disco_info);
        ctx.add_feature(ns::disco_items);
        ctx.add_identity("server", "im", "Hongyan");
        ModuleHost* host = ctx.server().modules.get();
        ctx.on_iq(IqType::get, IqTarget::host, ns::disco_info,
                  [host](IqRequest& iq) -> boost::asio::awaitable<void> {
                      std::string_view node = iq.payload().attr("node");
                      if (const auto* dn = node.empty() ? nullptr : host->disco_node(node);
                          dn && dn->info) {
                          xml::Element q("query", std::string(ns::disco_info));
                          q.set_attr("node", node);
                          for (auto& c : dn->info(iq)) q.add_child(std::move(c));
                          iq.reply(std::move(q));
                          co_return;
                      }
                      if (!node.empty() && node != host->caps_node_ver()) {
                          iq.error(StanzaErrorCondition::item_not_found, "no such node");
                          co_return;
                      }
                      xml::Element q("query", std::string(ns::disco_info));
                      if (!node.empty()) q.set_attr("node", node);
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
                  [host](IqRequest& iq) -> boost::asio::awaitable<void> {
                      std::string_view node = iq.payload().attr("node");
                      if (const auto* dn = node.empty() ? nullptr : host->disco_node(node);
                          dn && dn->items) {
                          xml::Element q("query", std::string(ns::disco_items));
                          q.set_attr("node", node);
                          for (auto& c : dn->items(iq)) q.add_child(std::move(c));
                          iq.reply(std::move(q));
                          co_return;
                      }
                      if (!node.empty()) {
                          iq.error(StanzaErrorCondition::item_not_found, "no such node");
                          co_return;
                      }
                      // §4.1: the services of this server: the components connected now.
                      xml::Element q("query", std::string(ns::disco_items));
                      for (const auto& domain : iq.server.router->routed_domains())
                          q.add_child("item", std::string(ns::disco_items)).set_attr("jid", domain);
                      iq.reply(std::move(q));
                      co_return;
                  });
        for (auto target : {IqTarget::account, IqTarget::other_account}) {
            ctx.on_iq(IqType::get, target, ns::disco_info,
                      [](IqRequest& iq) { return account(iq, true); });
            ctx.on_iq(IqType::get, target, ns::disco_items,
                      [](IqRequest& iq) { return account(iq, false); });
        }
    }

  private:
    static boost::asio::awaitable<void> account(IqRequest& iq, bool info) {
        std::string user = iq.to ? iq.to->local() : iq.from->local();
        auto& st = *iq.host.storage;
        bool exists = co_await st.run([&st, user] { return st.accounts().exists(user); });
        // XEP-0030 §4 / RFC 6121 §8.5: no such account, or not allowed to know about it.
        if (!exists || !co_await iq.host.im->may_see_presence(user, *iq.from)) {
            iq.error(StanzaErrorCondition::service_unavailable);
            co_return;
        }
        if (!iq.payload().attr("node").empty()) {
            iq.error(StanzaErrorCondition::item_not_found, "no such node");
            co_return;
        }
        if (!info) {
            iq.reply(xml::Element("query", std::string(ns::disco_items)));
            co_return;
        }
        xml::Element q("query", std::string(ns::disco_info));
        q.add_child("identity", std::string(ns::disco_info))
            .set_attr("category", "account")
            .set_attr("type", "registered");
        for (const auto& id : iq.server.modules->account_identities())
            q.add_child("identity", std::string(ns::disco_info))
                .set_attr("category", id.category)
                .set_attr("type", id.type)
                .set_attr("name", id.name);
        const auto& host = iq.server.modules->features();
        for (auto f : {ns::disco_info, ns::disco_items, ns::vcard, ns::last})
            if (std::find(host.begin(), host.end(), f) != host.end())
                q.add_child("feature", std::string(ns::disco_info)).set_attr("var", f);
        // What the account has for its own clients only (its archive, XEP-0313 §7).
        if (iq.from->bare_str() == user + "@" + iq.host.domain)
            for (const auto& f : iq.server.modules->account_features())
                q.add_child("feature", std::string(ns::disco_info)).set_attr("var", f);
        iq.reply(std::move(q));
    }
};
}  // namespace

std::unique_ptr<Module> make_disco_module() {
    return std::make_unique<DiscoModule>();
}

}  // namespace hongyan::modules
