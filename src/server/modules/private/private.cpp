// XEP-0049 Private XML Storage: a user keeps XML fragments, one per namespace, that only
// they can read (bookmarks, client settings). Size limit: private.max_size per fragment.
#include "server/modules/module.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
// The module's table: one XML document per user and key (storage::xml_store_migration()).
constexpr const char* kTable = "private_xml";

using boost::asio::awaitable;

class PrivateModule final : public Module {
  public:
    std::string_view name() const override { return "private"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0049", "Private XML Storage", "1.2", "complete",
                 "one fragment per namespace; private.max_size"}};
    }
    std::vector<std::string> migrations(std::string_view backend) const override {
        return {storage::xml_store_migration(backend, kTable)};
    }
    std::vector<config::KeySpec> config_keys() const override {
        using config::ValueType;
        return {
            {"private.max_size", ValueType::integer, std::int64_t{65536},
             "Largest private XML fragment in bytes (XEP-0049); larger gets <not-acceptable/>.",
             256, 16777216},
        };
    }
    void start(ModuleContext& ctx) override {
        ctx.add_feature(ns::private_);
        const auto max = static_cast<std::size_t>(ctx.server().config.integer("private.max_size"));
        ctx.on_iq(IqType::get, IqTarget::account, ns::private_,
                  [](IqRequest& iq) { return get(iq); });
        ctx.on_iq(IqType::set, IqTarget::account, ns::private_,
                  [max](IqRequest& iq) { return set(iq, max); });
        auto forbidden = [](IqRequest& iq) -> awaitable<void> {
            // XEP-0049 §3: only the owner.
            iq.error(StanzaErrorCondition::forbidden, "private storage is private");
            co_return;
        };
        ctx.on_iq(IqType::get, IqTarget::other_account, ns::private_, forbidden);
        ctx.on_iq(IqType::set, IqTarget::other_account, ns::private_, forbidden);
    }

  private:
    // XEP-0049 §3: exactly one child, in a namespace of its own (not jabber:*).
    static const xml::Element* fragment(IqRequest& iq) {
        auto children = iq.payload().children();
        if (children.size() != 1) {
            iq.error(StanzaErrorCondition::bad_request, "exactly one child element is expected");
            return nullptr;
        }
        const auto* c = children[0];
        if (c->xmlns().empty() || c->xmlns().rfind("jabber:", 0) == 0 || c->xmlns() == ns::vcard) {
            iq.error(StanzaErrorCondition::not_acceptable,
                     "the child must be in a namespace of its own, not a jabber: one");
            return nullptr;
        }
        return c;
    }
    static std::string key(const xml::Element& c) { return c.name() + " " + c.xmlns(); }

    static awaitable<void> get(IqRequest& iq) {
        const auto* c = fragment(iq);
        if (!c) co_return;
        auto& st = *iq.host.storage;
        auto found = co_await st.run([&st, user = iq.from->local(), k = key(*c)] {
            return st.xml_store(kTable).get(user, k);
        });
        std::string out = "<query xmlns=\"jabber:iq:private\">";
        out += found ? *found : c->to_string(ns::private_);
        out += "</query>";
        iq.reply_raw(out);
    }

    static awaitable<void> set(IqRequest& iq, std::size_t max) {
        const auto* c = fragment(iq);
        if (!c) co_return;
        std::string xml = c->to_string(ns::private_);
        if (xml.size() > max) {
            iq.error(StanzaErrorCondition::not_acceptable,
                     "the fragment is larger than " + std::to_string(max) + " bytes");
            co_return;
        }
        auto& st = *iq.host.storage;
        co_await st.run([&st, user = iq.from->local(), k = key(*c), xml] {
            st.xml_store(kTable).set(user, k, xml);
            return 0;
        });
        iq.reply();
    }
};
}  // namespace

std::unique_ptr<Module> make_private_module() {
    return std::make_unique<PrivateModule>();
}

}  // namespace hongyan::modules
