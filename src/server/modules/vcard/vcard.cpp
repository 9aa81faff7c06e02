// XEP-0054 vcard-temp: each user publishes one vCard and anyone may read it (RFC 6121
// §8.5.2.1.3: the server answers for the account). Size limit: vcard.max_size. With the
// vCard's photo the server stamps its users' available presence (XEP-0153 §4.1, as
// XEP-0398 §4 asks), so clients need not fetch their own vCard to say it.
#include "server/c2s/client_session.hpp"
#include "server/modules/module.hpp"
#include "server/modules/vcard/photo.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
using vcard::kKey;
using vcard::kTable;

using boost::asio::awaitable;

class VcardModule final : public Module {
  public:
    std::string_view name() const override { return "vcard"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0054", "vcard-temp", "1.2", "complete",
                 "publish and read; vcard.max_size, larger gets not-acceptable"},
                {"XEP-0153", "vCard-Based Avatars", "1.1.1", "complete",
                 "the server puts the photo's hash into every available presence of its users "
                 "(broadcast and directed) that does not carry a photo element of its own"}};
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
        // Ahead of the presence module (priority 0), which takes the stanza.
        ctx.on_route("presence/*", 100, [](const StanzaEvent& ev) { return stamp_photo(ev); });
    }

  private:
    // XEP-0398 §4: an available presence from a local client gets the photo's hash,
    // unless the client said one itself (a <photo/>, empty or not); an <x/> without a
    // photo is replaced.
    static awaitable<HookResult> stamp_photo(const StanzaEvent& ev) {
        if (!ev.session || !ev.owned || !ev.stanza.attr("type").empty()) co_return HookResult::pass;
        xml::Element& p = *ev.owned;
        if (const auto* x = p.child("x", vcard::kUpdateNs);
            x && x->child("photo", vcard::kUpdateNs))
            co_return HookResult::pass;
        auto& st = *ev.session->host().storage;
        auto hash = co_await st.run([&st, user = ev.from.local()] {
            auto v = st.xml_store(kTable).get(user, kKey);
            return v ? vcard::photo_hash(*v) : std::string();
        });
        p.remove_children([](const xml::Element& e) { return e.is("x", vcard::kUpdateNs); });
        p.add_child("x", std::string(vcard::kUpdateNs))
            .add_child("photo", std::string(vcard::kUpdateNs))
            .add_text(hash);
        co_return HookResult::pass;
    }

    static awaitable<void> get(IqRequest& iq, std::string user) {
        auto& st = *iq.host.storage;
        auto found = co_await st.run([&st, user]() -> std::optional<std::optional<std::string>> {
            if (!st.accounts().exists(user)) return std::nullopt;
            return st.xml_store(kTable).get(user, kKey);
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
            st.xml_store(kTable).set(user, kKey, xml);
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
