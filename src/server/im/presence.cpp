// Presence (RFC 6121 §4) and subscriptions (§3) between local users. Every local contact's
// presence is known here, so probes are answered from the session registry rather than
// sent as stanzas; subscription stanzas are processed on both sides in one storage job.
#include <spdlog/spdlog.h>

#include <charconv>
#include <unordered_set>

#include "server/c2s/c2s_session.hpp"
#include "server/im/delivery.hpp"
#include "server/im/im.hpp"
#include "server/router/router.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::im {

namespace asio = boost::asio;

namespace {
std::string unavailable_xml(const std::string& from) {
    xml::Element p("presence", std::string(ns::client));
    p.set_attr("from", from);
    p.set_attr("type", "unavailable");
    return p.to_string(ns::client);
}
}  // namespace

std::optional<std::string> Im::local_user(const std::string& bare) const {
    auto j = Jid::parse(bare);
    if (!j || j->domain() != domain_ || j->local().empty() || !j->is_bare()) return std::nullopt;
    return j->local();
}

// ---- who sees whom ----------------------------------------------------------------------

std::vector<std::string> Im::contacts(const std::string& user, bool watchers) const {
    // Local usernames whose resources get `user`'s presence (watchers: 'from' or a shared
    // group), or whose presence `user` gets ('to' or a shared group).
    std::unordered_set<std::string> seen;
    std::vector<std::string> out;
    auto add = [&](const std::string& u) {
        if (u != user && seen.insert(u).second) out.push_back(u);
    };
    if (auto st = cache_.find(user)) {
        std::lock_guard lock(st->mu);
        for (const auto& [jid, item] : st->items) {
            if (item.removed || !(watchers ? item.sub.from : item.sub.to)) continue;
            if (auto u = local_user(jid)) add(*u);
        }
    }
    for (const auto& u : shared_.named_contacts(user)) add(u);
    if (shared_.everyone() && shared_.is_account(user)) {
        // Only the online members matter, so ask the registry rather than walk every
        // account.
        for (const auto& bare : server_.registry->available_users())
            if (auto u = local_user(bare); u && shared_.is_account(*u)) add(*u);
    }
    return out;
}

bool Im::may_see_locked(const UserState& st, const std::string& viewer) const {
    if (viewer == st.user) return true;
    if (const auto* it = st.item_locked(full_bare(viewer)); it && it->sub.from) return true;
    return !shared_.groups_between(st.user, viewer).empty();
}

asio::awaitable<bool> Im::may_see_presence(const std::string& user, const Jid& viewer) {
    if (viewer.domain() != domain_) co_return false;
    std::string v = viewer.local();
    if (v == user) co_return true;
    co_return co_await server_.storage->run([this, user, v] {
        if (!server_.storage->accounts().exists(user)) return false;
        auto st = load_state(user);
        bool ok;
        {
            std::lock_guard lock(st->mu);
            ok = !st->blocks_locked(*Jid::make(v, domain_)) && may_see_locked(*st, v);
        }
        release_if_unpinned(st);
        return ok;
    });
}

bool Im::presence_blocked(const std::string& from_user, const std::string& to_user) const {
    auto from = Jid::make(from_user, domain_);
    auto to = Jid::make(to_user, domain_);
    return !from || !to || blocks(from_user, *to) || blocks(to_user, *from);
}

// ---- delivery of presence ---------------------------------------------------------------

void Im::broadcast(const Jid& from, const std::string& bytes,
                   const std::vector<std::string>& extra_full) {
    const std::string& user = from.local();
    auto shared_bytes = std::make_shared<const std::string>(bytes);
    DeliveryBatch batch;
    for (const auto& c : contacts(user, true)) {
        if (presence_blocked(user, c)) continue;
        for (const auto& r : server_.registry->resources(full_bare(c)))
            if (r.state.available) batch.add(r.session, shared_bytes);
    }
    // §4.2.2, §4.4.2: the user's own available resources, the sender included.
    for (const auto& r : server_.registry->resources(from.bare_str()))
        if (r.state.available || r.resource == from.resource()) batch.add(r.session, shared_bytes);
    // §4.6.3: directed-presence recipients hear of unavailable too.
    for (const auto& f : extra_full) {
        auto j = Jid::parse(f);
        if (!j || j->domain() != domain_) continue;
        if (blocks(j->local(), from)) continue;
        if (j->is_bare()) {
            for (const auto& r : server_.registry->resources(j->str()))
                if (r.state.available) batch.add(r.session, shared_bytes);
        } else if (auto s = server_.registry->find(*j)) {
            batch.add(s, shared_bytes);
        }
    }
}

std::string Im::presences_of(const std::string& user) const {
    std::string out;
    for (const auto& r : server_.registry->resources(full_bare(user)))
        if (r.state.available && r.state.presence) out += *r.state.presence;
    return out;
}

void Im::deliver_to_available(const std::string& user, const std::string& bytes) const {
    if (bytes.empty()) return;
    for (const auto& r : server_.registry->resources(full_bare(user)))
        if (r.state.available) Router::deliver(r.session, bytes);
}

void Im::send_current_presence(const std::string& from_user, const std::string& to_user) {
    if (presence_blocked(from_user, to_user)) return;
    deliver_to_available(to_user, presences_of(from_user));
}

void Im::send_unavailable(const std::string& from_user, const std::string& to_user) {
    if (presence_blocked(from_user, to_user)) return;
    std::string out;
    for (const auto& r : server_.registry->resources(full_bare(from_user)))
        if (r.state.available) out += unavailable_xml(from_user + "@" + domain_ + "/" + r.resource);
    deliver_to_available(to_user, out);
}

// ---- subscriptions (§3, Appendix A) -------------------------------------------------------

void Im::inbound_subscription(const std::string& owner, const std::string& other, SubType t,
                              const std::string& stanza) {
    auto st = load_state(owner);
    const std::string other_jid = full_bare(other);
    RosterItem item;
    {
        std::lock_guard lock(st->mu);
        if (auto it = st->items.find(other_jid); it != st->items.end() && !it->second.removed)
            item = it->second;
        else
            item = RosterItem{other_jid, {}, {}, {}, false, false, 0, {}};
    }
    Outcome o = inbound(item.sub, t);
    const RosterItem item_before = item;
    if (o.changed() || (t == SubType::subscribe && o.forward)) {
        item.sub = o.state;
        // §3.1.3: the request itself is kept, to be shown again at every login until
        // answered; no roster item is created for it.
        if (t == SubType::subscribe && o.state.pending_in) item.request = stanza;
        if (!o.state.pending_in) item.request.clear();
        // Pending In alone shows in no roster attribute: no push for it (§2.6.2 does not
        // count it as a roster modification).
        SubState seen_before = item_before.sub, seen_after = o.state;
        seen_before.pending_in = seen_after.pending_in = false;
        commit(*st, item, item.listed && !(seen_before == seen_after));
    }
    if (o.forward) {
        if (t == SubType::subscribe) {
            deliver_to_available(owner, stanza);
        } else {
            send_to_interested(owner, stanza);
        }
        if (t == SubType::subscribed) send_current_presence(other, owner);  // §3.1.6
        if (t == SubType::unsubscribed) send_unavailable(other, owner);     // §3.2.3
        if (t == SubType::unsubscribe) send_unavailable(owner, other);      // §3.3.3
    }
    if (o.auto_subscribed) {
        // §3.1.3: already approved (or pre-approved): the server answers for the owner.
        xml::Element reply("presence", std::string(ns::client));
        reply.set_attr("from", full_bare(owner));
        reply.set_attr("to", other_jid);
        reply.set_attr("type", "subscribed");
        inbound_subscription(other, owner, SubType::subscribed, reply.to_string(ns::client));
    }
    release_if_unpinned(st);
}

bool Im::outbound_subscription(const std::string& user, const std::string& contact, SubType t,
                               const std::string& stanza) {
    auto local = local_user(contact);
    if (local && !server_.storage->accounts().exists(*local)) return false;
    auto st = load_state(user);
    RosterItem item;
    {
        std::lock_guard lock(st->mu);
        if (auto it = st->items.find(contact); it != st->items.end() && !it->second.removed)
            item = it->second;
        else
            item = RosterItem{contact, {}, {}, {}, false, false, 0, {}};
    }
    Outcome o = outbound(item.sub, t);
    if (t == SubType::unsubscribed && o.forward && local) send_unavailable(user, *local);  // §3.2.2
    if (o.changed()) {
        item.sub = o.state;
        // An outbound subscribe creates the item (§3.1.2); so does an approval or a
        // pre-approval (§3.1.5, §3.4.2).
        if (t == SubType::subscribe || t == SubType::subscribed) item.listed = true;
        if (!o.state.pending_in) item.request.clear();
        commit(*st, item, item.listed);
    }
    // §3.1.5: after an approval the user's presence goes to the contact; the contact's
    // side (inbound 'subscribed' there) sends it.
    if (o.forward && local) inbound_subscription(*local, user, t, stanza);
    release_if_unpinned(st);
    return true;
}

void Im::remove_item(UserState& st, RosterItem item) {
    // RFC 6121 §2.5.2: removing a contact cancels both directions of the subscription.
    const SubState before = item.sub;
    const std::string user = st.user;
    auto local = local_user(item.jid);
    auto say = [&](SubType t) {
        if (!local) return;
        xml::Element p("presence", std::string(ns::client));
        p.set_attr("from", full_bare(user));
        p.set_attr("to", item.jid);
        p.set_attr("type", std::string(to_string(t)));
        inbound_subscription(*local, user, t, p.to_string(ns::client));
    };
    if (before.from || before.pending_in) {
        if (local && before.from) send_unavailable(user, *local);
        say(SubType::unsubscribed);
    }
    if (before.to || before.pending_out) say(SubType::unsubscribe);
    item.sub = SubState{};
    item.listed = false;
    item.removed = true;
    item.request.clear();
    item.name.clear();
    item.groups.clear();
    commit(st, item);
}

// ---- presence from a client ---------------------------------------------------------------

int Im::activate(const SessionPtr& sender, const Jid& from, const std::string& user, int priority,
                 const std::shared_ptr<const std::string>& bytes) {
    // Storage thread: see deliver_or_store for why this is one job.
    std::vector<storage::OfflineMessage> msgs;
    if (priority >= 0) {
        auto st = load_state(user);
        for (auto& m : server_.storage->offline().load(user))
            if (st->offline_in_flight.insert(m.id).second) msgs.push_back(std::move(m));
    }
    if (!msgs.empty()) {
        std::string out;
        std::vector<std::int64_t> ids;
        for (auto& m : msgs) {
            out += m.stanza;
            ids.push_back(m.id);
        }
        // XEP-0160: removed only once written to the client's socket.
        asio::post(sender->executor(), [this, sender, user, out = std::move(out),
                                        ids = std::move(ids)]() mutable {
            sender->send_raw_tracked(out, [this, user, ids = std::move(ids)](bool written) {
                server_.storage->post([this, user, ids, written] {
                    if (written) server_.storage->offline().remove(user, ids);
                    if (auto st = cache_.find(user))
                        for (auto id : ids) st->offline_in_flight.erase(id);
                });
            });
        });
    }
    server_.registry->update(from, sender.get(), [&](ResourceState& r) {
        r.available = true;
        r.priority = priority;
        r.presence = bytes;
    });
    return 0;
}

asio::awaitable<void> Im::presence(SessionPtr sender, xml::Element p, std::optional<Jid> to) {
    const Jid from = sender->jid();
    const std::string user = from.local();
    const std::string type(p.attr("type"));

    if (auto t = sub_type(type)) {
        // §3: subscription stanzas go between bare JIDs.
        if (!to || to->bare() == from.bare() || to->local().empty()) co_return;
        const std::string contact = to->bare_str();
        p.set_attr("from", from.bare_str());
        p.set_attr("to", contact);
        std::string bytes = p.to_string(ns::client);
        bool ok = co_await server_.storage->run([this, user, contact, t, bytes] {
            return outbound_subscription(user, contact, *t, bytes);
        });
        if (!ok && *t == SubType::subscribe) {
            auto err = make_error_reply(
                p, StanzaError{
                       StanzaErrorCondition::item_not_found, "there is no such user here", {}});
            err.set_attr("to", from.str());
            sender->send(err);
        }
        co_return;
    }
    if (type == "probe") {
        // §4.3: clients should not probe, but get an answer if they do.
        if (!to || to->local().empty()) co_return;
        std::string contact = to->local();
        std::string out;
        if (co_await may_see_presence(contact, from)) {
            out = presences_of(contact);
            if (out.empty()) {
                xml::Element u("presence", std::string(ns::client));
                u.set_attr("from", to->bare_str());
                u.set_attr("type", "unavailable");
                if (p.has_attr("id")) u.set_attr("id", p.attr("id"));
                out = u.to_string(ns::client);
            }
        } else {
            xml::Element u("presence", std::string(ns::client));
            u.set_attr("from", to->bare_str());
            u.set_attr("type", "unsubscribed");
            if (p.has_attr("id")) u.set_attr("id", p.attr("id"));
            out = u.to_string(ns::client);
        }
        sender->send_raw(out);
        co_return;
    }
    if (type == "error") {
        if (to && !to->is_bare())
            if (auto s = server_.registry->find(*to)) Router::deliver(s, p.to_string(ns::client));
        co_return;
    }
    if (!type.empty() && type != "unavailable") {
        // §4.7.1: no other types exist.
        auto err = make_error_reply(
            p, StanzaError{StanzaErrorCondition::bad_request, "unknown presence type", {}});
        err.set_attr("to", from.str());
        sender->send(err);
        co_return;
    }
    int priority = 0;
    if (const auto* pr = p.child("priority", ns::client)) {
        std::string t = pr->text();
        auto r = std::from_chars(t.data(), t.data() + t.size(), priority);
        if (r.ec != std::errc() || r.ptr != t.data() + t.size() || priority < -128 ||
            priority > 127) {
            auto err = make_error_reply(
                p, StanzaError{StanzaErrorCondition::bad_request,
                               "priority is an integer from -128 to 127 (RFC 6121 §4.7.2.3)",
                               {}});
            err.set_attr("to", from.str());
            sender->send(err);
            co_return;
        }
    }

    if (to) {
        // §4.6: directed presence, delivered and remembered.
        if (to->domain() != domain_ || to->local().empty()) co_return;
        std::string bytes = p.to_string(ns::client);
        if (to->is_bare()) {
            deliver_to_available(to->local(), bytes);
        } else if (auto s = server_.registry->find(*to)) {
            Router::deliver(s, bytes);
        }
        // §4.6.2: only those who do not already get the broadcast are remembered.
        bool subscriber = false;
        if (auto st = cache_.find(user)) subscriber = may_see(*st, to->local());
        if (!subscriber || type == "unavailable")
            sender->note_directed(to->str(), type == "unavailable");
        co_return;
    }

    if (type == "unavailable") {
        // §4.5: broadcast and forget the directed-presence list.
        bool was = sender->available();
        server_.registry->update(from, sender.get(), [](ResourceState& r) {
            r.available = false;
            r.presence.reset();
        });
        sender->set_available(false);
        auto directed = sender->take_directed();
        if (was || !directed.empty()) broadcast(from, p.to_string(ns::client), directed);
        sender->set_last_status(p.child_text("status", ns::client));
        co_return;
    }

    auto bytes = std::make_shared<const std::string>(p.to_string(ns::client));
    if (sender->available()) {
        // §4.4: subsequent presence. A resource that comes up from a negative priority
        // now takes the offline messages (XEP-0160 §3), as at initial presence.
        int before = 0;
        for (const auto& r : server_.registry->resources(from.bare_str()))
            if (r.session == sender) before = r.state.priority;
        if (before < 0 && priority >= 0) {
            co_await server_.storage->run([this, sender, from, user, priority, bytes] {
                return activate(sender, from, user, priority, bytes);
            });
        } else {
            server_.registry->update(from, sender.get(), [&](ResourceState& r) {
                r.priority = priority;
                r.presence = bytes;
            });
        }
        broadcast(from, *bytes);
        co_return;
    }

    // §4.2: initial presence, all in one storage job: in order with messages being
    // stored, the offline messages go to the session first, then the resource becomes
    // available (see Im::deliver_or_store); and in order with other users' initial
    // presence, so that two users coming online together each get the other's presence
    // once, by broadcast or by probe, not both.
    co_await server_.storage->run([this, sender, from, user, priority, bytes] {
        activate(sender, from, user, priority, bytes);
        broadcast(from, *bytes);
        // Probes, answered locally: the presence of everyone the user is subscribed to,
        // of the user's other resources, and the subscription requests still waiting.
        std::string out;
        for (const auto& c : contacts(user, false)) {
            if (presence_blocked(c, user)) continue;
            out += presences_of(c);
        }
        for (const auto& r : server_.registry->resources(from.bare_str()))
            if (r.state.available && r.resource != from.resource() && r.state.presence)
                out += *r.state.presence;
        if (auto st = cache_.find(user)) {
            std::lock_guard lock(st->mu);
            for (const auto& [jid, item] : st->items)
                if (item.sub.pending_in && !item.request.empty()) out += item.request;
        }
        if (!out.empty()) Router::deliver(sender, std::move(out));
        return 0;
    });
    sender->set_available(true);
}

}  // namespace hongyan::im
