// The user directory: shared roster groups, last activity of accounts, and the change feed
// through which the server learns of accounts and group members added or removed by anyone
// (in-band registration, hongyanctl, ad-hoc commands), in order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hongyan::storage {

struct SharedGroup {
    std::string name;     // identifier used by hongyanctl and the config
    std::string display;  // roster group name members see
    std::vector<std::string> members;
};

struct DirectoryEvent {
    enum class Kind {
        account_added,
        account_removed,
        member_added,
        member_removed,
        group_changed,
        roster_changed  // changed from outside the server (hongyanctl roster)
    };
    std::int64_t seq = 0;
    Kind kind = Kind::account_added;
    std::string user;
    std::string group;
};

struct LastActivity {
    std::int64_t logout = 0;  // Unix seconds
    std::string status;
};

class DirectoryStore {
  public:
    virtual ~DirectoryStore() = default;
    virtual std::vector<SharedGroup> groups() = 0;
    // False when the group exists (create) or does not (the others).
    virtual bool create_group(const std::string& name, const std::string& display) = 0;
    virtual bool delete_group(const std::string& name) = 0;
    // False when the group does not exist or membership does not change. The user must exist.
    virtual bool add_member(const std::string& group, const std::string& user) = 0;
    virtual bool remove_member(const std::string& group, const std::string& user) = 0;

    // Events after `seq`, oldest first, at most `limit`.
    virtual std::vector<DirectoryEvent> events_since(std::int64_t seq, std::size_t limit) = 0;
    virtual std::int64_t last_event() = 0;
    // Tells a running server that `user`'s roster was changed in the database.
    virtual void note_roster_changed(const std::string& user) = 0;
    // Forgets events older than the newest `keep`.
    virtual void prune_events(std::size_t keep) = 0;

    virtual std::optional<LastActivity> last_activity(const std::string& user) = 0;
    virtual void set_last_activity(const std::string& user, const LastActivity& a) = 0;
    // Usernames containing `needle` (case-insensitive), at most `limit`, sorted.
    virtual std::vector<std::string> search(const std::string& needle, std::size_t limit) = 0;
};

// What both SQL backends' search() matches with: a LIKE pattern for names containing
// `needle`, its %, _ and \ escaped with \ (ESCAPE '\').
std::string contains_pattern(std::string_view needle);

}  // namespace hongyan::storage
