// XEP-0012: Last Activity. Asked of the server, it answers the server's uptime (§5); asked
// of an account, how long ago the user was last online (§4), to those who may see the
// user's presence.
#include <chrono>

#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
class LastModule final : public Module {
  public:
    std::string_view name() const override { return "last"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0012", "Last Activity", "2.0", "complete",
                 "server uptime; accounts: 0 when online, else seconds since the last logout "
                 "or the last unavailable presence (on a connection that stays open), with its "
                 "status, to subscribers (others get forbidden)"}};
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
        ctx.on_iq(IqType::get, IqTarget::account, ns::last,
                  [](IqRequest& iq) { return account(iq, iq.from->local()); });
        ctx.on_iq(IqType::get, IqTarget::other_account, ns::last,
                  [](IqRequest& iq) { return account(iq, iq.to->local()); });
    }

  private:
    static boost::asio::awaitable<void> account(IqRequest& iq, std::string user) {
        auto& im = *iq.host.im;
        auto& st = *iq.host.storage;
        auto exists = co_await st.run([&st, user] { return st.accounts().exists(user); });
        if (!exists) {
            iq.error(StanzaErrorCondition::service_unavailable);  // RFC 6121 §8.5.1
            co_return;
        }
        // §4: only to those allowed to see the user's presence.
        if (!co_await im.may_see_presence(user, *iq.from)) {
            iq.error(StanzaErrorCondition::forbidden, "you are not subscribed to this user");
            co_return;
        }
        xml::Element q("query", std::string(ns::last));
        if (im.online(user)) {
            q.set_attr("seconds", "0");
            iq.reply(std::move(q));
            co_return;
        }
        auto last = co_await st.run([&st, user] { return st.directory().last_activity(user); });
        if (!last) {
            iq.error(StanzaErrorCondition::item_not_found, "the user has not been online yet");
            co_return;
        }
        auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
        q.set_attr("seconds", std::to_string(std::max<std::int64_t>(0, now - last->logout)));
        if (!last->status.empty()) q.add_text(last->status);
        iq.reply(std::move(q));
    }
};
}  // namespace

std::unique_ptr<Module> make_last_module() {
    return std::make_unique<LastModule>();
}

}  // namespace hongyan::modules
