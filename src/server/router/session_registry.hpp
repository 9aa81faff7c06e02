// Which resources are bound, by JID, each with its route handle (router/session_route.hpp)
// and its presence state. SessionRegistry is the interface a cluster-wide (Redis-backed)
// registry will implement later; LocalSessionRegistry keeps this node's sessions, sharded
// by bare JID, each shard behind its own mutex, so lookups from different I/O threads
// rarely meet.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/router/session_route.hpp"
#include "xmpp/jid.hpp"

namespace hongyan {

// What the rest of the server needs to know about one bound resource (RFC 6121 §4).
struct ResourceState {
    bool available = false;  // sent initial presence and not yet unavailable
    int priority = 0;
    // When it became available, in the host's order of such events (Im::activate): two
    // resources coming up at once then see each other's presence exactly once.
    std::uint64_t available_since = 0;
    // The resource's last available presence, serialised with 'from' and without 'to',
    // ready to answer probes.
    std::shared_ptr<const std::string> presence;
    bool roster_interested = false;     // asked for the roster (RFC 6121 §2.1.6)
    bool blocklist_interested = false;  // asked for the blocklist (XEP-0191 §3.5)
    bool carbons = false;               // enabled Message Carbons (XEP-0280 §4)
    // Not looking: CSI-inactive (XEP-0352) or waiting for a resume (XEP-0198); a message
    // for a user none of whose resources is awake is pushed (XEP-0357).
    bool asleep = false;
    // What few resources have, kept apart so that every entry stays small: those who got
    // directed presence from this resource and must hear when it goes unavailable
    // (§4.6.3), full or bare JIDs, and the status of its last unavailable presence (for
    // last activity). Replaced, never changed in place (entries are copied out).
    struct Extras {
        std::vector<std::string> directed;
        std::string last_status;
    };
    std::shared_ptr<const Extras> extras;
    const std::vector<std::string>& directed() const;
    std::string_view last_status() const {
        return extras ? std::string_view(extras->last_status) : std::string_view();
    }
};

class SessionRegistry {
  public:
    using SessionPtr = RoutePtr;
    struct Resource {
        std::string resource;
        SessionPtr session;
        ResourceState state;
    };
    virtual ~SessionRegistry() = default;

    // Adds a bound session; returns the entry it replaces (same full JID), if any.
    virtual std::optional<Resource> add(const Jid& full, SessionPtr session) = 0;
    // Removes the entry for `full` if it still belongs to `session`; returns it.
    virtual std::optional<Resource> remove(const Jid& full, const SessionRoute* session) = 0;
    // Gives the entry for `full`, state and all, from `session` to `successor` (a stream
    // that resumed it, XEP-0198); false when the entry is not `session`'s.
    virtual bool replace(const Jid& full, const SessionRoute* session, SessionPtr successor) = 0;
    virtual SessionPtr find(const Jid& full) const = 0;
    virtual std::vector<SessionPtr> find_bare(const Jid& bare) const = 0;
    // Every resource of a bare JID with its state (a copy).
    virtual std::vector<Resource> resources(const std::string& bare) const = 0;
    // Where a message to the bare JID goes (RFC 6121 §8.5.2.1.1, rule (a), as Prosody and
    // ejabberd do): the available resources of the highest non-negative priority. Carbons
    // (XEP-0280) bring it to the others that want it.
    virtual std::vector<SessionPtr> message_targets(const std::string& bare) const = 0;
    // The resources of a bare JID that enabled carbons (XEP-0280).
    virtual std::vector<Resource> carbons_enabled(const std::string& bare) const = 0;
    // Whether the bare JID has an available resource that is not asleep (push, XEP-0357).
    virtual bool awake(const std::string& bare) const = 0;
    // Changes the state of `full` if it still belongs to `session`; false otherwise.
    virtual bool update(const Jid& full, const SessionRoute* session,
                        const std::function<void(ResourceState&)>& f) = 0;
    // The state of `full` if it still belongs to `session` (a copy).
    virtual std::optional<ResourceState> state(const Jid& full,
                                               const SessionRoute* session) const = 0;
    // Bare JIDs with at least one available resource.
    virtual std::vector<std::string> available_users() const = 0;
    // Bare JIDs with at least one bound resource.
    virtual std::vector<std::string> bound_users() const = 0;
    virtual std::size_t count() const = 0;
};

class LocalSessionRegistry final : public SessionRegistry {
  public:
    std::optional<Resource> add(const Jid& full, SessionPtr session) override;
    std::optional<Resource> remove(const Jid& full, const SessionRoute* session) override;
    bool replace(const Jid& full, const SessionRoute* session, SessionPtr successor) override;
    SessionPtr find(const Jid& full) const override;
    std::vector<SessionPtr> find_bare(const Jid& bare) const override;
    std::vector<Resource> resources(const std::string& bare) const override;
    std::vector<SessionPtr> message_targets(const std::string& bare) const override;
    std::vector<Resource> carbons_enabled(const std::string& bare) const override;
    bool awake(const std::string& bare) const override;
    bool update(const Jid& full, const SessionRoute* session,
                const std::function<void(ResourceState&)>& f) override;
    std::optional<ResourceState> state(const Jid& full, const SessionRoute* session) const override;
    std::vector<std::string> available_users() const override;
    std::vector<std::string> bound_users() const override;
    std::size_t count() const override;

  private:
    struct Shard {
        mutable std::mutex mu;
        std::unordered_map<std::string, std::vector<Resource>> by_bare;
    };
    static constexpr std::size_t kShards = 64;
    Shard& shard_for(const std::string& bare) const;
    mutable std::array<Shard, kShards> shards_;
};

}  // namespace hongyan
