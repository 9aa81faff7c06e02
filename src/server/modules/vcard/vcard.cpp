// XEP-0054 vcard-temp: each user publishes one vCard and anyone may read it (RFC 6121
// §8.5.2.1.3: the server answers for the account). Size limit: vcard.max_size.
#include "server/modules/module.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
// The module's table: one XML document per user and key (storage::xml_store_migration()).
constexpr const char* kTable = "vcards";

using boost::asio::awaitable;

class VcardModule final : public Module {
  public:
    std::string_view name() const override { return "vcard"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0054", "vcard-temp", "1.2", "complete",
                 "publish and read; vcard.max_size, larger gets not-acceptable"}};
    }
    std::vector<std::string> migrations(std::string_view backend) const override {
        return {storage::xml_store_migration(backend, kTable)};
    }
    std::vector<config::KeySpec> config_keys() const override {
        using config::ValueType;
        return {
            {"vcard.max_size", ValueType::integer, std::int64_t{65536},
             "Largest vCard in bytes (XEP-0054); larger gets <not-acceptable/>.", 256, 16777216},
        };
    }
    void start(ModuleContext& ctx) override {
        ctx.add_feature(ns::vcard);
        const auto max = static_cast<std::size_t>(ctx.server().config.integer("vcard.max_size"));
        ctx.on_iq(IqType::get, IqTarget::account, ns::vcard,
                  [](IqRequest& iq) { return get(iq, iq.from->local()); });
        ctx.on_iq(IqType::get, IqTarget::other_account, ns::vcard,
                  [](IqRequest& iq) { return get(iq, iq.to->local()); });
        ctx.on_iq(IqType::set, IqTarget::account, ns::vcard,
                  [max](IqRequest& iq) { return set(iq, max); });
        ctx.on_iq(IqType::set, IqTarget::other_account, ns::vcard,
                  [](IqRequest& iq) -> awaitable<void> {
                      iq.error(StanzaErrorCondition::forbidden, "that is another user's vCard");
                      co_return;
                  });
    }

  private:
    static awaitable<void> get(IqRequest& iq, std::string user) {
        auto& st = *iq.host.storage;
        auto found = co_await st.run([&st, user]() -> std::optional<std::optional<std::string>> {
            if (!st.accounts().exists(user)) return std::nullopt;
            return st.xml_store(kTable).get(user, "vcard");
        });
        if (!found) {
            iq.error(StanzaErrorCondition::service_unavailable);  // RFC 6121 §8.5.1
            co_return;
        }
        // An empty vCard when none was published (XEP-0054 §3.1).
        if (!*found) {
            iq.reply(xml::Element("vCard", std::string(ns::vcard)));
            co_return;
        }
        iq.reply_raw(**found);
    }

    static awaitable<void> set(IqRequest& iq, std::size_t max) {
        const auto& v = iq.payload();
        if (!v.is("vCard", ns::vcard)) {
            iq.error(StanzaErrorCondition::bad_request, "expected <vCard xmlns='vcard-temp'/>");
            co_return;
        }
        std::string xml = v.to_string(ns::client);
        if (xml.size() > max) {
            iq.error(StanzaErrorCondition::not_acceptable,
                     "the vCard is larger than " + std::to_string(max) + " bytes");
            co_return;
        }
        auto& st = *iq.host.storage;
        co_await st.run([&st, user = iq.from->local(), xml] {
            st.xml_store(kTable).set(user, "vcard", xml);
            return 0;
        });
        iq.reply();
    }
};
}  // namespace

std::unique_ptr<Module> make_vcard_module() {
    return std::make_unique<VcardModule>();
}

}  // namespace hongyan::modules
