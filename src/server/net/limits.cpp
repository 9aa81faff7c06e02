#include "server/net/limits.hpp"

namespace hongyan::net {

bool ConnectionLimiter::acquire(const std::string& ip) {
    std::lock_guard lock(mu_);
    auto& n = counts_[ip];
    if (max_ > 0 && n >= max_) {
        if (n == 0) counts_.erase(ip);
        return false;
    }
    ++n;
    ++total_;
    return true;
}

void ConnectionLimiter::release(const std::string& ip) {
    std::lock_guard lock(mu_);
    auto it = counts_.find(ip);
    if (it == counts_.end()) return;
    --total_;
    if (--it->second <= 0) counts_.erase(it);
}

std::int64_t ConnectionLimiter::total() const {
    std::lock_guard lock(mu_);
    return total_;
}

void WindowCounter::expire_locked(std::chrono::steady_clock::time_point now) {
    // Drop finished windows now and then so the table cannot grow without bound.
    if (now - last_sweep_ < window_) return;
    last_sweep_ = now;
    std::erase_if(entries_, [&](const auto& kv) { return now - kv.second.start >= window_; });
}

bool WindowCounter::exceeded(const std::string& key) {
    if (limit_ <= 0) return false;
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    expire_locked(now);
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    if (now - it->second.start >= window_) {
        entries_.erase(it);
        return false;
    }
    return it->second.count >= limit_;
}

void WindowCounter::add(const std::string& key) {
    if (limit_ <= 0) return;
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    expire_locked(now);
    auto& e = entries_[key];
    if (e.count == 0 || now - e.start >= window_) {
        e.count = 0;
        e.start = now;
    }
    ++e.count;
}

void WindowCounter::clear(const std::string& key) {
    std::lock_guard lock(mu_);
    entries_.erase(key);
}

}  // namespace hongyan::net
