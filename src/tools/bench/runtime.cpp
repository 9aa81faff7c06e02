#include "tools/bench/runtime.hpp"

#include <fmt/core.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <thread>

namespace hongyan::bench {

namespace {
constexpr std::size_t kExamples = 5;
}

Runtime::Runtime(int threads) : tls_(asio::ssl::context::tls_client) {
    for (int i = 0; i < std::max(threads, 1); ++i)
        contexts_.push_back(std::make_unique<asio::io_context>(1));
    // Benchmark servers use self-signed certificates; nothing is verified. Buffers are
    // released while idle so ten thousand client connections stay small too.
    tls_.set_verify_mode(asio::ssl::verify_none);
    tls_.set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                     asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    SSL_CTX_set_mode(tls_.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    // Every login is a full handshake, as a client connecting for the first time does.
    SSL_CTX_set_session_cache_mode(tls_.native_handle(), SSL_SESS_CACHE_OFF);
}

asio::any_io_executor Runtime::next_executor() {
    return contexts_[next_++ % contexts_.size()]->get_executor();
}

void Runtime::run() {
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (auto& c : contexts_) guards.push_back(asio::make_work_guard(*c));
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < contexts_.size(); ++i)
        threads.emplace_back([ctx = contexts_[i].get()] { ctx->run(); });
    contexts_.front()->run();
    for (auto& t : threads) t.join();
}

void Runtime::stop() {
    for (auto& c : contexts_) c->stop();
}

void FailureLog::record(const Outcome& o, const std::string& who) {
    ++total_;
    std::string line = who + ": " + o.describe();
    if (verbose_) fmt::print(stderr, "{} failed: {}\n", what_, line);
    std::lock_guard lock(mutex_);
    ++by_kind_[o.kind()];
    if (first_.size() < kExamples) first_.push_back(std::move(line));
}

void FailureLog::print() const {
    std::lock_guard lock(mutex_);
    if (by_kind_.empty()) return;
    fmt::print(stderr, "{}: {} failed; first {}:\n", what_, total_.load(), first_.size());
    for (const auto& line : first_) fmt::print(stderr, "  {}\n", line);
    fmt::print(stderr, "{} failures by kind:\n", what_);
    for (const auto& [kind, n] : by_kind_) fmt::print(stderr, "  {:8}  {}\n", n, kind);
}

asio::awaitable<void> sleep_for(double seconds) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(std::chrono::microseconds(static_cast<long>(seconds * 1e6)));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    auto idx = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
    return sorted[std::min(idx, sorted.size() - 1)];
}

std::string figure(std::optional<double> v, int decimals) {
    if (!v) return "-";
    return fmt::format("{:.{}f}", *v, decimals);
}

}  // namespace hongyan::bench
