// The message archive (XEP-0313): per user, every archived message in the order the
// server archived it, with its time, the other party and the stanza-id (XEP-0359) the
// server gave it. The tables are the mam module's (archive_migrations()); each backend
// implements the store over them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hongyan::storage {

struct ArchivedMessage {
    std::int64_t seq = 0;       // the archive's order; given by add()
    std::string id;             // the stanza-id: unique in the user's archive
    std::int64_t time_us = 0;   // when it was archived, µs since the Unix epoch (UTC)
    std::string with;           // the other party's bare JID
    std::string with_resource;  // and resource, when known
    bool outgoing = false;      // sent by the user (else received)
    std::string stanza;         // the message as it was delivered
};

// XEP-0313 §4.1 filters and XEP-0059 paging, in the archive's terms. The page is the
// first `max` matches after `after_seq` (oldest first), or, with `backward`, the last
// `max` before `before_seq` (still returned oldest first).
struct ArchiveQuery {
    std::string with;           // a bare JID; empty: every conversation
    std::string with_resource;  // with a full JID in the query: that resource only
    std::optional<std::int64_t> start_us, end_us;       // inclusive
    std::optional<std::int64_t> after_seq, before_seq;  // exclusive
    std::vector<std::string> ids;  // only these stanza-ids (urn:xmpp:mam:2#extended)
    bool backward = false;         // RSM <before/>: the page nearest the end
    std::size_t max = 50;
};

struct ArchivePage {
    std::vector<ArchivedMessage> items;  // oldest first
    bool complete = false;               // nothing more matches in the direction of the paging
};

class ArchiveStore {
  public:
    virtual ~ArchiveStore() = default;
    // Appends `m` to `user`'s archive and returns its seq (m.seq is ignored). Throws
    // StorageError for a stanza-id the archive has already.
    virtual std::int64_t add(const std::string& user, const ArchivedMessage& m) = 0;
    // Many at once, in order (user, message): what the archive's writer queue holds. Call
    // it inside Backend::transaction() to have all or none.
    virtual void add_many(const std::vector<std::pair<std::string, ArchivedMessage>>& batch) = 0;
    virtual ArchivePage query(const std::string& user, const ArchiveQuery& q) = 0;
    // The seq of the message with stanza-id `id`, if `user`'s archive has it.
    virtual std::optional<std::int64_t> find(const std::string& user, const std::string& id) = 0;
    // The oldest and the newest message (XEP-0313 §7.1, archive metadata).
    virtual std::optional<ArchivedMessage> first(const std::string& user) = 0;
    virtual std::optional<ArchivedMessage> last(const std::string& user) = 0;
    virtual std::size_t count(const std::string& user) = 0;
    // The time of the message archived last, of any user (0 for none): where the
    // archive's clock starts again after a restart, so that archive order and time order
    // still agree when the system clock went back meanwhile.
    virtual std::int64_t latest_time() = 0;
    // Deletes up to `limit` messages archived before `time_us`, of every user, oldest
    // first (mam.retention); returns how many went.
    virtual std::size_t remove_before(std::int64_t time_us, std::size_t limit) = 0;
    // Deletes `user`'s whole archive; returns how many messages went.
    virtual std::size_t clear(const std::string& user) = 0;
};

// The migrations that create the archive's tables on backend `backend` (the mam
// module's Module::migrations()).
std::vector<std::string> archive_migrations(std::string_view backend);

}  // namespace hongyan::storage
