#include "server/im/user_state.hpp"

#include <algorithm>

namespace hongyan::im {

bool UserState::blocks_locked(const Jid& other) const {
    if (blocked.empty()) return false;
    if (blocked.count(other.str()) || blocked.count(other.domain())) return true;
    if (!other.is_bare()) {
        if (blocked.count(other.bare_str())) return true;
        if (blocked.count(other.domain() + "/" + other.resource())) return true;
    }
    return false;
}

void UserState::replace_items(std::vector<RosterItem> loaded) {
    items.clear();
    listed = 0;
    for (auto& item : loaded) {
        ver = std::max(ver, item.ver);
        if (item.listed && !item.removed) ++listed;
        std::string key = item.jid;
        items.emplace(std::move(key), std::move(item));
    }
}

const RosterItem* UserState::item_locked(const std::string& contact) const {
    auto it = items.find(contact);
    if (it == items.end() || it->second.removed || !it->second.listed) return nullptr;
    return &it->second;
}

UserPtr UserCache::find(const std::string& user) const {
    std::lock_guard lock(mu_);
    auto it = users_.find(user);
    return it == users_.end() ? nullptr : it->second;
}

void UserCache::put(const UserPtr& state) {
    std::lock_guard lock(mu_);
    users_[state->user] = state;
}

void UserCache::for_each(const std::function<void(const UserPtr&)>& f) const {
    std::vector<UserPtr> all;
    {
        std::lock_guard lock(mu_);
        all.reserve(users_.size());
        for (const auto& [_, st] : users_) all.push_back(st);
    }
    for (const auto& st : all) f(st);
}

void UserCache::erase(const std::string& user) {
    std::lock_guard lock(mu_);
    users_.erase(user);
}

}  // namespace hongyan::im
