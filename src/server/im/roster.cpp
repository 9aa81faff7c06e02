// The roster's side in the IM core (RFC 6121 §2) with versioning (§2.6): a full roster, or
// nothing but one push per item changed since the client's version; and a client's item
// changes. The roster module speaks the protocol (modules/roster).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <unordered_map>

#include "server/c2s/client_session.hpp"
#include "server/im/im.hpp"
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

asio::awaitable<RosterFetch> Im::roster_fetch(Jid full, const SessionRoute* session,
                                              std::optional<std::string> client_ver) {
    const std::string& user = full.local();
    auto st = cache_.find(user);
    if (!st) {
        // Not bound through the presence module's session hooks (or it is off): the feed
        // is caught up here instead, as bound() does.
        auto [s, moved] = co_await seq_.run(
            {user}, [this, user] { return std::make_pair(load_state(user), feed_moved(user)); });
        st = std::move(s);
        if (moved) co_await sync_directory();
    }
    // RFC 6121 §2.1.6: this resource now receives roster pushes.
    server_.registry->update(full, session, [](ResourceState& r) { r.roster_interested = true; });

    RosterFetch out;
    auto& pushes = out.pushes;
    {
        std::lock_guard lock(st->mu);
        const std::string current = version(*st);
        std::optional<ParsedVersion> client;
        if (client_ver) client = parse_version(*client_ver);
        bool incremental = false;
        if (client && *client_ver == current) {
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
        out.incremental = incremental;
        out.ver = current;
        if (!incremental) out.items_xml = roster_items(user, *st);
    }
    co_return out;
}

asio::awaitable<RosterUpdate> Im::roster_update(std::string user, std::string contact,
                                                std::string name, std::vector<std::string> groups,
                                                bool remove) {
    using R = RosterUpdate;
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
    co_return r;
}

}  // namespace hongyan::im
