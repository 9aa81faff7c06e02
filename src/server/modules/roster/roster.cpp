// RFC 6121 roster management (§2) with versioning (§2.6, formerly XEP-0237): the roster
// iq (checks, results, pushes after a versioned fetch), and the stream features for
// versioning and subscription pre-approval (§3.4). The roster itself, its versions and the
// transactions that change it live in the IM core (server/im), with presence and
// subscriptions.
#include <algorithm>

#include "server/c2s/client_session.hpp"
#include "server/c2s/output_queue.hpp"
#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/server_context.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {
class RosterModule final : public Module {
  public:
    std::string_view name() const override { return "roster"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0237", "Roster Versioning", "1.3", "complete",
                 "as RFC 6121 §2.6: an empty result and one push per changed item since the "
                 "client's version, shared-group changes included"}};
    }
    std::vector<config::KeySpec> config_keys() const override {
        using config::ValueType;
        return {
            {"roster.max_items", ValueType::integer, std::int64_t{10000},
             "Contacts a user may add to their own roster (shared-group contacts do not count); "
             "past it a roster set gets <not-allowed/>.",
             1, 10000000},
            {"roster.max_removed", ValueType::integer, std::int64_t{1000},
             "Removed contacts remembered per user for versioned roster fetches (RFC 6121 §2.6); "
             "past it the oldest half is forgotten when the user next logs in, and a client that "
             "far behind gets its whole roster.",
             2, 1000000},
            {"roster.max_name_length", ValueType::integer, std::int64_t{1024},
             "Longest contact name in bytes; longer gets <not-acceptable/> (RFC 6121 §2.3.3).", 1,
             65536},
            {"roster.max_group_length", ValueType::integer, std::int64_t{1024},
             "Longest roster group name in bytes; longer gets <not-acceptable/>.", 1, 65536},
        };
    }
    void start(ModuleContext& ctx) override {
        ctx.add_stream_feature(StreamPhase::post_auth,
                               xml::Element("ver", std::string(ns::roster_ver)));
        ctx.add_stream_feature(StreamPhase::post_auth,
                               xml::Element("sub", std::string(ns::pre_approval)));
        ctx.on_iq(IqType::get, IqTarget::account, ns::roster, get);
        ctx.on_iq(IqType::set, IqTarget::account, ns::roster, set);
        // RFC 6121 §2.1.5: nobody reads or changes another user's roster.
        auto forbidden = [](IqRequest& iq) -> boost::asio::awaitable<void> {
            iq.error(StanzaErrorCondition::forbidden, "that is another user's roster");
            co_return;
        };
        ctx.on_iq(IqType::get, IqTarget::other_account, ns::roster, forbidden);
        ctx.on_iq(IqType::set, IqTarget::other_account, ns::roster, forbidden);
    }

  private:
    // §2.1.3 roster get; §2.6.3 with a version: an empty result and pushes.
    static boost::asio::awaitable<void> get(IqRequest& iq) {
        const xml::Element& q = iq.payload();
        if (q.first_child()) {
            iq.error(StanzaErrorCondition::bad_request, "a roster get carries no items");
            co_return;
        }
        std::optional<std::string> ver;
        if (q.has_attr("ver")) ver = std::string(q.attr("ver"));
        auto r = co_await iq.host.im->roster_fetch(*iq.from, iq.session.get(), std::move(ver));
        // Written here rather than built as elements: a roster of thousands of items is
        // one string.
        std::string out = "<iq type=\"result\" id=\"";
        xml::escape_attr(iq.iq.attr("id"), out);
        out += "\" to=\"";
        xml::escape_attr(iq.from->str(), out);
        out += '"';
        if (r.incremental) {
            out += "/>";
        } else {
            out += "><query xmlns=\"jabber:iq:roster\" ver=\"";
            xml::escape_attr(r.ver, out);
            out += "\">";
            out += r.items_xml;
            out += "</query></iq>";
        }
        iq.session->send_stanza(std::move(out));
        // The changes as pushes, as the client reads them (after a long absence, thousands
        // of them).
        if (!r.pushes.empty()) {
            std::vector<std::shared_ptr<const std::string>> list;
            list.reserve(r.pushes.size());
            for (auto& p : r.pushes)
                list.push_back(std::make_shared<const std::string>(std::move(p)));
            iq.session->add_source(std::make_shared<c2s::StanzaListSource>(std::move(list)));
        }
    }

    // §2.3 roster set: add, update, or (§2.5) remove one item.
    static boost::asio::awaitable<void> set(IqRequest& iq) {
        const auto& limits = iq.host.im->limits();
        auto children = iq.payload().children();
        // §2.3.3: exactly one item.
        if (children.size() != 1 || !children[0]->is("item", ns::roster)) {
            iq.error(StanzaErrorCondition::bad_request, "a roster set carries exactly one <item/>");
            co_return;
        }
        const xml::Element& el = *children[0];
        auto jid = Jid::parse(el.attr("jid"));
        if (!jid) {
            iq.error(StanzaErrorCondition::jid_malformed, "the item's 'jid' is not a valid JID");
            co_return;
        }
        std::string name(el.attr("name"));
        if (name.size() > limits.roster_max_name) {
            iq.error(
                StanzaErrorCondition::not_acceptable,
                "the name is longer than " + std::to_string(limits.roster_max_name) + " bytes");
            co_return;
        }
        std::vector<std::string> groups;
        for (const auto* g : el.children()) {
            if (!g->is("group", ns::roster)) continue;
            std::string text = g->text();
            if (text.empty()) {
                iq.error(StanzaErrorCondition::not_acceptable, "a group name cannot be empty");
                co_return;
            }
            if (text.size() > limits.roster_max_group) {
                iq.error(StanzaErrorCondition::not_acceptable,
                         "a group name is longer than " + std::to_string(limits.roster_max_group) +
                             " bytes");
                co_return;
            }
            if (std::find(groups.begin(), groups.end(), text) != groups.end()) {
                iq.error(StanzaErrorCondition::bad_request, "the same group is listed twice");
                co_return;
            }
            groups.push_back(std::move(text));
        }
        const bool remove = el.attr("subscription") == "remove";
        // Any other 'subscription' (and 'ask', 'approved') from a client is ignored (§2.1.5).
        using R = im::RosterUpdate;
        auto r = co_await iq.host.im->roster_update(iq.from->local(), jid->str(), std::move(name),
                                                    std::move(groups), remove);
        if (r == R::full) {
            iq.error(StanzaErrorCondition::not_allowed,
                     "the roster is full (" + std::to_string(limits.roster_max_items) + " items)");
        } else if (r == R::not_found) {
            iq.error(StanzaErrorCondition::item_not_found, "no such contact in the roster");
        } else if (r == R::shared_only) {
            iq.error(StanzaErrorCondition::not_allowed,
                     "this contact comes from a shared group the operator manages");
        } else {
            iq.reply();
        }
    }
};
}  // namespace

std::unique_ptr<Module> make_roster_module() {
    return std::make_unique<RosterModule>();
}

}  // namespace hongyan::modules
