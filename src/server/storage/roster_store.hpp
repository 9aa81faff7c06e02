// Roster store (RFC 6121 §2): each user's contacts with their subscription state. Items
// that were removed stay as tombstones so that a versioned roster fetch (XEP-0237) can
// tell a client which contacts went away.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hongyan::storage {

// RFC 6121 §3 subscription state of one contact, from the roster owner's point of view.
struct SubState {
    bool to = false;           // the owner receives the contact's presence
    bool from = false;         // the contact receives the owner's presence
    bool pending_out = false;  // the owner asked to subscribe, no answer yet ("ask")
    bool pending_in = false;   // the contact asked to subscribe, no answer yet
    bool preapproved = false;  // the owner approved in advance (RFC 6121 §3.4)

    int bits() const;
    static SubState from_bits(int bits);
    friend bool operator==(const SubState&, const SubState&) = default;
};

struct RosterItem {
    std::string jid;  // the contact's bare JID
    std::string name;
    std::vector<std::string> groups;
    SubState sub;
    // False while the item exists only to remember an inbound request the owner has not
    // answered: such items are not part of the roster the owner sees (RFC 6121 §3.1.3).
    bool listed = true;
    bool removed = false;  // tombstone
    std::int64_t ver = 0;  // the roster version at which this item last changed
    std::string request;   // the pending inbound subscribe stanza, redelivered at login
};

// How both SQL backends keep an item's groups in one column: joined with U+001F, which
// XML text cannot hold.
std::string join_groups(const std::vector<std::string>& groups);
std::vector<std::string> split_groups(const std::string& column);

class RosterStore {
  public:
    virtual ~RosterStore() = default;
    // Every item of `user`, tombstones included.
    virtual std::vector<RosterItem> load(const std::string& user) = 0;
    // Inserts or replaces the item for item.jid.
    virtual void put(const std::string& user, const RosterItem& item) = 0;
    // Forgets the tombstones of versions below `ver`; load() then reports `ver` as
    // forgotten_below, and a client behind it gets the whole roster.
    virtual void forget_removed(const std::string& user, std::int64_t ver) = 0;
    // The version below which removals were forgotten (0: none).
    virtual std::int64_t forgotten_below(const std::string& user) = 0;
    // Removes `jid` from every roster that lists it (a tombstone at the next version of
    // each), when that account is deleted; returns the users whose roster had it.
    virtual std::vector<std::string> remove_contact(const std::string& jid) = 0;
};

}  // namespace hongyan::storage
