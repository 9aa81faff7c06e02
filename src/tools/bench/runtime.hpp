// The load generator's machinery: event loops, the client TLS context, failure accounting
// and the scenarios that use them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tools/bench/client_connection.hpp"
#include "tools/bench/target.hpp"

namespace hongyan::bench {

// One io_context per client thread; work is spread over them round-robin.
class Runtime {
  public:
    explicit Runtime(int threads);
    asio::io_context& main_context() { return *contexts_.front(); }
    asio::any_io_executor next_executor();
    asio::ssl::context& tls() { return tls_; }
    // Runs every context on its own thread until stop().
    void run();
    void stop();

  private:
    std::vector<std::unique_ptr<asio::io_context>> contexts_;
    std::atomic<std::size_t> next_{0};
    asio::ssl::context tls_;
};

// Counts failures by kind and keeps the first few in full, for the report.
class FailureLog {
  public:
    explicit FailureLog(std::string what, bool verbose = false)
        : what_(std::move(what)), verbose_(verbose) {}
    void record(const Outcome& o, const std::string& who);
    long total() const { return total_.load(); }
    // Prints the examples and the counts per kind to stderr (nothing when empty).
    void print() const;

  private:
    std::string what_;
    bool verbose_;
    std::atomic<long> total_{0};
    mutable std::mutex mutex_;
    std::map<std::string, long> by_kind_;
    std::vector<std::string> first_;
};

asio::awaitable<void> sleep_for(double seconds);
double seconds_since(std::chrono::steady_clock::time_point t);
// Waits until `done()` holds, checking every `poll` seconds; false when `limit` seconds
// passed first.
template <typename Done>
asio::awaitable<bool> wait_until(Done done, double limit, double poll) {
    auto start = std::chrono::steady_clock::now();
    while (!done()) {
        if (seconds_since(start) > limit) co_return false;
        co_await sleep_for(poll);
    }
    co_return true;
}
// The p-th percentile (0..100) of ascending `sorted`, nearest rank; 0 when empty.
double percentile(const std::vector<double>& sorted, double p);
// "-" when a figure could not be measured, else the number with `decimals` decimals.
std::string figure(std::optional<double> v, int decimals = 1);

struct IdleOptions {
    int connections = 10000;
    int concurrency = 200;
    double hold = 10;   // seconds from the last login to closing all connections
    double settle = 5;  // seconds from the last login to the second memory reading
    int server_pid = 0;
    bool verbose = false;
};

struct LoginRateOptions {
    int concurrency = 20;
    double duration = 20;
    double warmup = 2;
    int server_pid = 0;
    bool verbose = false;
};

struct RegisterOptions {
    int concurrency = 10;
    bool verbose = false;
};

// "chat" (rate == 0): every sender keeps `window` messages in flight. "paced" (rate > 0):
// `rate` messages per second in all, evenly spread, with `window` only as a safety bound.
struct ChatOptions {
    int pairs = 100;
    int window = 10;
    double rate = 0;
    double duration = 20;
    double warmup = 2;
    int server_pid = 0;
    bool verbose = false;
};

// "offline": `pairs` senders, `messages` each to an offline receiver, `window` per ping.
struct OfflineOptions {
    int pairs = 100;
    int messages = 100;
    int window = 20;
    int server_pid = 0;
    bool verbose = false;
};

struct RosterOptions {
    int items = 1000;
    int fetches = 200;
    int server_pid = 0;
    bool verbose = false;
};

// N accounts (--users) in an everyone group, `online` of them logged in; see everyone.cpp.
struct EveryoneOptions {
    int online = 1000;
    int registrations = 10;     // accounts registered one by one while the users are online
    int concurrency = 10;       // logins in progress at once
    int roster_gets = 20;       // full roster gets by the newcomer, for the server CPU of one
    double push_limit = 10;     // seconds to wait for the pushes or presences of one event
    double settle_limit = 120;  // seconds from the first login for all presences to arrive
    int server_pid = 0;
    bool verbose = false;
};

// Each returns the process exit status.
asio::awaitable<int> run_idle(Runtime& rt, const Target& target, const Accounts& accounts,
                              const IdleOptions& opt);
asio::awaitable<int> run_login_rate(Runtime& rt, const Target& target, const Accounts& accounts,
                                    const LoginRateOptions& opt);
asio::awaitable<int> run_register(Runtime& rt, const Target& target, const Accounts& accounts,
                                  const RegisterOptions& opt);
asio::awaitable<int> run_chat(Runtime& rt, const Target& target, const Accounts& accounts,
                              const ChatOptions& opt);
asio::awaitable<int> run_offline(Runtime& rt, const Target& target, const Accounts& accounts,
                                 const OfflineOptions& opt);
asio::awaitable<int> run_roster(Runtime& rt, const Target& target, const Accounts& accounts,
                                const RosterOptions& opt);
asio::awaitable<int> run_everyone(Runtime& rt, const Target& target, const Accounts& accounts,
                                  const EveryoneOptions& opt);

}  // namespace hongyan::bench
