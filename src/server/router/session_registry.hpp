// Which client sessions are bound, by JID. Sharded by bare JID, each shard behind its own
// mutex, so lookups from different I/O threads rarely meet. The interface is what a
// cluster-wide (Redis-backed) registry will implement later.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "xmpp/jid.hpp"

namespace hongyan {

namespace c2s {
class C2SSession;
}

class SessionRegistry {
  public:
    using SessionPtr = std::shared_ptr<c2s::C2SSession>;

    // Adds a bound session; returns the session it replaces (same full JID), if any.
    SessionPtr add(const Jid& full, SessionPtr session);
    // Removes the entry for `full` if it still belongs to `session`.
    void remove(const Jid& full, const c2s::C2SSession* session);
    SessionPtr find(const Jid& full) const;
    std::vector<SessionPtr> find_bare(const Jid& bare) const;
    std::size_t count() const;

  private:
    struct Resource {
        std::string resource;
        SessionPtr session;
    };
    struct Shard {
        mutable std::mutex mu;
        std::unordered_map<std::string, std::vector<Resource>> by_bare;
    };
    static constexpr std::size_t kShards = 64;
    Shard& shard_for(const std::string& bare) const;
    mutable std::array<Shard, kShards> shards_;
};

}  // namespace hongyan
