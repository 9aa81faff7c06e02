// Shared roster groups: contacts that appear in users' rosters because an operator says so,
// not because the users added each other. "everyone" (shared_groups.everyone) holds every
// account; named groups are managed with hongyanctl. Members of a group see each other with
// subscription 'both' under the group's display name.
//
// Kept in memory and never read per contact from storage: a login, a roster fetch and a
// presence broadcast cost no query per member. Changes arrive in order from the directory
// change feed and are mirrored here (barrier jobs); I/O threads read under a shared lock.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "server/storage/directory_store.hpp"

namespace hongyan::im {

using storage::DirectoryEvent;

class SharedGroups {
  public:
    // `everyone`: display name of the all-accounts group, empty when off.
    // `history`: the latest feed events, already reflected in `accounts` and `groups`,
    // kept so that clients that were online before a restart still get only changes.
    void reset(std::string everyone, std::vector<std::string> accounts,
               std::vector<storage::SharedGroup> groups, std::int64_t seq,
               std::vector<DirectoryEvent> history = {});
    bool enabled() const;
    bool everyone() const;

    // Applies one event; returns the users whose rosters gain or lose `event.user` (or,
    // for a member joining or leaving, whose roster is affected; see directory.cpp).
    void apply(const DirectoryEvent& e);
    void replace_groups(std::vector<storage::SharedGroup> groups);

    // Display names of the shared groups in which `contact` appears in `user`'s roster.
    std::vector<std::string> groups_between(const std::string& user,
                                            const std::string& contact) const;
    // Calls f(contact, group display) for each shared contact of `user` (not `user`
    // itself); a contact in several groups comes once per group.
    void for_each_contact(
        const std::string& user,
        const std::function<void(const std::string&, const std::string&)>& f) const;
    // Calls f(contact, displays) once per shared contact of `user`, with every group
    // they share. Without a map over all contacts: the everyone group is walked directly.
    void for_each_contact_grouped(
        const std::string& user,
        const std::function<void(const std::string&, const std::vector<std::string>&)>& f) const;
    // Members of the named groups `user` is in (not "everyone"), without `user`.
    std::vector<std::string> named_contacts(const std::string& user) const;
    std::vector<std::string> members(const std::string& group) const;
    bool is_member(const std::string& group, const std::string& user) const;
    std::string display(const std::string& group) const;
    bool is_account(const std::string& user) const;

    // The change feed since start-up, for versioned roster fetches.
    std::int64_t seq() const;
    // Events after `since`; false when they are no longer all in memory.
    bool events_since(std::int64_t since, std::vector<DirectoryEvent>& out) const;
    void set_log_limit(std::size_t n) { log_limit_ = n; }

  private:
    struct Group {
        std::string display;
        std::set<std::string> members;
    };
    mutable std::shared_mutex mu_;
    std::string everyone_;
    std::unordered_set<std::string> accounts_;  // kept only when everyone_ is on
    std::map<std::string, Group> groups_;
    std::unordered_map<std::string, std::vector<std::string>> groups_of_;
    std::deque<DirectoryEvent> log_;
    std::int64_t log_start_ = 0;  // events after this are all in log_
    std::int64_t seq_ = 0;
    std::size_t log_limit_ = 100000;

    void index_locked();
};

}  // namespace hongyan::im
