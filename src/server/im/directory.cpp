// Following the directory change feed: accounts and shared-group members added or removed
// by anyone (in-band registration, hongyanctl, ad-hoc commands) reach the in-memory shared
// groups in order, and online users get one roster push per change, not a reload. Events
// are applied in barrier jobs (they change many users' rosters at once); the poll timer
// runs on the storage thread and only asks for a barrier when the feed moved.
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <future>

#include "server/c2s/client_session.hpp"
#include "server/im/im.hpp"
#include "server/router/router.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::im {

namespace asio = boost::asio;

void Im::start() {
    std::promise<void> done;
    storage_.post([this, &done] {
        try {
            auto& dir = storage_.directory();
            const std::int64_t seq = dir.last_event();
            feed_seq_ = seq;
            std::vector<std::string> accounts;
            if (!everyone_.empty()) accounts = storage_.accounts().list();
            auto history = dir.events_since(
                std::max<std::int64_t>(0, seq - static_cast<std::int64_t>(shared_log_limit_)),
                shared_log_limit_);
            shared_.reset(everyone_, std::move(accounts), dir.groups(), seq, std::move(history));
            poll_timer_ = std::make_unique<asio::steady_timer>(storage_.executor());
            schedule_poll();
            // A backend that can say when the feed moved (PostgreSQL's NOTIFY) makes
            // changes by others arrive at once; the poll stays for what it misses.
            watch_ = storage_.backend().watch_directory([this] { poke(); });
            done.set_value();
        } catch (...) {
            done.set_exception(std::current_exception());
        }
    });
    done.get_future().get();
}

void Im::stop() {
    std::promise<void> done;
    storage_.post([this, &done] {
        stopping_ = true;
        if (poll_timer_) poll_timer_->cancel();
        done.set_value();
    });
    done.get_future().get();
    watch_.reset();  // joins its thread: no poke() after this
    // Jobs in flight finish (they may post more); whatever comes after is dropped.
    seq_.drain();
    seq_.stop();
}

void Im::poke() {
    // One barrier waiting is enough: it reads everything there is when it runs.
    if (poll_queued_.exchange(true)) return;
    seq_.post_barrier(
        [this] {
            poll_queued_ = false;
            poll_feed();
        },
        "directory feed");
}

asio::awaitable<void> Im::sync_directory() {
    co_await seq_.run_barrier([this] { poll_feed(); });
}

void Im::schedule_poll() {
    if (stopping_) return;
    poll_timer_->expires_after(poll_interval_);
    poll_timer_->async_wait([this](boost::system::error_code ec) {
        if (ec || stopping_) return;
        try {
            auto& dir = storage_.directory();
            if (dir.last_event() > feed_seq_.load()) poke();
            // About once an hour.
            const auto hourly = std::max<std::uint64_t>(
                1, 3600000 / static_cast<std::uint64_t>(poll_interval_.count()));
            if (++polls_ % hourly == 0) dir.prune_events(2 * shared_log_limit_);
        } catch (const std::exception& e) {
            spdlog::error("directory feed: {}", e.what());
        }
        schedule_poll();
    });
}

void Im::poll_feed() {
    try {
        auto& dir = storage_.directory();
        while (true) {
            auto events = dir.events_since(feed_seq_.load(), 1000);
            for (const auto& e : events) {
                feed_seq_ = e.seq;
                if (e.kind == DirectoryEvent::Kind::group_changed)
                    shared_.replace_groups(dir.groups());
                shared_.apply(e);
                apply_event(e);
            }
            if (events.size() < 1000) break;
        }
    } catch (const std::exception& e) {
        spdlog::error("directory feed: {}", e.what());
    }
}

void Im::forget_contact(const std::string& contact) {
    // The account was deleted, and with it (in the same transaction) every roster item
    // for it: users in memory take the tombstones from the database, get the push, and
    // hear that the subscription is gone, so nobody who registers the name later gets
    // their presence.
    std::vector<UserPtr> holders;
    cache_.for_each([&](const UserPtr& st) {
        std::lock_guard lock(st->mu);
        if (st->item_locked(contact) || st->items.count(contact)) holders.push_back(st);
    });
    for (const auto& st : holders) {
        auto items = storage_.rosters().load(st->user);
        bool saw_presence = false;
        {
            std::lock_guard lock(st->mu);
            auto it = st->items.find(contact);
            if (it == st->items.end() || it->second.removed) continue;
            saw_presence = it->second.sub.to || it->second.sub.pending_out;
            st->replace_items(std::move(items));
        }
        push_item(st->user, contact);
        if (saw_presence) {
            // RFC 6121 §3.2: as if the contact had cancelled the subscription.
            xml::Element p("presence", ns::client);
            p.set_attr("from", contact);
            p.set_attr("type", "unsubscribed");
            deliver_to_available(st->user, p.to_string(ns::client));
        }
    }
}

std::vector<std::string> Im::bound_users() const {
    std::vector<std::string> out;
    cache_.for_each([&](const UserPtr& st) {
        if (st->pins > 0) out.push_back(st->user);
    });
    return out;
}

void Im::apply_event(const DirectoryEvent& e) {
    using K = DirectoryEvent::Kind;
    const std::string contact = full_bare(e.user);
    switch (e.kind) {
        case K::account_added:
            // One push to each online user, of the one new item.
            if (!everyone_.empty())
                for (const auto& u : bound_users())
                    if (u != e.user) push_item(u, contact);
            break;
        case K::account_removed: {
            forget_contact(contact);
            for (const auto& r : server_.registry->resources(contact))
                r.session->terminate(StreamErrorCondition::not_authorized,
                                     "the account was deleted");
            if (!everyone_.empty())
                for (const auto& u : bound_users())
                    if (u != e.user) push_item(u, contact);
            break;
        }
        case K::member_added:
        case K::member_removed: {
            const bool added = e.kind == K::member_added;
            for (const auto& m : shared_.members(e.group)) {
                if (m == e.user) continue;
                push_item(m, contact);
                push_item(e.user, full_bare(m));
                if (added) {
                    send_current_presence(e.user, m);
                    send_current_presence(m, e.user);
                } else if (shared_.groups_between(e.user, m).empty()) {
                    send_unavailable(e.user, m);
                    send_unavailable(m, e.user);
                }
            }
            break;
        }
        case K::roster_changed: {
            // hongyanctl wrote the roster: take it from the database and push what changed.
            auto st = cache_.find(e.user);
            if (!st) break;
            auto items = storage_.rosters().load(e.user);
            std::vector<std::string> changed;
            {
                std::lock_guard lock(st->mu);
                for (const auto& item : items)
                    if (item.ver > st->ver) changed.push_back(item.jid);
                st->replace_items(std::move(items));
            }
            for (const auto& c : changed) push_item(e.user, c);
            break;
        }
        case K::group_changed: {
            // A renamed group changes every member's items; only online members get
            // pushes (the others fetch at login).
            auto members = shared_.members(e.group);
            for (const auto& a : members) {
                if (!cache_.find(a)) continue;
                for (const auto& b : members)
                    if (a != b) push_item(a, full_bare(b));
            }
            break;
        }
    }
}

}  // namespace hongyan::im
