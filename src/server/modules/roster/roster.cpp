// RFC 6121 roster management (§2) with versioning (§2.6, formerly XEP-0237), and the
// stream features for versioning and subscription pre-approval (§3.4). The work is done by
// the IM core (server/im), which also handles presence and subscriptions.
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
        ctx.on_iq(IqType::get, IqTarget::account, ns::roster,
                  [](IqRequest& iq) { return iq.host.im->roster_get(iq); });
        ctx.on_iq(IqType::set, IqTarget::account, ns::roster,
                  [](IqRequest& iq) { return iq.host.im->roster_set(iq); });
        // RFC 6121 §2.1.5: nobody reads or changes another user's roster.
        auto forbidden = [](IqRequest& iq) -> boost::asio::awaitable<void> {
            iq.error(StanzaErrorCondition::forbidden, "that is another user's roster");
            co_return;
        };
        ctx.on_iq(IqType::get, IqTarget::other_account, ns::roster, forbidden);
        ctx.on_iq(IqType::set, IqTarget::other_account, ns::roster, forbidden);
    }
};
}  // namespace

std::unique_ptr<Module> make_roster_module() {
    return std::make_unique<RosterModule>();
}

}  // namespace hongyan::modules
