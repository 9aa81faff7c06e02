// Scenario "register": creates the benchmark accounts by in-band registration (XEP-0077),
// so the same tool prepares any server. Accounts that already exist count as done.
#include <fmt/core.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "tools/bench/runtime.hpp"

namespace hongyan::bench {

namespace {

using Clock = std::chrono::steady_clock;

struct RegisterRun {
    RegisterRun(const Target& t, const Accounts& a, const RegisterOptions& o)
        : target(t), accounts(a), failures("register", o.verbose) {}
    const Target& target;
    const Accounts& accounts;
    std::atomic<std::uint64_t> next{0};
    std::atomic<int> created{0}, existed{0}, failed{0}, workers_done{0};
    FailureLog failures;
};

asio::awaitable<void> register_worker(Runtime& rt, RegisterRun& run) {
    auto ex = co_await asio::this_coro::executor;
    for (;;) {
        std::uint64_t i = run.next++;
        if (i >= static_cast<std::uint64_t>(run.accounts.users)) break;
        ClientConnection conn(ex, rt.tls(), run.target);
        conn.arm_deadline(run.target.timeout);
        bool existed = false;
        std::string user = run.accounts.user(i);
        Outcome r = co_await conn.register_account(run.target.source(i), user,
                                                   run.accounts.password, existed);
        conn.disarm_deadline();
        if (!r.ok()) {
            ++run.failed;
            run.failures.record(r, user);
            continue;
        }
        ++(existed ? run.existed : run.created);
        co_await conn.close_stream();
    }
    ++run.workers_done;
}

}  // namespace

asio::awaitable<int> run_register(Runtime& rt, const Target& target, const Accounts& accounts,
                                  const RegisterOptions& opt) {
    RegisterRun run(target, accounts, opt);
    fmt::print(stderr, "register: creating {}0 .. {}{} on {}:{}\n", accounts.prefix,
               accounts.prefix, accounts.users - 1, target.host.to_string(),
               target.port_for_tls_mode());
    auto start = Clock::now();
    const int workers = std::min(opt.concurrency, accounts.users);
    for (int w = 0; w < workers; ++w)
        asio::co_spawn(rt.next_executor(), register_worker(rt, run), asio::detached);
    auto last_report = Clock::now();
    while (run.workers_done < workers) {
        co_await sleep_for(0.1);
        if (seconds_since(last_report) >= 5) {
            last_report = Clock::now();
            fmt::print(stderr, "register: {} created, {} existed, {} failed\n", run.created.load(),
                       run.existed.load(), run.failed.load());
        }
    }
    run.failures.print();
    fmt::print("RESULT register users={} created={} existed={} failed={} seconds={:.1f}\n",
               accounts.users, run.created.load(), run.existed.load(), run.failed.load(),
               seconds_since(start));
    co_return run.failed == 0 ? 0 : 1;
}

}  // namespace hongyan::bench
