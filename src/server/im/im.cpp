// Session life, roster versions and output, and delivery helpers. The
// roster (roster.cpp), presence and subscriptions (presence.cpp), blocking (blocking.cpp)
// and the directory feed (directory.cpp) are the other parts of Im.
#include "server/im/im.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <stdexcept>

#include "server/c2s/client_session.hpp"
#include "server/im/delivery.hpp"
#include "server/router/router.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::im {

namespace asio = boost::asio;

Im::Im(ServerContext& server, Host& host)
    : server_(server),
      host_(host),
      storage_(*host.storage),
      domain_(host.domain),
      seq_(server.im_workers->get_executor()) {
    const auto& c = host.config;
    limits_.roster_max_items = static_cast<std::size_t>(c.integer("roster.max_items"));
    limits_.roster_max_name = static_cast<std::size_t>(c.integer("roster.max_name_length"));
    limits_.roster_max_group = static_cast<std::size_t>(c.integer("roster.max_group_length"));
    limits_.roster_max_removed = static_cast<std::size_t>(c.integer("roster.max_removed"));
    limits_.blocklist_max = static_cast<std::size_t>(c.integer("blocking.max_items"));
    everyone_ = c.string("shared_groups.everyone");
    shared_log_limit_ = static_cast<std::size_t>(c.integer("shared_groups.change_log"));
    shared_.set_log_limit(shared_log_limit_);
    poll_interval_ = std::chrono::milliseconds(c.integer("shared_groups.poll_interval"));
}

Im::~Im() = default;

UserPtr Im::load_state(const std::string& user) {
    if (!seq_.holds(user)) throw std::logic_error("user state of " + user + " outside its jobs");
    if (auto st = cache_.find(user)) return st;
    auto& store = storage_;
    auto st = std::make_shared<UserState>(user);
    st->replace_items(store.rosters().load(user));
    if (limits_.blocking)
        for (auto& j : store.blocklists().load(user)) st->blocked.insert(std::move(j));
    st->forgotten_below = store.rosters().forgotten_below(user);
    // Tombstones serve versioned fetches (RFC 6121 §2.6); past the limit the oldest half
    // is forgotten, and clients that far behind get their whole roster.
    std::vector<std::int64_t> removed;
    for (const auto& [jid, item] : st->items)
        if (item.removed) removed.push_back(item.ver);
    if (removed.size() > limits_.roster_max_removed) {
        std::sort(removed.begin(), removed.end());
        const std::int64_t below = removed[removed.size() - limits_.roster_max_removed / 2];
        store.rosters().forget_removed(user, below);
        std::erase_if(st->items,
                      [&](const auto& kv) { return kv.second.removed && kv.second.ver < below; });
        st->forgotten_below = below;
    }
    cache_.put(st);
    return st;
}

Sequencer::Keys Im::keys_with(const std::string& user, const std::string& contact) const {
    if (auto c = local_user(contact); c && *c != user) return {user, *c};
    return {user};
}

bool Im::feed_moved(const std::string& user) {
    try {
        return storage_.directory().last_event() > feed_seq_.load();
    } catch (const std::exception& e) {
        spdlog::warn("directory feed for {}: {}", user, e.what());
        return false;  // the next poll reads it
    }
}

asio::awaitable<void> Im::bound(const Jid& full) {
    std::string user = full.local();
    const bool moved = co_await seq_.run({user}, [this, user] {
        auto st = load_state(user);
        ++st->pins;
        return feed_moved(user);
    });
    // An account or group change made just before this login (by hongyanctl, say) is
    // applied before the roster the client is about to fetch (a barrier, only when the
    // feed moved: it waits for every job in flight).
    if (moved) co_await sync_directory();
}

void Im::release(const std::string& user) {
    seq_.post(
        {user},
        [this, user] {
            auto st = cache_.find(user);
            if (st && --st->pins <= 0 && server_.registry->resources(full_bare(user)).empty())
                cache_.erase(user);
        },
        "releasing a user state");
}

RoutePtr Im::bind(const Jid& full, SessionPtr session) {
    auto st = cache_.find(full.local());  // pinned by bound()
    std::unique_lock<std::mutex> lock;
    if (st) lock = std::unique_lock(st->presence_mu);
    auto replaced = server_.registry->add(full, std::move(session));
    if (!replaced) return nullptr;
    ended(full, *replaced);
    return replaced->session;
}

void Im::unbind(const Jid& full, const SessionRoute* session) {
    auto st = cache_.find(full.local());
    std::unique_lock<std::mutex> lock;
    if (st) lock = std::unique_lock(st->presence_mu);
    if (auto r = server_.registry->remove(full, session)) ended(full, *r);
}

void Im::ended(const Jid& full, const SessionRegistry::Resource& r) {
    const std::string status(r.state.last_status());
    if (r.state.available || !r.state.directed().empty()) {
        // RFC 6121 §4.5.2, §4.6.3: the server says unavailable for a resource that left
        // without saying so, to everyone who had its presence.
        xml::Element p("presence", ns::client);
        p.set_attr("from", full.str());
        p.set_attr("type", "unavailable");
        if (!status.empty()) p.add_child("status", std::string(ns::client)).add_text(status);
        if (r.state.available)
            broadcast(full, p.to_string(ns::client), r.state.directed());
        else
            broadcast_directed(full, p.to_string(ns::client), r.state.directed());
    }
    std::string user = full.local();
    seq_.post(
        {user},
        [this, user, status] {
            auto st = cache_.find(user);
            if (st && --st->pins <= 0 && server_.registry->resources(full_bare(user)).empty())
                cache_.erase(user);
            if (server_.registry->resources(full_bare(user)).empty())
                store_last_activity(user, status);
        },
        "ending a session");
}

void Im::store_last_activity(const std::string& user, const std::string& status) {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    try {
        storage_.directory().set_last_activity(user, {now, status});
    } catch (const std::exception& e) {
        spdlog::warn("last activity of {}: {}", user, e.what());
    }
}

void Im::record_last_activity(const std::string& user, std::string status) {
    seq_.post(
        {user},
        [this, user, status = std::move(status)] {
            if (!online(user)) store_last_activity(user, status);
        },
        "recording last activity");
}

std::string Im::full_bare(const std::string& user) const {
    return user + "@" + domain_;
}

bool Im::online(const std::string& user) const {
    for (const auto& r : server_.registry->resources(full_bare(user)))
        if (r.state.available) return true;
    return false;
}

bool Im::blocks(const std::string& user, const Jid& other) const {
    if (!limits_.blocking) return false;
    auto st = cache_.find(user);
    return st && st->blocks(other);
}

std::optional<bool> Im::in_roster(const std::string& user, const std::string& bare) const {
    auto st = cache_.find(user);
    if (!st) return std::nullopt;
    std::lock_guard lock(st->mu);
    if (st->item_locked(bare)) return true;
    auto j = Jid::parse(bare);
    return j && j->domain() == domain_ && !shared_.groups_between(user, j->local()).empty();
}

std::optional<bool> Im::shares_presence(const std::string& user, const Jid& viewer) const {
    auto st = cache_.find(user);
    if (!st) return std::nullopt;
    std::lock_guard lock(st->mu);
    if (const auto* it = st->item_locked(viewer.bare_str()); it && it->sub.from) return true;
    return viewer.domain() == domain_ && !shared_.groups_between(user, viewer.local()).empty();
}

// ---- roster output ------------------------------------------------------------------

std::string Im::version_of(std::int64_t personal, std::int64_t shared) const {
    // Opaque to clients (RFC 6121 §2.6.1): personal roster version, shared-groups feed
    // position, and whether the everyone group is on (turning it on or off changes every
    // roster at once).
    std::string v = std::to_string(personal) + "-" + std::to_string(shared);
    if (!everyone_.empty()) v += "e";
    return v;
}

std::string Im::version(const UserState& st) const {
    return version_of(st.ver, shared_.seq());
}

namespace {
void append_attr(std::string& out, std::string_view name, std::string_view value) {
    out += ' ';
    out += name;
    out += "=\"";
    xml::escape_attr(value, out);
    out += '"';
}
}  // namespace

void Im::append_item_xml(std::string& out, const std::string& contact, const RosterItem* personal,
                         const std::vector<std::string>& shared_groups) const {
    out += "<item";
    append_attr(out, "jid", contact);
    if (personal && !personal->name.empty()) append_attr(out, "name", personal->name);
    if (!shared_groups.empty()) {
        append_attr(out, "subscription", "both");
    } else {
        append_attr(out, "subscription", subscription_attr(personal->sub));
        if (ask_attr(personal->sub)) append_attr(out, "ask", "subscribe");
        if (personal->sub.preapproved) append_attr(out, "approved", "true");
    }
    std::vector<const std::string*> groups;
    if (personal)
        for (const auto& g : personal->groups) groups.push_back(&g);
    for (const auto& g : shared_groups) {
        bool dup = false;
        for (auto* h : groups) dup = dup || *h == g;
        if (!dup) groups.push_back(&g);
    }
    if (groups.empty()) {
        out += "/>";
        return;
    }
    out += '>';
    for (auto* g : groups) {
        out += "<group>";
        xml::escape(*g, out);
        out += "</group>";
    }
    out += "</item>";
}

void Im::append_item(std::string& out, const std::string& user, const std::string& contact,
                     const UserState& st) const {
    const RosterItem* personal = st.item_locked(contact);
    std::vector<std::string> groups;
    if (auto c = Jid::parse(contact); c && c->domain() == domain_ && c->resource().empty())
        groups = shared_.groups_between(user, c->local());
    if (!personal && groups.empty()) {
        out += "<item";
        append_attr(out, "jid", contact);
        out += " subscription=\"remove\"/>";
        return;
    }
    append_item_xml(out, contact, personal, groups);
}

std::string Im::push_xml(const std::string& item_xml, const std::string& ver) const {
    // RFC 6121 §2.1.6: from the user's server (no 'from'), one item.
    std::string out = "<iq type=\"set\" id=\"push-";
    out += std::to_string(push_id_.fetch_add(1, std::memory_order_relaxed));
    out += "\"><query xmlns=\"jabber:iq:roster\"";
    append_attr(out, "ver", ver);
    out += '>';
    out += item_xml;
    out += "</query></iq>";
    return out;
}

void Im::send_to_interested(const std::string& user, const std::string& bytes,
                            bool blocklist) const {
    for (const auto& r : server_.registry->resources(full_bare(user)))
        if (blocklist ? r.state.blocklist_interested : r.state.roster_interested)
            r.session->deliver(bytes);
}

void Im::push_item(const std::string& user, const std::string& contact) {
    auto st = cache_.find(user);
    if (!st) return;  // not online: the next roster fetch brings the change
    std::string item, ver;
    {
        std::lock_guard lock(st->mu);
        append_item(item, user, contact, *st);
        ver = version(*st);
    }
    send_to_interested(user, push_xml(item, ver));
}

std::optional<RosterItem> Im::RosterTxn::find(const UserState& st, const std::string& jid) const {
    for (auto c = changes.rbegin(); c != changes.rend(); ++c)
        if (c->st.get() == &st && c->item.jid == jid) return c->item;
    std::lock_guard lock(st.mu);
    auto it = st.items.find(jid);
    if (it == st.items.end()) return std::nullopt;
    return it->second;
}

std::int64_t Im::RosterTxn::next_ver(const UserState& st) const {
    std::int64_t v;
    {
        std::lock_guard lock(st.mu);
        v = st.ver;
    }
    for (const auto& c : changes)
        if (c.st.get() == &st) v = std::max(v, c.item.ver);
    return v + 1;
}

UserPtr Im::load_for(RosterTxn& txn, const std::string& user) {
    auto st = load_state(user);
    txn.loaded.push_back(st);
    return st;
}

void Im::commit(RosterTxn& txn, const UserPtr& st, RosterItem item, bool push) {
    auto before = txn.find(*st, item.jid);
    const bool was_listed = before && before->listed && !before->removed;
    const bool is_listed = item.listed && !item.removed;
    item.ver = txn.next_ver(*st);
    if (push && (is_listed || was_listed)) {
        // Computed when the effects run, from memory that then holds the transaction.
        txn.effects.push_back([this, st, jid = item.jid, ver = item.ver] {
            std::string item_xml;
            {
                std::lock_guard lock(st->mu);
                append_item(item_xml, st->user, jid, *st);
            }
            send_to_interested(st->user, push_xml(item_xml, version_of(ver, shared_.seq())));
        });
    }
    txn.changes.push_back(RosterTxn::Change{st, std::move(item)});
}

void Im::finish(RosterTxn& txn) {
    auto release = [&] {
        for (auto& st : txn.loaded) release_if_unpinned(st);
        txn.loaded.clear();
    };
    try {
        if (!txn.changes.empty())
            storage_.transaction([&] {
                for (const auto& c : txn.changes) storage_.rosters().put(c.st->user, c.item);
            });
    } catch (...) {
        release();
        throw;
    }
    for (auto& c : txn.changes) {
        UserState& st = *c.st;
        std::lock_guard lock(st.mu);
        auto it = st.items.find(c.item.jid);
        bool was_listed = it != st.items.end() && it->second.listed && !it->second.removed;
        bool is_listed = c.item.listed && !c.item.removed;
        if (was_listed && !is_listed) --st.listed;
        if (!was_listed && is_listed) ++st.listed;
        st.ver = std::max(st.ver, c.item.ver);
        st.items[c.item.jid] = std::move(c.item);
    }
    for (auto& e : txn.effects) e();
    release();
}

// ---- delivery -----------------------------------------------------------------------

void DeliveryBatch::add(const RoutePtr& s, std::shared_ptr<const std::string> bytes) {
    auto* local = s->local();
    if (!local) {
        s->deliver(std::move(bytes));
        return;
    }
    auto* ctx = &local->executor().context();
    for (auto& g : groups_)
        if (g.ctx == ctx) {
            g.items.emplace_back(s, std::move(bytes));
            return;
        }
    groups_.push_back(Group{ctx, local->executor(), {}});
    groups_.back().items.emplace_back(s, std::move(bytes));
}

void DeliveryBatch::flush() {
    for (auto& g : groups_) {
        for (const auto& item : g.items) item.first->local()->add_pending_post();
        asio::post(g.ex, [items = std::move(g.items)] {
            for (const auto& [s, bytes] : items) {
                auto* session = s->local();
                session->pending_post_ran();
                session->send_stanza(bytes);
            }
        });
    }
    groups_.clear();
}

void Im::release_if_unpinned(const UserPtr& st) {
    if (st->pins <= 0) cache_.erase(st->user);
}

UserPtr Im::state(const std::string& user) {
    return load_state(user);
}

void Im::release_state(const UserPtr& st) {
    release_if_unpinned(st);
}

}  // namespace hongyan::im
