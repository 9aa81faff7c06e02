// Scenario "login-rate": workers that log in, bind and close again as fast as the server
// lets them, to measure logins per second, login latency and server CPU per login.
#include <fmt/core.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>

#include "tools/bench/process_stats.hpp"
#include "tools/bench/runtime.hpp"

namespace hongyan::bench {

namespace {

using Clock = std::chrono::steady_clock;

struct LoginRun {
    LoginRun(const Target& t, const Accounts& a, const LoginRateOptions& o)
        : target(t),
          accounts(a),
          opt(o),
          latencies_ms(static_cast<std::size_t>(o.concurrency)),
          close_ms(static_cast<std::size_t>(o.concurrency)),
          failures("login", o.verbose),
          close_failures("close", o.verbose) {}

    const Target& target;
    const Accounts& accounts;
    const LoginRateOptions& opt;
    SaltedPasswordCache cache;
    std::atomic<std::uint64_t> next{0};
    std::atomic<bool> measuring{false}, stopping{false};
    std::atomic<long> logins{0}, failed{0};  // inside the measured window
    std::atomic<int> workers_done{0};
    std::atomic<int> closes_in_flight{0};
    // One vector per worker, read only after every worker finished.
    std::vector<std::vector<double>> latencies_ms;
    std::vector<std::vector<double>> close_ms;  // from </stream:stream> to the server's
    FailureLog failures, close_failures;
};

// Closing runs beside the next login: a server that is slow to answer </stream:stream>
// should not look slow at logging in.
asio::awaitable<void> close_session(LoginRun& run, std::unique_ptr<ClientConnection> conn,
                                    std::string user, std::vector<double>* closes) {
    auto start = Clock::now();
    Outcome closed = co_await conn->close_stream();
    if (!closed.ok()) run.close_failures.record(closed, user);
    if (closes) closes->push_back(seconds_since(start) * 1000.0);
    --run.closes_in_flight;
}

asio::awaitable<void> login_worker(Runtime& rt, LoginRun& run, int w) {
    auto ex = co_await asio::this_coro::executor;
    auto& latencies = run.latencies_ms[static_cast<std::size_t>(w)];
    auto& closes = run.close_ms[static_cast<std::size_t>(w)];
    while (!run.stopping) {
        std::uint64_t i = run.next++;
        auto conn = std::make_unique<ClientConnection>(ex, rt.tls(), run.target);
        auto start = Clock::now();
        conn->arm_deadline(run.target.timeout);
        Outcome r =
            co_await conn->log_in(run.target.source(i), run.accounts.user(i), run.accounts.password,
                                  "r" + std::to_string(i), &run.cache);
        conn->disarm_deadline();
        const bool counted = run.measuring;
        if (!r.ok()) {
            if (counted) ++run.failed;
            run.failures.record(r, run.accounts.user(i));
            co_await sleep_for(0.1);  // no busy loop against a refusing server
            continue;
        }
        if (counted) {
            ++run.logins;
            latencies.push_back(seconds_since(start) * 1000.0);
        }
        ++run.closes_in_flight;
        asio::co_spawn(
            ex,
            close_session(run, std::move(conn), run.accounts.user(i), counted ? &closes : nullptr),
            asio::detached);
    }
    ++run.workers_done;
}

}  // namespace

asio::awaitable<int> run_login_rate(Runtime& rt, const Target& target, const Accounts& accounts,
                                    const LoginRateOptions& opt) {
    LoginRun run(target, accounts, opt);
    const int pid = opt.server_pid;
    fmt::print(
        stderr,
        "login-rate: {} workers against {}:{} for {} s (+{} s warm-up), tls={}, {}, {} accounts\n",
        opt.concurrency, target.host.to_string(), target.port_for_tls_mode(), opt.duration,
        opt.warmup,
        target.tls == TlsMode::none     ? "none"
        : target.tls == TlsMode::direct ? "direct"
                                        : "starttls",
        target.mechanism(), accounts.users);
    for (int w = 0; w < opt.concurrency; ++w)
        asio::co_spawn(rt.next_executor(), login_worker(rt, run, w), asio::detached);

    co_await sleep_for(opt.warmup);
    auto cpu_start = pid ? cpu_ms(pid) : std::nullopt;
    double own_start = own_cpu_ms();
    auto start = Clock::now();
    run.measuring = true;
    for (double left = opt.duration; left > 0; left -= 5) {
        co_await sleep_for(std::min(left, 5.0));
        fmt::print(stderr, "login-rate: {:.0f} s: {} logins, {} failed\n", seconds_since(start),
                   run.logins.load(), run.failed.load());
    }
    run.measuring = false;
    const double elapsed = seconds_since(start);
    auto cpu_end = pid ? cpu_ms(pid) : std::nullopt;
    double own_end = own_cpu_ms();
    const long logins = run.logins, failed = run.failed;

    run.stopping = true;
    auto stop_start = Clock::now();
    while ((run.workers_done < opt.concurrency || run.closes_in_flight > 0) &&
           seconds_since(stop_start) < target.timeout + 10)
        co_await sleep_for(0.05);
    if (run.workers_done < opt.concurrency || run.closes_in_flight > 0) {
        fmt::print(stderr, "login-rate: {} workers did not stop in time\n",
                   opt.concurrency - run.workers_done);
        co_return 1;  // their connections still need the event loop; leave without a report
    }
    run.failures.print();
    run.close_failures.print();
    bool server_alive = !pid || process_alive(pid);
    if (!server_alive) fmt::print(stderr, "login-rate: the server process {} is gone\n", pid);

    auto merged = [](const std::vector<std::vector<double>>& per_worker) {
        std::vector<double> all;
        for (auto& v : per_worker) all.insert(all.end(), v.begin(), v.end());
        std::sort(all.begin(), all.end());
        return all;
    };
    const std::vector<double> all = merged(run.latencies_ms);
    const std::vector<double> closes = merged(run.close_ms);
    std::optional<double> server_cpu;
    if (cpu_start && cpu_end && logins > 0) server_cpu = (*cpu_end - *cpu_start) / logins;
    std::optional<double> own_cpu;
    if (logins > 0) own_cpu = (own_end - own_start) / logins;
    fmt::print(
        "RESULT login-rate concurrency={} duration_s={:.1f} tls={} mechanism={} logins={} "
        "failed={} "
        "logins_per_s={:.1f} p50_ms={:.2f} p90_ms={:.2f} p99_ms={:.2f} max_ms={:.2f} "
        "close_p50_ms={:.2f} "
        "server_cpu_ms_per_login={} bench_cpu_ms_per_login={} server_alive={}\n",
        opt.concurrency, elapsed,
        target.tls == TlsMode::none     ? "none"
        : target.tls == TlsMode::direct ? "direct"
                                        : "starttls",
        target.mechanism(), logins, failed, logins / elapsed, percentile(all, 50),
        percentile(all, 90), percentile(all, 99), all.empty() ? 0.0 : all.back(),
        percentile(closes, 50), figure(server_cpu, 3), figure(own_cpu, 3),
        server_alive ? "yes" : "no");
    co_return (failed == 0 && logins > 0 && server_alive) ? 0 : 1;
}

}  // namespace hongyan::bench
