// Counters that bound what one IP address or account may do, shared by all I/O threads.
// Each is a small mutex-protected table touched only on connect, login and registration,
// never per stanza.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace hongyan::net {

// Simultaneous connections per IP address.
class ConnectionLimiter {
  public:
    explicit ConnectionLimiter(std::int64_t max_per_ip) : max_(max_per_ip) {}
    // False when the address is at its limit; otherwise counts the connection.
    bool acquire(const std::string& ip);
    void release(const std::string& ip);
    std::int64_t total() const;

  private:
    std::int64_t max_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, std::int64_t> counts_;
    std::int64_t total_ = 0;
};

// Counts events per key in a fixed window: failed logins per IP or account, registrations
// per IP. `limit` 0 means unlimited.
class WindowCounter {
  public:
    WindowCounter(std::int64_t limit, std::chrono::seconds window)
        : limit_(limit), window_(window) {}
    // True when the key has reached its limit in the current window.
    bool exceeded(const std::string& key);
    void add(const std::string& key);
    void clear(const std::string& key);

  private:
    struct Entry {
        std::int64_t count = 0;
        std::chrono::steady_clock::time_point start;
    };
    void expire_locked(std::chrono::steady_clock::time_point now);
    std::int64_t limit_;
    std::chrono::seconds window_;
    std::mutex mu_;
    std::unordered_map<std::string, Entry> entries_;
    std::chrono::steady_clock::time_point last_sweep_;
};

}  // namespace hongyan::net
