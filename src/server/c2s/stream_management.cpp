#include "server/c2s/stream_management.hpp"

#include "server/c2s/client_session.hpp"

namespace hongyan::c2s {

void Resumptions::add(const std::string& id, const std::shared_ptr<ClientSession>& session) {
    std::lock_guard lock(mu_);
    by_id_[id] = session;
}

std::shared_ptr<ClientSession> Resumptions::claim(const std::string& id, const std::string& user,
                                                  const Host* host) {
    std::lock_guard lock(mu_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return nullptr;
    auto session = it->second.lock();
    if (!session) {
        by_id_.erase(it);
        return nullptr;
    }
    // The username and host are fixed before the session is added (on its thread, before
    // the mutex): reading them here is safe.
    if (session->username() != user || &session->host() != host) return nullptr;
    by_id_.erase(it);
    return session;
}

void Resumptions::remove(const std::string& id, const ClientSession* session) {
    std::lock_guard lock(mu_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return;
    auto current = it->second.lock();
    if (!current || current.get() == session) by_id_.erase(it);
}

std::vector<std::shared_ptr<ClientSession>> Resumptions::sessions() const {
    std::vector<std::shared_ptr<ClientSession>> out;
    std::lock_guard lock(mu_);
    for (const auto& [id, weak] : by_id_)
        if (auto s = weak.lock()) out.push_back(std::move(s));
    return out;
}

bool Resumptions::enter_waiting(const std::string& user, std::size_t max) {
    std::lock_guard lock(mu_);
    auto& n = waiting_[user];
    if (n >= max) {
        if (n == 0) waiting_.erase(user);
        return false;
    }
    ++n;
    return true;
}

void Resumptions::leave_waiting(const std::string& user) {
    std::lock_guard lock(mu_);
    auto it = waiting_.find(user);
    if (it == waiting_.end()) return;
    if (--it->second == 0) waiting_.erase(it);
}

std::size_t Resumptions::size() const {
    std::lock_guard lock(mu_);
    return by_id_.size();
}

}  // namespace hongyan::c2s
