// Offline messages (XEP-0160): stanzas kept for a user who was not online, in arrival order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hongyan::storage {

struct OfflineMessage {
    std::int64_t id = 0;
    std::string stanza;  // serialised, with its <delay/> (XEP-0203) already added
};

class OfflineStore {
  public:
    virtual ~OfflineStore() = default;
    virtual std::size_t count(const std::string& user) = 0;
    // Appends unless `user` already has `limit` messages, or the stored stanzas and this
    // one would exceed `max_bytes` bytes together; false when full.
    virtual bool add(const std::string& user, const std::string& stanza, std::size_t limit,
                     std::size_t max_bytes = SIZE_MAX) = 0;
    virtual std::vector<OfflineMessage> load(const std::string& user) = 0;
    // At most `limit` messages with an id above `after_id`, oldest first: a page of a
    // backlog that is delivered as the client reads.
    virtual std::vector<OfflineMessage> load_after(const std::string& user, std::int64_t after_id,
                                                   std::size_t limit) = 0;
    virtual void remove(const std::string& user, const std::vector<std::int64_t>& ids) = 0;
};

}  // namespace hongyan::storage
