#include "server/im/shared_groups.hpp"

#include <algorithm>
#include <mutex>

namespace hongyan::im {

void SharedGroups::reset(std::string everyone, std::vector<std::string> accounts,
                         std::vector<storage::SharedGroup> groups, std::int64_t seq,
                         std::vector<DirectoryEvent> history) {
    std::unique_lock lock(mu_);
    everyone_ = std::move(everyone);
    accounts_.clear();
    if (!everyone_.empty()) accounts_.insert(accounts.begin(), accounts.end());
    groups_.clear();
    for (auto& g : groups)
        groups_[g.name] =
            Group{g.display, std::set<std::string>(g.members.begin(), g.members.end())};
    index_locked();
    log_.assign(history.begin(), history.end());
    while (log_.size() > log_limit_) log_.pop_front();
    log_start_ = log_.empty() ? seq : log_.front().seq - 1;
    seq_ = seq;
}

void SharedGroups::replace_groups(std::vector<storage::SharedGroup> groups) {
    std::unique_lock lock(mu_);
    groups_.clear();
    for (auto& g : groups)
        groups_[g.name] =
            Group{g.display, std::set<std::string>(g.members.begin(), g.members.end())};
    index_locked();
}

void SharedGroups::index_locked() {
    groups_of_.clear();
    for (const auto& [name, g] : groups_)
        for (const auto& m : g.members) groups_of_[m].push_back(name);
}

bool SharedGroups::enabled() const {
    std::shared_lock lock(mu_);
    return !everyone_.empty() || !groups_.empty();
}

bool SharedGroups::everyone() const {
    std::shared_lock lock(mu_);
    return !everyone_.empty();
}

void SharedGroups::apply(const DirectoryEvent& e) {
    std::unique_lock lock(mu_);
    switch (e.kind) {
        case DirectoryEvent::Kind::account_added:
            if (!everyone_.empty()) accounts_.insert(e.user);
            break;
        case DirectoryEvent::Kind::account_removed:
            accounts_.erase(e.user);
            break;
        case DirectoryEvent::Kind::member_added: {
            auto it = groups_.find(e.group);
            if (it != groups_.end() && it->second.members.insert(e.user).second)
                groups_of_[e.user].push_back(e.group);
            break;
        }
        case DirectoryEvent::Kind::member_removed: {
            auto it = groups_.find(e.group);
            if (it != groups_.end()) it->second.members.erase(e.user);
            auto g = groups_of_.find(e.user);
            if (g != groups_of_.end()) {
                std::erase(g->second, e.group);
                if (g->second.empty()) groups_of_.erase(g);
            }
            break;
        }
        case DirectoryEvent::Kind::group_changed:
            break;  // the caller reloads the groups
        case DirectoryEvent::Kind::roster_changed:
            break;
    }
    log_.push_back(e);
    seq_ = e.seq;
    while (log_.size() > log_limit_) {
        log_start_ = log_.front().seq;
        log_.pop_front();
    }
}

std::vector<std::string> SharedGroups::groups_between(const std::string& user,
                                                      const std::string& contact) const {
    std::vector<std::string> out;
    if (user == contact) return out;
    std::shared_lock lock(mu_);
    if (!everyone_.empty() && accounts_.count(user) && accounts_.count(contact))
        out.push_back(everyone_);
    auto mine = groups_of_.find(user);
    if (mine == groups_of_.end()) return out;
    for (const auto& name : mine->second) {
        const Group& g = groups_.at(name);
        if (g.members.count(contact) && std::find(out.begin(), out.end(), g.display) == out.end())
            out.push_back(g.display);
    }
    return out;
}

void SharedGroups::for_each_contact(
    const std::string& user,
    const std::function<void(const std::string&, const std::string&)>& f) const {
    std::shared_lock lock(mu_);
    if (!everyone_.empty() && accounts_.count(user))
        for (const auto& a : accounts_)
            if (a != user) f(a, everyone_);
    auto mine = groups_of_.find(user);
    if (mine == groups_of_.end()) return;
    for (const auto& name : mine->second) {
        const Group& g = groups_.at(name);
        for (const auto& m : g.members)
            if (m != user) f(m, g.display);
    }
}

void SharedGroups::for_each_contact_grouped(
    const std::string& user,
    const std::function<void(const std::string&, const std::vector<std::string>&)>& f) const {
    std::shared_lock lock(mu_);
    // The named groups' members with their display names (few, usually).
    std::map<std::string, std::vector<std::string>> named;
    if (auto mine = groups_of_.find(user); mine != groups_of_.end()) {
        for (const auto& name : mine->second) {
            const Group& g = groups_.at(name);
            for (const auto& m : g.members) {
                if (m == user) continue;
                auto& d = named[m];
                if (std::find(d.begin(), d.end(), g.display) == d.end()) d.push_back(g.display);
            }
        }
    }
    if (!everyone_.empty() && accounts_.count(user)) {
        const std::vector<std::string> just_everyone{everyone_};
        std::vector<std::string> both;
        for (const auto& a : accounts_) {
            if (a == user) continue;
            auto it = named.find(a);
            if (it == named.end()) {
                f(a, just_everyone);
                continue;
            }
            both = just_everyone;
            for (const auto& d : it->second)
                if (d != everyone_) both.push_back(d);
            f(a, both);
            named.erase(it);
        }
    }
    for (const auto& [m, displays] : named) f(m, displays);
}

std::vector<std::string> SharedGroups::named_contacts(const std::string& user) const {
    std::shared_lock lock(mu_);
    std::vector<std::string> out;
    auto mine = groups_of_.find(user);
    if (mine == groups_of_.end()) return out;
    for (const auto& name : mine->second)
        for (const auto& m : groups_.at(name).members)
            if (m != user) out.push_back(m);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<std::string> SharedGroups::members(const std::string& group) const {
    std::shared_lock lock(mu_);
    auto it = groups_.find(group);
    if (it == groups_.end()) return {};
    return {it->second.members.begin(), it->second.members.end()};
}

bool SharedGroups::is_member(const std::string& group, const std::string& user) const {
    std::shared_lock lock(mu_);
    auto it = groups_.find(group);
    return it != groups_.end() && it->second.members.count(user) > 0;
}

std::string SharedGroups::display(const std::string& group) const {
    std::shared_lock lock(mu_);
    auto it = groups_.find(group);
    return it == groups_.end() ? std::string() : it->second.display;
}

bool SharedGroups::is_account(const std::string& user) const {
    std::shared_lock lock(mu_);
    return accounts_.count(user) > 0;
}

std::int64_t SharedGroups::seq() const {
    std::shared_lock lock(mu_);
    return seq_;
}

bool SharedGroups::events_since(std::int64_t since, std::vector<DirectoryEvent>& out) const {
    std::shared_lock lock(mu_);
    if (since < log_start_ || since > seq_) return false;
    for (const auto& e : log_)
        if (e.seq > since) out.push_back(e);
    return true;
}

}  // namespace hongyan::im
