// Blocklists (XEP-0191): the JIDs each user blocks.
#pragma once

#include <string>
#include <vector>

namespace hongyan::storage {

class BlocklistStore {
  public:
    virtual ~BlocklistStore() = default;
    virtual std::vector<std::string> load(const std::string& user) = 0;
    virtual void add(const std::string& user, const std::vector<std::string>& jids) = 0;
    // An empty list removes every entry.
    virtual void remove(const std::string& user, const std::vector<std::string>& jids) = 0;
};

}  // namespace hongyan::storage
