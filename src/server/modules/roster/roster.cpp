// RFC 6121 roster management (§2) with versioning (§2.6, formerly XEP-0237), and the
// stream features for versioning and subscription pre-approval (§3.4). The work is done by
// the IM core (server/im), which also handles presence and subscriptions.
#include "server/im/im.hpp"
#include "server/modules/module_list.hpp"
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
    void start(ModuleContext& ctx) override {
        ctx.add_stream_feature(StreamPhase::post_auth,
                               xml::Element("ver", std::string(ns::roster_ver)));
        ctx.add_stream_feature(StreamPhase::post_auth,
                               xml::Element("sub", std::string(ns::pre_approval)));
        ctx.on_iq(IqType::get, IqTarget::account, ns::roster,
                  [](IqRequest& iq) { return iq.server.im->roster_get(iq); });
        ctx.on_iq(IqType::set, IqTarget::account, ns::roster,
                  [](IqRequest& iq) { return iq.server.im->roster_set(iq); });
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
