// XEP-0280 Message Carbons: a user's resources that enabled carbons get a copy of every
// chat message the user sends from another resource (<sent/>, whatever the destination)
// and of every one the user receives on another resource (<received/>), so that a
// conversation can move between phone and desktop. With the IM core's delivery of a
// bare-JID message to the highest-priority resources only (RFC 6121 §8.5.2.1.1), carbons
// are how the other devices see it. <private/> (§8) and the XEP-0334 <no-copy/> hint keep
// a message out of carbons.
#include <algorithm>

#include "server/c2s/client_session.hpp"
#include "server/modules/module.hpp"
#include "server/router/session_registry.hpp"
#include "server/server_context.hpp"
#include "xmpp/message_kinds.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules {

namespace {

// §6: chat messages, and normal ones with a body; never errors, groupchat, headlines,
// messages from a room's occupants, or a carbon itself.
bool eligible(const xml::Element& m) {
    const std::string_view type = m.attr("type");
    const bool im = type == "chat" ||
                    ((type.empty() || type == "normal") && m.child("body", ns::client) != nullptr);
    if (!im) return false;
    return !m.child("private", ns::carbons) && !m.child("no-copy", ns::hints) &&
           !message_kinds::is_carbon(m) && !m.child("x", ns::muc_user);
}

// §6, §7: the copy for `to`, from the user's bare JID, of the same type, the original
// inside <received/> or <sent/> and XEP-0297's <forwarded/>.
std::string carbon(std::string_view wrapper, const std::string& bare, const Jid& to,
                   const xml::Element& original) {
    std::string out = "<message from='";
    xml::escape(bare, out);
    out += "' to='";
    xml::escape(to.str(), out);
    out += "'";
    if (const auto type = original.attr("type"); !type.empty()) {
        out += " type='";
        xml::escape(type, out);
        out += "'";
    }
    out += "><";
    out += wrapper;
    out += " xmlns='";
    out += ns::carbons;
    out += "'><forwarded xmlns='";
    out += ns::forward;
    out += "'>";
    original.serialize(out);  // with xmlns='jabber:client'
    out += "</forwarded></";
    out += wrapper;
    out += "></message>";
    return out;
}

class CarbonsModule final : public Module {
  public:
    std::string_view name() const override { return "carbons"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0280", "Message Carbons", "1.0.1", "complete",
                 "sent and received copies for chat messages and normal messages with a body; "
                 "<private/>; a bare-JID message goes to the highest-priority resources"},
                {"XEP-0297", "Stanza Forwarding", "1.0", "complete", "inside carbons"}};
    }
    void start(ModuleContext& ctx) override {
        ctx.add_feature(ns::carbons);
        ctx.on_iq(IqType::set, IqTarget::account, ns::carbons, toggle);
        // After the checks that may refuse a message (blocking: priority 100), so that a
        // refused message is not copied.
        ctx.on_stanza(Phase::pre_route, "message/*", -100,
                      [](const StanzaEvent& ev) { return sent(ev); });
        for (const char* route : {"message/bare", "message/full"})
            ctx.on_stanza(Phase::post_deliver, route, 0,
                          [](const StanzaEvent& ev) { return received(ev); });
    }

  private:
    // §4 enable, §5 disable; again and again as the client likes (§10.1).
    static boost::asio::awaitable<void> toggle(IqRequest& iq) {
        const auto& p = iq.payload();
        if (p.name() != "enable" && p.name() != "disable") {
            iq.error(StanzaErrorCondition::bad_request, "expected <enable/> or <disable/>");
            co_return;
        }
        if (!iq.session) {  // §4.1: not a client of this server
            iq.error(StanzaErrorCondition::not_allowed);
            co_return;
        }
        const bool on = p.name() == "enable";
        iq.server.registry->update(*iq.from, iq.session.get(),
                                   [on](ResourceState& r) { r.carbons = on; });
        iq.reply();
    }

    // §7: a message a local client sends, copied to its user's other resources.
    static HookResult sent(const StanzaEvent& ev) {
        if (!ev.session || !eligible(ev.stanza)) return HookResult::pass;
        const std::string bare = ev.from.bare_str();
        // To the user's own bare JID, received() makes the copies.
        if (ev.to.bare_str() == bare) return HookResult::pass;
        for (const auto& r : ev.server.registry->carbons_enabled(bare)) {
            if (r.resource == ev.from.resource()) continue;  // §7: not to the sender
            r.session->deliver(carbon("sent", bare, ev.from.with_resource(r.resource), ev.stanza));
        }
        return HookResult::pass;
    }

    // §6: a message delivered to a local user, copied to the resources that enabled
    // carbons and did not get it.
    static HookResult received(const StanzaEvent& ev) {
        if (!eligible(ev.stanza)) return HookResult::pass;
        const std::string bare = ev.to.bare_str();
        auto copies = ev.server.registry->carbons_enabled(bare);
        if (copies.empty()) return HookResult::pass;
        std::vector<RoutePtr> got;
        if (ev.target == TargetKind::bare) got = ev.server.registry->message_targets(bare);
        for (const auto& r : copies) {
            if (ev.target == TargetKind::full && r.resource == ev.to.resource()) continue;
            if (std::find(got.begin(), got.end(), r.session) != got.end()) continue;
            r.session->deliver(
                carbon("received", bare, ev.to.with_resource(r.resource), ev.stanza));
        }
        return HookResult::pass;
    }
};

}  // namespace

std::unique_ptr<Module> make_carbons_module() {
    return std::make_unique<CarbonsModule>();
}

}  // namespace hongyan::modules
