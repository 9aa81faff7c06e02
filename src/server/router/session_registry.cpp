#include "server/router/session_registry.hpp"

#include <algorithm>
#include <functional>
#include <utility>

namespace hongyan {

const std::vector<std::string>& ResourceState::directed() const {
    static const std::vector<std::string> none;
    return extras ? extras->directed : none;
}

LocalSessionRegistry::Shard& LocalSessionRegistry::shard_for(const std::string& bare) const {
    return shards_[std::hash<std::string>{}(bare) % kShards];
}

std::optional<SessionRegistry::Resource> LocalSessionRegistry::add(const Jid& full,
                                                                   SessionPtr session) {
    std::string bare = full.bare_str();
    auto& shard = shard_for(bare);
    std::lock_guard lock(shard.mu);
    auto& list = shard.by_bare[bare];
    for (auto& r : list) {
        if (r.resource == full.resource()) {
            Resource old = std::move(r);
            r = Resource{full.resource(), std::move(session), {}};
            return old;
        }
    }
    list.push_back(Resource{full.resource(), std::move(session), {}});
    return std::nullopt;
}

std::optional<SessionRegistry::Resource> LocalSessionRegistry::remove(const Jid& full,
                                                                      const SessionRoute* session) {
    std::string bare = full.bare_str();
    auto& shard = shard_for(bare);
    std::optional<Resource> removed;  // its session is released after the lock
    std::lock_guard lock(shard.mu);
    auto it = shard.by_bare.find(bare);
    if (it == shard.by_bare.end()) return removed;
    auto& list = it->second;
    for (auto r = list.begin(); r != list.end(); ++r) {
        if (r->resource == full.resource() && r->session.get() == session) {
            removed = std::move(*r);
            list.erase(r);
            break;
        }
    }
    if (list.empty()) shard.by_bare.erase(it);
    return removed;
}

bool LocalSessionRegistry::replace(const Jid& full, const SessionRoute* session,
                                   SessionPtr successor) {
    std::string bare = full.bare_str();
    auto& shard = shard_for(bare);
    SessionPtr old;  // released after the lock
    std::lock_guard lock(shard.mu);
    auto it = shard.by_bare.find(bare);
    if (it == shard.by_bare.end()) return false;
    for (auto& r : it->second) {
        if (r.resource == full.resource() && r.session.get() == session) {
            old = std::exchange(r.session, std::move(successor));
            return true;
        }
    }
    return false;
}

std::vector<LocalSessionRegistry::Resource> LocalSessionRegistry::resources(
    const std::string& bare) const {
    auto& shard = shard_for(bare);
    std::lock_guard lock(shard.mu);
    auto it = shard.by_bare.find(bare);
    if (it == shard.by_bare.end()) return {};
    return it->second;
}

std::vector<LocalSessionRegistry::SessionPtr> LocalSessionRegistry::message_targets(
    const std::string& bare) const {
    auto& shard = shard_for(bare);
    std::vector<SessionPtr> out;
    std::lock_guard lock(shard.mu);
    auto it = shard.by_bare.find(bare);
    if (it == shard.by_bare.end()) return out;
    int highest = -1;
    for (const auto& r : it->second)
        if (r.state.available) highest = std::max(highest, r.state.priority);
    if (highest < 0) return out;
    for (const auto& r : it->second)
        if (r.state.available && r.state.priority == highest) out.push_back(r.session);
    return out;
}

bool LocalSessionRegistry::awake(const std::string& bare) const {
    auto& shard = shard_for(bare);
    std::lock_guard lock(shard.mu);
    auto it = shard.by_bare.find(bare);
    if (it == shard.by_bare.end()) return false;
    return std::any_of(it->second.begin(), it->second.end(),
                       [](const Resource& r) { return r.state.available && !r.state.asleep; });
}

std::vector<SessionRegistry::Resource> LocalSessionRegistry::carbons_enabled(
    const std::string& bare) const {
    auto& shard = shard_for(bare);
    std::vector<Resource> out;
    std::lock_guard lock(shard.mu);
    auto it = shard.by_bare.find(bare);
    if (it == shard.by_bare.end()) return out;
    for (const auto& r : it->second)
        if (r.state.carbons) out.push_back(r);
    return out;
}

bool LocalSessionRegistry::update(const Jid& full, const SessionRoute* session,
                                  const std::function<void(ResourceState&)>& f) {
    std::string bare = full.bare_str();
    auto& shard = shard_for(bare);
    std::lock_guard lock(shard.mu);
    auto it = shard.by_bare.find(bare);
    if (it == shard.by_bare.end()) return false;
    for (auto& r : it->second) {
        if (r.resource == full.resource() && r.session.get() == session) {
            f(r.state);
            return true;
        }
    }
    return false;
}

std::optional<ResourceState> LocalSessionRegistry::state(const Jid& full,
                                                         const SessionRoute* session) const {
    std::string bare = full.bare_str();
    auto& shard = shard_for(bare);
    std::lock_guard lock(shard.mu);
    auto it = shard.by_bare.find(bare);
    if (it == shard.by_bare.end()) return std::nullopt;
    for (const auto& r : it->second)
        if (r.resource == full.resource() && r.session.get() == session) return r.state;
    return std::nullopt;
}

std::vector<std::string> LocalSessionRegistry::available_users() const {
    std::vector<std::string> out;
    for (auto& shard : shards_) {
        std::lock_guard lock(shard.mu);
        for (const auto& [bare, list] : shard.by_bare)
            for (const auto& r : list)
                if (r.state.available) {
                    out.push_back(bare);
                    break;
                }
    }
    return out;
}

LocalSessionRegistry::SessionPtr LocalSessionRegistry::find(const Jid& full) const {
    std::string bare = full.bare_str();
    auto& shard = shard_for(bare);
    std::lock_guard lock(shard.mu);
    auto it = shard.by_bare.find(bare);
    if (it == shard.by_bare.end()) return nullptr;
    for (const auto& r : it->second)
        if (r.resource == full.resource()) return r.session;
    return nullptr;
}

std::vector<LocalSessionRegistry::SessionPtr> LocalSessionRegistry::find_bare(
    const Jid& bare) const {
    std::string key = bare.bare_str();
    auto& shard = shard_for(key);
    std::lock_guard lock(shard.mu);
    std::vector<SessionPtr> out;
    auto it = shard.by_bare.find(key);
    if (it == shard.by_bare.end()) return out;
    for (const auto& r : it->second) out.push_back(r.session);
    return out;
}

std::vector<std::string> LocalSessionRegistry::bound_users() const {
    std::vector<std::string> out;
    for (auto& shard : shards_) {
        std::lock_guard lock(shard.mu);
        for (const auto& [bare, list] : shard.by_bare)
            if (!list.empty()) out.push_back(bare);
    }
    return out;
}

std::size_t LocalSessionRegistry::count() const {
    std::size_t n = 0;
    for (auto& shard : shards_) {
        std::lock_guard lock(shard.mu);
        for (const auto& [_, list] : shard.by_bare) n += list.size();
    }
    return n;
}

}  // namespace hongyan
