// What the server keeps in memory for a user: the roster with its version, and the
// blocklist. Loaded once (one query each) when the user's first session binds or when a
// stanza needs it, and kept while any of the user's sessions is bound.
//
// Ownership: every change happens in a job holding the user's key (im/im.hpp, Sequencer),
// one at a time and in order with the database writes; other threads read under the
// state's mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "server/storage/roster_store.hpp"
#include "xmpp/jid.hpp"

namespace hongyan::im {

using storage::RosterItem;

struct UserState {
    explicit UserState(std::string u) : user(std::move(u)) {}

    mutable std::mutex mu;
    const std::string user;
    // By the contact's bare JID; tombstones and unlisted pending requests included.
    std::unordered_map<std::string, RosterItem> items;
    std::int64_t ver = 0;  // newest item version
    std::size_t listed = 0;
    // Removed items older than this were forgotten: a client behind it gets everything.
    std::int64_t forgotten_below = 0;
    std::unordered_set<std::string> blocked;

    // Orders a resource becoming available (the user's job) against it leaving (I/O
    // thread), so contacts never see a presence after the unavailable that ends it.
    std::mutex presence_mu;

    // Only in jobs holding the user's key.
    int pins = 0;  // bound sessions and offline deletions in flight holding it in the cache
    // The offline module's: messages queued for a session and not yet deleted (by id), and whether
    // a session is taking the stored messages now.
    std::unordered_set<std::int64_t> offline_in_flight;
    bool offline_delivering = false;

    // XEP-0191 §3.6 matching: full JID, bare JID, domain/resource, domain. Caller holds mu.
    bool blocks_locked(const Jid& other) const;
    bool blocks(const Jid& other) const {
        std::lock_guard lock(mu);
        return blocks_locked(other);
    }
    // Replaces the items with `loaded` (from the roster store), counting the listed ones
    // and keeping `ver` at the newest version seen. Caller holds mu (or owns the state).
    void replace_items(std::vector<RosterItem> loaded);
    // The listed, non-removed item for `contact`, if any. Caller holds mu.
    const RosterItem* item_locked(const std::string& contact) const;
};

using UserPtr = std::shared_ptr<UserState>;

// The loaded states, by username.
class UserCache {
  public:
    UserPtr find(const std::string& user) const;
    void put(const UserPtr& state);
    void erase(const std::string& user);
    void for_each(const std::function<void(const UserPtr&)>& f) const;

  private:
    mutable std::mutex mu_;
    std::unordered_map<std::string, UserPtr> users_;
};

}  // namespace hongyan::im
