// Presence (RFC 6121 §4) and subscriptions (§3) between local users. Every local contact's
// presence is known here, so probes are answered from the session registry rather than
// sent as stanzas; subscription stanzas are processed on both sides in one job holding
// both users' keys.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <unordered_set>

#include "server/c2s/client_session.hpp"
#include "server/c2s/output_queue.hpp"
#include "server/im/delivery.hpp"
#include "server/im/im.hpp"
#include "server/router/router.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/datetime.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/xml_stream_parser.hpp"

namespace hongyan::im {

namespace asio = boost::asio;

namespace {
// A presence stanza from `from`, to `to` (none when empty), of `type`.
xml::Element make_presence(const std::string& from, const std::string& to, std::string_view type) {
    xml::Element p("presence", std::string(ns::client));
    p.set_attr("from", from);
    if (!to.empty()) p.set_attr("to", to);
    p.set_attr("type", std::string(type));
    return p;
}
std::string unavailable_xml(const std::string& from) {
    return make_presence(from, {}, "unavailable").to_string(ns::client);
}
}  // namespace

std::optional<std::string> Im::local_user(const std::string& bare) const {
    auto j = Jid::parse(bare);
    if (!j || j->domain() != domain_ || j->local().empty() || !j->is_bare()) return std::nullopt;
    return j->local();
}

// ---- who sees whom ----------------------------------------------------------------------

std::vector<std::string> Im::contacts(const std::string& user, bool watchers,
                                      std::vector<std::string>* remote) const {
    // Local usernames whose resources get `user`'s presence (watchers: 'from' or a shared
    // group), or whose presence `user` gets ('to' or a shared group); the bare JIDs of
    // such contacts at other domains go to `remote` when given.
    std::unordered_set<std::string> seen;
    std::vector<std::string> out;
    auto add = [&](const std::string& u) {
        if (u != user && seen.insert(u).second) out.push_back(u);
    };
    if (auto st = cache_.find(user)) {
        std::lock_guard lock(st->mu);
        for (const auto& [jid, item] : st->items) {
            if (item.removed || !(watchers ? item.sub.from : item.sub.to)) continue;
            if (auto u = local_user(jid))
                add(*u);
            else if (auto j = Jid::parse(jid); remote && j && j->domain() != domain_)
                remote->push_back(jid);
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
    co_return co_await seq_.run({user}, [this, user, v] {
        return state_allows(user, [&](const UserState& st) {
            return !st.blocks_locked(*Jid::make(v, domain_)) && may_see_locked(st, v);
        });
    });
}

asio::awaitable<bool> Im::in_roster_groups(const std::string& user, const Jid& viewer,
                                           std::vector<std::string> groups) {
    const std::string bare = viewer.bare_str();
    const std::string local = viewer.domain() == domain_ ? viewer.local() : std::string();
    co_return co_await seq_.run({user}, [this, user, bare, local, groups = std::move(groups)] {
        return state_allows(user, [&](const UserState& st) {
            if (st.blocks_locked(*Jid::parse(bare))) return false;
            auto in = [&](const std::string& g) {
                return std::find(groups.begin(), groups.end(), g) != groups.end();
            };
            if (const auto* it = st.item_locked(bare))
                if (std::any_of(it->groups.begin(), it->groups.end(), in)) return true;
            if (local.empty()) return false;
            const auto shared = shared_.groups_between(user, local);
            return std::any_of(shared.begin(), shared.end(), in);
        });
    });
}

bool Im::state_allows(const std::string& user, const std::function<bool(const UserState&)>& pred) {
    if (!storage_.accounts().exists(user)) return false;
    auto st = load_state(user);
    bool ok;
    {
        std::lock_guard lock(st->mu);
        ok = pred(*st);
    }
    release_if_unpinned(st);
    return ok;
}

bool Im::presence_blocked(const std::string& from_user, const std::string& to_user) const {
    auto from = Jid::make(from_user, domain_);
    auto to = Jid::make(to_user, domain_);
    return !from || !to || blocks(from_user, *to) || blocks(to_user, *from);
}

// ---- delivery of presence ---------------------------------------------------------------

void Im::broadcast_directed(const Jid& from, const std::string& bytes,
                            const std::vector<std::string>& to, DeliveryBatch* batch) {
    DeliveryBatch own;
    DeliveryBatch& b = batch ? *batch : own;
    auto shared_bytes = std::make_shared<const std::string>(bytes);
    for (const auto& f : to) {
        auto j = Jid::parse(f);
        if (!j) continue;
        if (j->domain() != domain_) {
            // Only unavailable goes to directed-presence recipients (§4.6.3); to another
            // domain it travels as an element of its own.
            server_.router->route(make_presence(from.str(), j->str(), "unavailable"));
            continue;
        }
        if (blocks(j->local(), from)) continue;
        if (j->is_bare()) {
            for (const auto& r : server_.registry->resources(j->str()))
                if (r.state.available) b.add(r.session, shared_bytes);
        } else if (auto s = server_.registry->find(*j)) {
            b.add(s, shared_bytes);
        }
    }
}

void Im::broadcast(const Jid& from, const std::string& bytes,
                   const std::vector<std::string>& extra_full, std::uint64_t initial) {
    const std::string& user = from.local();
    auto shared_bytes = std::make_shared<const std::string>(bytes);
    DeliveryBatch batch;
    std::vector<std::string> remote;
    for (const auto& c : contacts(user, true, &remote)) {
        if (presence_blocked(user, c)) continue;
        for (const auto& r : server_.registry->resources(full_bare(c)))
            if (r.state.available && (initial == 0 || r.state.available_since < initial))
                batch.add(r.session, shared_bytes);
    }
    // §4.2.2, §4.4.2: subscribers at other domains (components), one stanza each, through
    // their route.
    if (!remote.empty())
        if (auto el = xml::parse_stanza(bytes, ns::client))
            for (const auto& c : remote) {
                if (blocks(user, *Jid::parse(c))) continue;
                xml::Element copy = *el;
                copy.set_attr("to", c);
                server_.router->route(std::move(copy));
            }
    // §4.2.2, §4.4.2: the user's own available resources, the sender included.
    for (const auto& r : server_.registry->resources(from.bare_str()))
        if (r.state.available || r.resource == from.resource()) batch.add(r.session, shared_bytes);
    // §4.6.3: directed-presence recipients hear of unavailable too.
    broadcast_directed(from, bytes, extra_full, &batch);
}

void Im::presences_of(const std::string& user, Stanzas& out, std::uint64_t before) const {
    for (const auto& r : server_.registry->resources(full_bare(user)))
        if (r.state.available && r.state.presence &&
            (before == 0 || r.state.available_since < before))
            out.push_back(r.state.presence);
}

void Im::deliver_to_available(const std::string& user, const std::string& stanza) const {
    auto bytes = std::make_shared<const std::string>(stanza);
    for (const auto& r : server_.registry->resources(full_bare(user)))
        if (r.state.available) r.session->deliver(bytes);
}

void Im::deliver_to_available(const std::string& user, const Stanzas& stanzas) const {
    if (stanzas.empty()) return;
    for (const auto& r : server_.registry->resources(full_bare(user)))
        if (r.state.available) r.session->deliver(stanzas);
}

void Im::send_current_presence(const std::string& from_user, const std::string& to_user) {
    if (presence_blocked(from_user, to_user)) return;
    Stanzas out;
    presences_of(from_user, out);
    deliver_to_available(to_user, out);
    for (const auto& f : shared_listeners_) f(from_user, to_user);
}

boost::asio::awaitable<xml::Element> Im::last_unavailable(const std::string& user,
                                                          const std::string& to) {
    auto last = co_await seq_.run({user}, [this, user] {
        try {
            return storage_.directory().last_activity(user);
        } catch (const std::exception& e) {
            spdlog::warn("last activity of {}: {}", user, e.what());
            return std::optional<storage::LastActivity>{};
        }
    });
    auto p = make_presence(full_bare(user), to, "unavailable");
    if (last && last->logout > 0) {
        if (!last->status.empty())
            p.add_child("status", std::string(ns::client)).add_text(last->status);
        auto& delay = p.add_child("delay", std::string(ns::delay));
        delay.set_attr("from", domain_);
        delay.set_attr("stamp", datetime::format_us(last->logout * 1000000));
    }
    co_return p;
}

void Im::send_unavailable(const std::string& from_user, const std::string& to_user) {
    if (presence_blocked(from_user, to_user)) return;
    Stanzas out;
    for (const auto& r : server_.registry->resources(full_bare(from_user)))
        if (r.state.available)
            out.push_back(std::make_shared<const std::string>(
                unavailable_xml(from_user + "@" + domain_ + "/" + r.resource)));
    deliver_to_available(to_user, out);
}

void Im::route_presence_of(const std::string& user, const std::string& to, bool unavailable) {
    for (const auto& r : server_.registry->resources(full_bare(user))) {
        if (!r.state.available || !r.state.presence) continue;
        if (unavailable) {
            server_.router->route(
                make_presence(full_bare(user) + "/" + r.resource, to, "unavailable"));
            continue;
        }
        auto p = xml::parse_stanza(*r.state.presence, ns::client);
        if (!p) continue;
        p->set_attr("to", to);
        server_.router->route(std::move(*p));
    }
}

// ---- subscriptions (§3, Appendix A) -------------------------------------------------------

void Im::inbound_subscription(RosterTxn& txn, const std::string& owner,
                              const std::string& other_jid, SubType t, const std::string& stanza) {
    auto st = load_for(txn, owner);
    // A local user, or (nullopt) a JID of another domain: a component, later a remote
    // server's user, whose server does its side itself.
    const auto other = local_user(other_jid);
    RosterItem item;
    if (auto found = txn.find(*st, other_jid); found && !found->removed)
        item = *found;
    else
        item = RosterItem{other_jid, {}, {}, {}, false, false, 0, {}};
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
        const bool push = item.listed && !(seen_before == seen_after);
        commit(txn, st, item, push);
    }
    if (o.forward) {
        txn.effects.push_back([this, owner, other, other_jid, t, stanza] {
            if (t == SubType::subscribe) {
                deliver_to_available(owner, stanza);
            } else {
                send_to_interested(owner, stanza);
            }
            if (other) {
                if (t == SubType::subscribed) send_current_presence(*other, owner);  // §3.1.6
                if (t == SubType::unsubscribed) send_unavailable(*other, owner);     // §3.2.3
                if (t == SubType::unsubscribe) send_unavailable(owner, *other);      // §3.3.3
            } else if (t == SubType::unsubscribe) {
                route_presence_of(owner, other_jid, true);  // §3.3.3
            }
        });
    }
    if (o.auto_subscribed) {
        // §3.1.3: already approved (or pre-approved): the server answers for the owner.
        xml::Element reply = make_presence(full_bare(owner), other_jid, "subscribed");
        if (other) {
            inbound_subscription(txn, *other, full_bare(owner), SubType::subscribed,
                                 reply.to_string(ns::client));
        } else {
            // §3.1.3, §3.1.5: the answer and then the owner's presence go to the contact.
            txn.effects.push_back([this, owner, other_jid, reply = std::move(reply)]() mutable {
                server_.router->route(std::move(reply));
                route_presence_of(owner, other_jid, false);
            });
        }
    }
}

bool Im::outbound_subscription(RosterTxn& txn, const std::string& user, const std::string& contact,
                               SubType t, const std::string& stanza) {
    auto local = local_user(contact);
    if (local && !storage_.accounts().exists(*local)) return false;
    auto st = load_for(txn, user);
    RosterItem item;
    if (auto found = txn.find(*st, contact); found && !found->removed)
        item = *found;
    else
        item = RosterItem{contact, {}, {}, {}, false, false, 0, {}};
    Outcome o = outbound(item.sub, t);
    if (t == SubType::unsubscribed && o.forward && local)
        txn.effects.push_back([this, user, l = *local] { send_unavailable(user, l); });  // §3.2.2
    if (o.changed()) {
        item.sub = o.state;
        // An outbound subscribe creates the item (§3.1.2); so does an approval or a
        // pre-approval (§3.1.5, §3.4.2).
        if (t == SubType::subscribe || t == SubType::subscribed) item.listed = true;
        if (!o.state.pending_in) item.request.clear();
        const bool push = item.listed;
        commit(txn, st, item, push);
    }
    // §3.1.5: after an approval the user's presence goes to the contact; the contact's
    // side (inbound 'subscribed' there) sends it.
    if (o.forward && local) inbound_subscription(txn, *local, full_bare(user), t, stanza);
    return true;
}

void Im::remove_item(RosterTxn& txn, const UserPtr& st, RosterItem item) {
    // RFC 6121 §2.5.2: removing a contact cancels both directions of the subscription.
    const SubState before = item.sub;
    const std::string user = st->user;
    auto local = local_user(item.jid);
    auto say = [&](SubType t) {
        if (!local) return;
        inbound_subscription(
            txn, *local, full_bare(user), t,
            make_presence(full_bare(user), item.jid, to_string(t)).to_string(ns::client));
    };
    if (before.from || before.pending_in) {
        if (local && before.from)
            txn.effects.push_back([this, user, l = *local] { send_unavailable(user, l); });
        say(SubType::unsubscribed);
    }
    if (before.to || before.pending_out) say(SubType::unsubscribe);
    item.sub = SubState{};
    item.listed = false;
    item.removed = true;
    item.request.clear();
    item.name.clear();
    item.groups.clear();
    commit(txn, st, item);
}

// ---- presence from a client ---------------------------------------------------------------

std::uint64_t Im::activate(const SessionPtr& sender, const Jid& from, const std::string& user,
                           int priority, const std::shared_ptr<const std::string>& bytes) {
    auto st = load_state(user);
    // The offline module's stored messages (it may query the database: before the lock).
    std::shared_ptr<c2s::BulkSource> first;
    if (priority >= 0 && available_source_) first = available_source_(st);
    std::lock_guard lock(st->presence_mu);
    auto own = server_.registry->state(from, sender.get());
    if (!own) return 0;  // the session left (and `first` goes with it)
    if (first) {
        // Queued on the session before it is marked available: stanzas delivered live
        // from now on are queued after these.
        sender->post([sender, first] { sender->add_source(first); });
    }
    // Initial presence takes the next place in the host's order, under the registry's lock
    // for this user: a contact's resource whose place is earlier is visible as available
    // to this one's probe, and a later one sees this one (see broadcast()).
    const bool initial = !own->available;
    std::uint64_t since = own->available_since;
    server_.registry->update(from, sender.get(), [&](ResourceState& r) {
        if (initial) since = r.available_since = activations_.fetch_add(1) + 1;
        r.available = true;
        r.priority = priority;
        r.presence = bytes;
    });
    broadcast(from, *bytes, {}, initial ? since : 0);
    return since;
}

namespace {
// §4.6: a directed-presence recipient is remembered, and forgotten after unavailable.
void note_directed(std::vector<std::string>& list, const std::string& to, bool unavailable) {
    auto it = std::find(list.begin(), list.end(), to);
    if (unavailable) {
        if (it != list.end()) list.erase(it);
    } else if (it == list.end()) {
        list.push_back(to);
    }
}
}  // namespace

asio::awaitable<void> Im::presence(SessionPtr sender, xml::Element p, std::optional<Jid> to) {
    const Jid from = sender->jid();
    const std::string user = from.local();
    const std::string type(p.attr("type"));

    if (auto t = sub_type(type)) {
        // §3: subscription stanzas go between bare JIDs.
        if (!to || to->bare() == from.bare() || (to->local().empty() && to->domain() == domain_))
            co_return;
        const std::string contact = to->bare_str();
        p.set_attr("from", from.bare_str());
        p.set_attr("to", contact);
        std::string bytes = p.to_string(ns::client);
        bool ok = co_await seq_.run(keys_with(user, contact), [this, user, contact, t, bytes] {
            RosterTxn txn;
            if (!outbound_subscription(txn, user, contact, *t, bytes)) return false;
            finish(txn);
            return true;
        });
        // §3.1.2: a subscription stanza for another domain goes on once the user's
        // roster has its side of it.
        if (ok && to->domain() != domain_) {
            server_.router->route(std::move(p));
            // §3.1.5: after an approval the user's presence goes to the contact; §3.2.2:
            // after a cancellation, unavailable from each available resource.
            if (*t == SubType::subscribed) route_presence_of(user, contact, false);
            if (*t == SubType::unsubscribed) route_presence_of(user, contact, true);
        }
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
        if (!to) co_return;
        if (to->domain() != domain_) {
            server_.router->route(std::move(p));
            co_return;
        }
        if (to->local().empty()) co_return;
        std::string contact = to->local();
        Stanzas out;
        bool visible = co_await may_see_presence(contact, from);
        if (visible) presences_of(contact, out);
        if (out.empty()) {
            xml::Element u = visible ? co_await last_unavailable(contact, {})
                                     : make_presence(to->bare_str(), {}, "unsubscribed");
            if (p.has_attr("id")) u.set_attr("id", p.attr("id"));
            out.push_back(std::make_shared<const std::string>(u.to_string(ns::client)));
        }
        sender->deliver(std::move(out));
        co_return;
    }
    if (type == "error") {
        if (to && to->domain() != domain_)
            server_.router->route(std::move(p));
        else if (to && !to->is_bare())
            if (auto s = server_.registry->find(*to)) s->deliver(p.to_string(ns::client));
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
        const bool local = to->domain() == domain_;
        if (local && to->local().empty()) co_return;
        std::string bytes = p.to_string(ns::client);
        if (!local) {
            server_.router->route(std::move(p));
        } else if (to->is_bare()) {
            deliver_to_available(to->local(), bytes);
        } else if (auto s = server_.registry->find(*to)) {
            s->deliver(bytes);
        }
        // §4.6.2: only those who do not already get the broadcast are remembered.
        bool subscriber = false;
        if (auto st = cache_.find(user); st && local) subscriber = may_see(*st, to->local());
        if (!subscriber || type == "unavailable") {
            const std::string target = to->str();
            const bool unavailable = type == "unavailable";
            server_.registry->update(from, sender.get(), [&](ResourceState& r) {
                auto extras = r.extras ? std::make_shared<ResourceState::Extras>(*r.extras)
                                       : std::make_shared<ResourceState::Extras>();
                note_directed(extras->directed, target, unavailable);
                r.extras = std::move(extras);
            });
        }
        co_return;
    }

    if (type == "unavailable") {
        // §4.5: broadcast and forget the directed-presence list.
        bool was = false;
        std::vector<std::string> directed;
        std::string status = p.child_text("status", ns::client);
        server_.registry->update(from, sender.get(), [&](ResourceState& r) {
            was = r.available;
            r.available = false;
            r.presence.reset();
            directed = r.directed();
            auto extras = std::make_shared<ResourceState::Extras>();
            extras->last_status = status;
            r.extras = std::move(extras);
        });
        if (was || !directed.empty()) broadcast(from, p.to_string(ns::client), directed);
        // XEP-0012 §4: the user is offline from now on, though this connection stays.
        if (was && !online(from.local())) record_last_activity(from.local(), status);
        co_return;
    }

    auto bytes = std::make_shared<const std::string>(p.to_string(ns::client));
    auto own = server_.registry->state(from, sender.get());
    if (!own) co_return;  // the session is leaving
    if (own->available) {
        // §4.4: subsequent presence. A resource that comes up from a negative priority
        // now takes the offline messages (XEP-0160 §3), as at initial presence.
        if (own->priority < 0 && priority >= 0) {
            co_await seq_.run({user}, [this, sender, from, user, priority, bytes] {
                return activate(sender, from, user, priority, bytes);
            });
        } else {
            server_.registry->update(from, sender.get(), [&](ResourceState& r) {
                r.priority = priority;
                r.presence = bytes;
            });
            broadcast(from, *bytes);
        }
        co_return;
    }

    // §4.2: initial presence, all in one job of the user: in order with messages being
    // stored, the offline messages go to the session first, then the resource becomes
    // available (see Im::deliver_or_store). Two users coming online together each get the
    // other's presence once: the earlier one's by the later one's probe, the later one's
    // by broadcast (available_since).
    co_await seq_.run({user}, [this, sender, from, user, priority, bytes] {
        const std::uint64_t since = activate(sender, from, user, priority, bytes);
        if (since == 0) return;
        // Probes, answered locally: the presence of everyone the user is subscribed to,
        // of the user's other resources, and the subscription requests still waiting.
        Stanzas out;
        std::vector<std::string> remote;
        for (const auto& c : contacts(user, false, &remote)) {
            if (presence_blocked(c, user)) continue;
            presences_of(c, out, since);
        }
        // §4.2.1: contacts at other domains are probed, from the user's bare JID; their
        // servers answer with their presence.
        for (const auto& c : remote) {
            if (blocks(user, *Jid::parse(c))) continue;
            server_.router->route(make_presence(from.bare_str(), c, "probe"));
        }
        for (const auto& r : server_.registry->resources(from.bare_str()))
            if (r.state.available && r.resource != from.resource() && r.state.presence)
                out.push_back(r.state.presence);
        if (auto st = cache_.find(user)) {
            std::lock_guard lock(st->mu);
            for (const auto& [jid, item] : st->items)
                if (item.sub.pending_in && !item.request.empty())
                    out.push_back(std::make_shared<const std::string>(item.request));
        }
        // With thousands of contacts online this is a flood: it goes out as the client
        // reads, not into the queue at once.
        if (!out.empty()) {
            auto source = std::make_shared<c2s::StanzaListSource>(std::move(out));
            sender->post([sender, source] { sender->add_source(source); });
        }
    });
}

// ---- presence from other domains --------------------------------------------------------

asio::awaitable<void> Im::remote_presence(xml::Element p, Jid from, Jid to) {
    const std::string type(p.attr("type"));
    const std::string user = to.local();
    const std::string other = from.bare_str();
    if (auto t = sub_type(type)) {
        // §3: subscription stanzas are between bare JIDs; the user's side of the
        // subscription changes as for a local contact (inbound_subscription()).
        p.set_attr("from", other);
        p.set_attr("to", to.bare_str());
        const std::string bytes = p.to_string(ns::client);
        const bool exists = co_await seq_.run({user}, [this, user, other, t, bytes] {
            if (!storage_.accounts().exists(user)) return false;
            RosterTxn txn;
            inbound_subscription(txn, user, other, *t, bytes);
            finish(txn);
            return true;
        });
        // §3.1.3: a request for an account that does not exist is declined.
        if (!exists && *t == SubType::subscribe)
            server_.router->route(make_presence(to.bare_str(), other, "unsubscribed"));
        co_return;
    }
    if (type == "probe") {
        // §4.3.2: only a subscriber ('from') learns the user's presence; others get
        // unsubscribed, and a subscriber when the user is offline unavailable.
        const bool subscribed = co_await seq_.run({user}, [this, user, other, from] {
            return state_allows(user, [&](const UserState& st) {
                auto it = st.items.find(other);
                return it != st.items.end() && !it->second.removed && it->second.sub.from &&
                       !st.blocks_locked(from);
            });
        });
        if (!subscribed) {
            server_.router->route(make_presence(to.bare_str(), from.str(), "unsubscribed"));
        } else if (!online(user)) {
            server_.router->route(co_await last_unavailable(user, from.str()));
        } else {
            route_presence_of(user, from.str(), false);
        }
        co_return;
    }
    // Available, unavailable and errors go to the resources (§8.5.2.1.2, §8.5.3); other
    // types do not exist (§4.7.1).
    if (!type.empty() && type != "unavailable" && type != "error") co_return;
    server_.router->deliver_local(std::move(p), to);
}

}  // namespace hongyan::im
