// Roster get and set (RFC 6121 §2) with versioning (§2.6): a full roster, or an empty
// result followed by one push per item changed since the client's version.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <unordered_map>

#include "server/c2s/client_session.hpp"
#include "server/c2s/output_queue.hpp"
#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/router/router.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::im {

namespace asio = boost::asio;

namespace {

struct ParsedVersion {
    std::int64_t personal = 0, shared = 0;
    bool everyone = false;
};

std::optional<ParsedVersion> parse_version(std::string_view v) {
    ParsedVersion out;
    auto dash = v.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    auto a = v.substr(0, dash), b = v.substr(dash + 1);
    if (!b.empty() && b.back() == 'e') {
        out.everyone = true;
        b.remove_suffix(1);
    }
    auto r1 = std::from_chars(a.data(), a.data() + a.size(), out.personal);
    auto r2 = std::from_chars(b.data(), b.data() + b.size(), out.shared);
    if (r1.ec != std::errc() || r1.ptr != a.data() + a.size() || r2.ec != std::errc() ||
        r2.ptr != b.data() + b.size() || out.personal < 0 || out.shared < 0)
        return std::nullopt;
    return out;
}

}  // namespace

std::string Im::roster_items(const std::string& user, const UserState& st) const {
    std::string out;
    out.reserve(st.listed * 96);
    // Personal items first, merged with the shared groups they are also in; then the
    // shared contacts that have no personal item. Shared membership is looked up per
    // personal item (few) rather than collected for all shared contacts (many).
    for (const auto& [jid, item] : st.items) {
        if (!item.listed || item.removed) continue;
        std::vector<std::string> groups;
        if (shared_.enabled())
            if (auto u = local_user(jid)) groups = shared_.groups_between(user, *u);
        append_item_xml(out, jid, &item, groups);
    }
    std::string jid;
    shared_.for_each_contact_grouped(
        user, [&](const std::string& contact, const std::vector<std::string>& groups) {
            jid.assign(contact).append("@").append(domain_);
            if (st.item_locked(jid)) return;  // written above, merged
            append_item_xml(out, jid, nullptr, groups);
        });
    return out;
}

asio::awaitable<void> Im::roster_get(modules::IqRequest& iq) {
    const Jid& full = *iq.from;
    const std::string& user = full.local();
    const xml::Element& q = iq.payload();
    if (q.first_child()) {
        iq.error(StanzaErrorCondition::bad_request, "a roster get carries no items");
        co_return;
    }
    auto st = cache_.find(user);
    if (!st) {
        st = co_await seq_.run({user}, [this, user] {
            auto s = load_state(user);
            return s;
        });
    }
    // RFC 6121 §2.1.6: this resource now receives roster pushes.
    server_.registry->update(full, iq.session.get(),
                             [](ResourceState& r) { r.roster_interested = true; });

    std::string to_attr = full.str();
    std::string out;
    std::vector<std::string> pushes;
    {
        std::lock_guard lock(st->mu);
        const std::string current = version(*st);
        const bool has_ver = q.has_attr("ver");
        std::optional<ParsedVersion> client;
        if (has_ver) client = parse_version(q.attr("ver"));
        bool incremental = false;
        if (client && q.attr("ver") == current) {
            incremental = true;  // up to date: empty result, nothing to push
        } else if (client && client->personal <= st->ver &&
                   client->personal + 1 >= st->forgotten_below &&
                   client->everyone == !everyone_.empty()) {
            // §2.6.3: an empty result, then the changed items as pushes in order.
            incremental = true;
            std::vector<const RosterItem*> changed;
            for (const auto& [jid, item] : st->items)
                if (item.ver > client->personal && (item.listed || item.removed))
                    changed.push_back(&item);
            std::sort(changed.begin(), changed.end(),
                      [](auto* a, auto* b) { return a->ver < b->ver; });
            for (const auto* item : changed) {
                std::string x;
                append_item(x, user, item->jid, *st);
                pushes.push_back(push_xml(x, version_of(item->ver, client->shared)));
            }
            std::vector<DirectoryEvent> events;
            if (client->shared != shared_.seq() && !shared_.events_since(client->shared, events))
                incremental = false;
            // Later events about the same contact replace earlier ones.
            std::unordered_map<std::string, std::int64_t> latest;
            for (const auto& e : events) {
                if (!incremental) break;
                using K = DirectoryEvent::Kind;
                std::string contact;
                if (e.kind == K::roster_changed) continue;  // in the items' own versions
                if (e.kind == K::group_changed || (e.user == user && e.kind != K::account_added)) {
                    incremental = false;  // the user's own groups changed: send everything
                } else if (e.kind == K::account_added || e.kind == K::account_removed) {
                    if (!everyone_.empty()) contact = e.user;
                } else if (shared_.is_member(e.group, user)) {
                    contact = e.user;
                }
                if (contact.empty() || contact == user) continue;
                latest[contact] = e.seq;
            }
            std::vector<std::pair<std::string, std::int64_t>> contacts(latest.begin(),
                                                                       latest.end());
            std::sort(contacts.begin(), contacts.end(),
                      [](const auto& a, const auto& b) { return a.second < b.second; });
            if (incremental) {
                for (const auto& [contact, seq] : contacts) {
                    std::string x;
                    append_item(x, user, contact + "@" + domain_, *st);
                    pushes.push_back(push_xml(x, version_of(st->ver, seq)));
                }
            } else {
                pushes.clear();
            }
        }
        out = "<iq type=\"result\" id=\"";
        xml::escape_attr(iq.iq.attr("id"), out);
        out += "\" to=\"";
        xml::escape_attr(to_attr, out);
        out += '"';
        if (incremental) {
            out += "/>";
        } else {
            out += "><query xmlns=\"jabber:iq:roster\" ver=\"";
            xml::escape_attr(current, out);
            out += "\">";
            out += roster_items(user, *st);
            out += "</query></iq>";
        }
    }
    iq.session->send_stanza(std::move(out));
    // §2.6.3: the changes as pushes, as the client reads them (after a long absence,
    // thousands of them).
    if (!pushes.empty()) {
        std::vector<std::shared_ptr<const std::string>> list;
        list.reserve(pushes.size());
        for (auto& p : pushes) list.push_back(std::make_shared<const std::string>(std::move(p)));
        iq.session->add_source(std::make_shared<c2s::StanzaListSource>(std::move(list)));
    }
}

asio::awaitable<void> Im::roster_set(modules::IqRequest& iq) {
    const Jid& full = *iq.from;
    const std::string user = full.local();
    const xml::Element& q = iq.payload();
    auto children = q.children();
    // RFC 6121 §2.3.3: exactly one item.
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
    std::string contact = jid->str();
    std::string name(el.attr("name"));
    if (name.size() > limits_.roster_max_name) {
        iq.error(StanzaErrorCondition::not_acceptable,
                 "the name is longer than " + std::to_string(limits_.roster_max_name) + " bytes");
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
        if (text.size() > limits_.roster_max_group) {
            iq.error(StanzaErrorCondition::not_acceptable,
                     "a group name is longer than " + std::to_string(limits_.roster_max_group) +
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

    enum class R { ok, not_found, full, shared_only };
    // A removal answers for the contact too (§2.5.2): a local contact's key is held.
    auto r =
        co_await seq_.run(keys_with(user, contact), [this, user, contact, name, groups, remove] {
            RosterTxn txn;
            auto st = load_for(txn, user);
            RosterItem item;
            bool existed = false;
            {
                std::lock_guard lock(st->mu);
                if (auto* it = st->item_locked(contact)) {
                    item = *it;
                    existed = true;
                } else if (auto any = st->items.find(contact); any != st->items.end()) {
                    item = any->second;  // an unlisted request or a tombstone
                    if (item.removed) item = RosterItem{};
                }
                if (!existed && !remove && st->listed >= limits_.roster_max_items) return R::full;
            }
            item.jid = contact;
            if (remove) {
                if (!existed) {
                    auto c = Jid::parse(contact);
                    bool shared = c && c->domain() == domain_ &&
                                  !shared_.groups_between(user, c->local()).empty();
                    return shared ? R::shared_only : R::not_found;
                }
                remove_item(txn, st, item);
                finish(txn);
                return R::ok;
            }
            item.name = name;
            item.groups = groups;
            item.listed = true;
            commit(txn, st, item);
            finish(txn);
            return R::ok;
        });
    if (r == R::full) {
        iq.error(StanzaErrorCondition::not_allowed,
                 "the roster is full (" + std::to_string(limits_.roster_max_items) + " items)");
    } else if (r == R::not_found) {
        iq.error(StanzaErrorCondition::item_not_found, "no such contact in the roster");
    } else if (r == R::shared_only) {
        iq.error(StanzaErrorCondition::not_allowed,
                 "this contact comes from a shared group the operator manages");
    } else {
        iq.reply();
    }
}

}  // namespace hongyan::im
