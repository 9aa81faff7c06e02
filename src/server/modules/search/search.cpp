// XEP-0055 Jabber Search of the user directory, on the server's own JID: with a data form
// (XEP-0004, field 'user': part of a username) or the legacy <nick/> field. Only for
// logged-in users of this server; results are capped at search.max_results.
#include "server/modules/module.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/data_form.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
using boost::asio::awaitable;

class SearchModule final : public Module {
  public:
    std::string_view name() const override { return "search"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0055", "Jabber Search", "1.3", "complete",
                 "the user directory by username, data form or legacy `<nick/>`; "
                 "search.max_results; switch off with modules.disabled"},
                {"XEP-0004", "Data Forms", "2.13.1", "partial",
                 "the form types search and ad-hoc commands use"}};
    }
    std::vector<config::KeySpec> config_keys() const override {
        using config::ValueType;
        return {
            {"search.max_results", ValueType::integer, std::int64_t{50},
             "Most users one directory search (XEP-0055) returns.", 1, 10000},
        };
    }
    void start(ModuleContext& ctx) override {
        ctx.add_feature(ns::search);
        const auto max =
            static_cast<std::size_t>(ctx.server().config.integer("search.max_results"));
        ctx.on_iq(IqType::get, IqTarget::host, ns::search, [](IqRequest& iq) -> awaitable<void> {
            // §2: instructions, the legacy field and the form.
            xml::Element q("query", std::string(ns::search));
            q.add_child("instructions", std::string(ns::search))
                .add_text("Enter part of a username.");
            q.add_child("nick", std::string(ns::search));
            q.add_child(forms::make("form", ns::search, "User directory",
                                    "Enter part of a username.",
                                    {{"user", "text-single", "Username contains", {}, true}}));
            iq.reply(std::move(q));
            co_return;
        });
        ctx.on_iq(IqType::set, IqTarget::host, ns::search,
                  [max](IqRequest& iq) { return search(iq, max); });
    }

  private:
    static awaitable<void> search(IqRequest& iq, std::size_t max) {
        const auto& q = iq.payload();
        const auto* form = forms::find(q);
        std::string needle;
        if (form) {
            needle = forms::value(forms::values(form), "user");
        } else {
            needle = q.child_text("nick", ns::search);
            if (needle.empty()) needle = q.child_text("username", ns::search);
        }
        if (needle.empty()) {
            iq.error(StanzaErrorCondition::not_acceptable, "enter part of a username");
            co_return;
        }
        auto& st = *iq.host.storage;
        auto users =
            co_await st.run([&st, needle, max] { return st.directory().search(needle, max); });
        const std::string& domain = iq.host.domain;
        xml::Element r("query", std::string(ns::search));
        if (form) {
            std::vector<std::vector<std::string>> rows;
            for (const auto& u : users) rows.push_back({u + "@" + domain, u});
            r.add_child(forms::make_table(ns::search,
                                          {{"jid", "jid-single", "JID", {}, false},
                                           {"user", "text-single", "Username", {}, false}},
                                          rows));
        } else {
            for (const auto& u : users) {
                auto& item = r.add_child("item", std::string(ns::search));
                item.set_attr("jid", u + "@" + domain);
                item.add_child("nick", std::string(ns::search)).add_text(u);
            }
        }
        iq.reply(std::move(r));
    }
};
}  // namespace

std::unique_ptr<Module> make_search_module() {
    return std::make_unique<SearchModule>();
}

}  // namespace hongyan::modules
