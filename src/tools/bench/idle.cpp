// Scenario "idle": many logged-in sessions doing nothing, to measure what one costs the
// server in memory (VmRSS growth per connection).
#include <fmt/core.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "tools/bench/process_stats.hpp"
#include "tools/bench/runtime.hpp"

namespace hongyan::bench {

namespace {

// How often wait_until() checks (connection counts change slowly).
constexpr double kPoll = 0.05;

using Clock = std::chrono::steady_clock;

struct IdleRun {
    IdleRun(const Target& t, const Accounts& a, const IdleOptions& o)
        : target(t),
          accounts(a),
          opt(o),
          conns(static_cast<std::size_t>(o.connections)),
          setup_failures("login", o.verbose),
          drops("idle session", o.verbose),
          close_failures("close", o.verbose) {}

    const Target& target;
    const Accounts& accounts;
    const IdleOptions& opt;
    SaltedPasswordCache cache;
    // Connection i lives here from its login to the end of the run; it is only touched on
    // its own executor (or after every operation on it has finished).
    std::vector<std::unique_ptr<ClientConnection>> conns;
    std::atomic<std::uint64_t> next{0};
    std::atomic<int> logged_in{0}, failed{0}, workers_done{0};
    std::atomic<int> ended{0}, dropped{0}, closers_done{0}, destroyed{0};
    std::atomic<bool> closing{false};
    FailureLog setup_failures, drops, close_failures;
};

asio::awaitable<void> hold(IdleRun& run, ClientConnection& conn, std::uint64_t i) {
    Outcome how = co_await conn.wait_for_end();
    if (!how.ok()) {
        std::string who = "connection " + std::to_string(i);
        if (run.closing) {
            run.close_failures.record(how, who);
        } else {
            ++run.dropped;
            run.drops.record(how, who);
        }
    }
    ++run.ended;
}

asio::awaitable<void> setup_worker(Runtime& rt, IdleRun& run) {
    auto ex = co_await asio::this_coro::executor;
    for (;;) {
        std::uint64_t i = run.next++;
        if (i >= run.conns.size()) break;
        auto conn = std::make_unique<ClientConnection>(ex, rt.tls(), run.target);
        conn->arm_deadline(run.target.timeout);
        Outcome r =
            co_await conn->log_in(run.target.source(i), run.accounts.user(i), run.accounts.password,
                                  "r" + std::to_string(i), &run.cache);
        conn->disarm_deadline();
        if (!r.ok()) {
            ++run.failed;
            run.setup_failures.record(r, run.accounts.user(i) + "/r" + std::to_string(i));
            continue;
        }
        ++run.logged_in;
        ClientConnection& c = *conn;
        run.conns[i] = std::move(conn);
        asio::co_spawn(ex, hold(run, c, i), asio::detached);
    }
    ++run.workers_done;
}

}  // namespace

asio::awaitable<int> run_idle(Runtime& rt, const Target& target, const Accounts& accounts,
                              const IdleOptions& opt) {
    IdleRun run(target, accounts, opt);
    const int pid = opt.server_pid;
    auto rss_before = pid ? resident_kib(pid) : std::nullopt;
    auto cpu_before = pid ? cpu_ms(pid) : std::nullopt;
    if (pid && !rss_before) fmt::print(stderr, "warning: cannot read /proc/{}/status\n", pid);

    fmt::print(stderr,
               "idle: opening {} connections ({} at a time) to {}:{} from {} source address(es), "
               "tls={}, {}\n",
               opt.connections, opt.concurrency, target.host.to_string(),
               target.port_for_tls_mode(), target.sources,
               target.tls == TlsMode::none     ? "none"
               : target.tls == TlsMode::direct ? "direct"
                                               : "starttls",
               target.mechanism());
    auto start = Clock::now();
    const int workers = std::min(opt.concurrency, opt.connections);
    for (int w = 0; w < workers; ++w)
        asio::co_spawn(rt.next_executor(), setup_worker(rt, run), asio::detached);
    auto last_report = Clock::now();
    while (run.workers_done < workers) {
        co_await sleep_for(0.1);
        if (seconds_since(last_report) >= 2) {
            last_report = Clock::now();
            fmt::print(stderr, "idle: {:.0f} s: {} logged in, {} failed\n", seconds_since(start),
                       run.logged_in.load(), run.failed.load());
        }
    }
    const double setup_s = seconds_since(start);
    const int ok = run.logged_in;
    auto cpu_setup = pid ? cpu_ms(pid) : std::nullopt;
    fmt::print(stderr, "idle: {} logged in, {} failed, in {:.1f} s ({:.0f} logins/s)\n", ok,
               run.failed.load(), setup_s, ok / setup_s);
    run.setup_failures.print();

    // Let the server finish whatever follows a login (buffers, caches, garbage collection)
    // before reading its memory.
    auto idle_start = Clock::now();
    co_await sleep_for(std::min(opt.settle, opt.hold));
    auto rss_after = pid ? resident_kib(pid) : std::nullopt;
    const int alive_at_reading = ok - run.ended;
    co_await sleep_for(std::max(0.0, opt.hold - seconds_since(idle_start)));
    const int dropped = run.dropped;
    if (dropped)
        fmt::print(stderr, "idle: {} sessions were closed by the server while idle\n", dropped);
    run.drops.print();

    // Close every stream the polite way, then wait for the server's replies.
    fmt::print(stderr, "idle: closing {} connections\n", ok - run.ended);
    run.closing = true;
    int closers = 0;
    for (auto& c : run.conns) {
        if (!c) continue;
        ++closers;
        asio::co_spawn(c->executor(), c->request_close(),
                       [&run](std::exception_ptr) { ++run.closers_done; });
    }
    auto close_start = Clock::now();
    bool closed = co_await wait_until(
        [&] { return run.ended == ok && run.closers_done == closers; }, 20, kPoll);
    const double close_s = seconds_since(close_start);
    if (!closed) {
        fmt::print(stderr, "idle: {} connections still open after 20 s; dropping them\n",
                   ok - run.ended);
        for (auto& c : run.conns)
            if (c) asio::post(c->executor(), [conn = c.get()] { conn->abort(); });
        co_await wait_until([&] { return run.ended == ok && run.closers_done == closers; }, 30,
                            kPoll);
    }
    run.close_failures.print();
    co_await sleep_for(pid ? 2.0 : 0.0);
    auto rss_closed = pid ? resident_kib(pid) : std::nullopt;
    bool server_alive = !pid || process_alive(pid);
    if (!server_alive) fmt::print(stderr, "idle: the server process {} is gone\n", pid);

    // Nothing runs on the connections any more; destroy each on its own executor.
    int to_destroy = 0;
    for (auto& c : run.conns) {
        if (!c) continue;
        ++to_destroy;
        asio::post(c->executor(), [&run, &c] {
            c.reset();
            ++run.destroyed;
        });
    }
    co_await wait_until([&] { return run.destroyed == to_destroy; }, 30, kPoll);

    std::optional<double> per_conn;
    if (rss_before && rss_after && alive_at_reading > 0)
        per_conn = static_cast<double>(*rss_after - *rss_before) / alive_at_reading;
    std::optional<double> cpu_per_conn;
    if (cpu_before && cpu_setup && ok > 0) cpu_per_conn = (*cpu_setup - *cpu_before) / ok;
    auto kib = [](std::optional<long> v) { return v ? std::to_string(*v) : std::string("-"); };
    fmt::print(
        "RESULT idle n={} ok={} failed={} dropped={} tls={} mechanism={} setup_s={:.2f} "
        "logins_per_s={:.0f} rss_before_kib={} rss_after_kib={} kib_per_conn={} rss_closed_kib={} "
        "server_cpu_ms_per_login={} close_s={:.2f} server_alive={}\n",
        opt.connections, ok, run.failed.load(), dropped,
        target.tls == TlsMode::none     ? "none"
        : target.tls == TlsMode::direct ? "direct"
                                        : "starttls",
        target.mechanism(), setup_s, ok / setup_s, kib(rss_before), kib(rss_after),
        figure(per_conn, 2), kib(rss_closed), figure(cpu_per_conn, 3), close_s,
        server_alive ? "yes" : "no");
    co_return (run.failed == 0 && dropped == 0 && server_alive) ? 0 : 1;
}

}  // namespace hongyan::bench
