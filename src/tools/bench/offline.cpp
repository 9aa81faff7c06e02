// Scenario "offline": chat messages to users who are not online, so that every one goes
// through offline storage (XEP-0160) and the database is in the path of each message.
// P senders each send M messages to a receiver of their own who is offline, W at a time,
// each batch followed by a ping (XEP-0199) whose answer shows the batch was handled (stored
// or bounced), since a server handles one session's stanzas in order. Then the receivers,
// logged in beforehand without presence, send their initial presence together and take
// their M stored messages each (RFC 6121 §4.2: the server delivers them then).
#include <fmt/core.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>

#include "tools/bench/process_stats.hpp"
#include "tools/bench/runtime.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::bench {

namespace {

constexpr double kPoll = 0.02;
using Clock = std::chrono::steady_clock;

struct OfflineRun {
    OfflineRun(const Target& t, const Accounts& a, const OfflineOptions& o)
        : target(t), accounts(a), opt(o), failures("offline", o.verbose) {}
    const Target& target;
    const Accounts& accounts;
    const OfflineOptions& opt;
    SaltedPasswordCache cache;
    FailureLog failures;
    std::atomic<bool> go_store{false}, go_deliver{false};
    std::atomic<long> stored{0}, bounced{0}, delivered{0};
    std::atomic<int> senders_ready{0}, senders_done{0}, receivers_ready{0}, receivers_done{0};
};

// Sends `batch` and a ping after it; counts the messages that came back as errors.
asio::awaitable<Outcome> send_and_wait(OfflineRun& run, ClientConnection& conn, std::string batch,
                                       const std::string& id, long& bounced) {
    batch += "<iq type='get' id='" + id + "' to='" + xml::escape(run.target.domain) +
             "'><ping xmlns='" + std::string(ns::ping) + "'/></iq>";
    Outcome r = co_await conn.send(std::move(batch), "offline store");
    xml::Element el;
    while (r.ok()) {
        r = co_await conn.receive("offline store", el);
        if (!r.ok()) break;
        if (el.name() == "message" && el.attr("type") == "error") ++bounced;
        if (el.name() == "iq" && el.attr("id") == id) break;
    }
    co_return r;
}

asio::awaitable<void> sender(Runtime& rt, OfflineRun& run, int i) {
    const auto& opt = run.opt;
    const auto index = static_cast<std::uint64_t>(i);
    const std::string user = run.accounts.user(index);
    const std::string to =
        run.accounts.user(static_cast<std::uint64_t>(opt.pairs + i)) + "@" + run.target.domain;
    ClientConnection conn(co_await asio::this_coro::executor, rt.tls(), run.target);
    conn.arm_deadline(run.target.timeout);
    Outcome r = co_await conn.log_in(run.target.source(index), user, run.accounts.password,
                                     "offline", &run.cache);
    ++run.senders_ready;
    co_await wait_until([&] { return run.go_store.load(); }, 3600, kPoll);
    long bounced = 0;
    int sent = 0;
    for (int batch_no = 0; r.ok() && sent < opt.messages; ++batch_no) {
        std::string batch;
        const int n = std::min(opt.window, opt.messages - sent);
        for (int k = 0; k < n; ++k, ++sent)
            batch += "<message type='chat' to='" + to + "' id='o" + std::to_string(sent) +
                     "'><body>offline message " + std::to_string(sent) + " from " + user +
                     "</body></message>";
        conn.arm_deadline(run.target.timeout);
        r = co_await send_and_wait(run, conn, std::move(batch), "b" + std::to_string(batch_no),
                                   bounced);
    }
    if (!r.ok()) run.failures.record(r, user);
    run.stored += (r.ok() ? sent : 0) - bounced;
    run.bounced += bounced;
    ++run.senders_done;
    conn.disarm_deadline();
    co_await conn.close_stream();
}

asio::awaitable<void> receiver(Runtime& rt, OfflineRun& run, int i) {
    const auto& opt = run.opt;
    const auto index = static_cast<std::uint64_t>(opt.pairs + i);
    const std::string user = run.accounts.user(index);
    ClientConnection conn(co_await asio::this_coro::executor, rt.tls(), run.target);
    conn.arm_deadline(run.target.timeout);
    Outcome r = co_await conn.log_in(run.target.source(index), user, run.accounts.password,
                                     "offline", &run.cache);
    ++run.receivers_ready;
    co_await wait_until([&] { return run.go_deliver.load(); }, 3600, kPoll);
    if (r.ok()) r = co_await conn.send("<presence/>", "offline deliver");
    xml::Element el;
    int got = 0;
    while (r.ok() && got < opt.messages) {
        conn.arm_deadline(run.target.timeout);
        r = co_await conn.receive("offline deliver", el);
        if (r.ok() && el.name() == "message" && el.attr("type") != "error") {
            ++got;
            ++run.delivered;
        }
    }
    if (!r.ok()) run.failures.record(r, user);
    ++run.receivers_done;
    conn.disarm_deadline();
    co_await conn.close_stream();
}

// Waits for `done` with a progress line every 5 s; the seconds it took.
template <typename Done, typename Line>
asio::awaitable<double> timed(Done done, Line line, double limit) {
    const auto start = Clock::now();
    double next = 5;
    while (!done() && seconds_since(start) < limit) {
        co_await sleep_for(kPoll);
        if (seconds_since(start) >= next) {
            line(seconds_since(start));
            next += 5;
        }
    }
    co_return seconds_since(start);
}

}  // namespace

asio::awaitable<int> run_offline(Runtime& rt, const Target& target, const Accounts& accounts,
                                 const OfflineOptions& opt) {
    if (2 * opt.pairs > accounts.users) {
        fmt::print(stderr, "offline: {} pairs need {} accounts; --users is {}\n", opt.pairs,
                   2 * opt.pairs, accounts.users);
        co_return 2;
    }
    OfflineRun run(target, accounts, opt);
    const int pid = opt.server_pid;
    fmt::print(stderr,
               "offline: {} senders ({}0 ..) to {} offline receivers, {} messages each, {} per "
               "ping, against {}:{}\n",
               opt.pairs, accounts.prefix, opt.pairs, opt.messages, opt.window,
               target.host.to_string(), target.port_for_tls_mode());
    for (int i = 0; i < opt.pairs; ++i) {
        asio::co_spawn(rt.next_executor(), sender(rt, run, i), asio::detached);
        asio::co_spawn(rt.next_executor(), receiver(rt, run, i), asio::detached);
    }
    co_await wait_until(
        [&] { return run.senders_ready == opt.pairs && run.receivers_ready == opt.pairs; },
        2 * target.timeout + 30, kPoll);
    const long total = static_cast<long>(opt.pairs) * opt.messages;

    auto cpu0 = pid ? cpu_ms(pid) : std::nullopt;
    run.go_store = true;
    const double store_s = co_await timed([&] { return run.senders_done == opt.pairs; },
                                          [&](double t) {
                                              fmt::print(stderr, "offline: {:.0f} s: {} stored\n",
                                                         t, run.stored.load());
                                          },
                                          3600);
    auto cpu1 = pid ? cpu_ms(pid) : std::nullopt;
    fmt::print(stderr, "offline: {} of {} stored in {:.2f} s, {} bounced\n", run.stored.load(),
               total, store_s, run.bounced.load());

    run.go_deliver = true;
    const double deliver_s = co_await timed(
        [&] { return run.receivers_done == opt.pairs; },
        [&](double t) {
            fmt::print(stderr, "offline: {:.0f} s: {} delivered\n", t, run.delivered.load());
        },
        3600);
    auto cpu2 = pid ? cpu_ms(pid) : std::nullopt;
    co_await wait_until([&] { return run.senders_done == opt.pairs; }, 10, kPoll);
    co_await sleep_for(0.5);  // the close_stream() of the last ones
    run.failures.print();
    const bool server_alive = !pid || process_alive(pid);

    const long stored = run.stored, delivered = run.delivered;
    std::optional<double> store_us, deliver_us;
    if (cpu0 && cpu1 && stored > 0)
        store_us = (*cpu1 - *cpu0) * 1000.0 / static_cast<double>(stored);
    if (cpu1 && cpu2 && delivered > 0)
        deliver_us = (*cpu2 - *cpu1) * 1000.0 / static_cast<double>(delivered);
    fmt::print(
        "RESULT offline pairs={} messages={} window={} tls={} stored={} bounced={} "
        "delivered={} store_s={:.3f} stored_per_s={:.1f} server_cpu_us_per_store={} "
        "deliver_s={:.3f} delivered_per_s={:.1f} server_cpu_us_per_delivery={} "
        "server_alive={}\n",
        opt.pairs, opt.messages, opt.window,
        target.tls == TlsMode::none     ? "none"
        : target.tls == TlsMode::direct ? "direct"
                                        : "starttls",
        stored, run.bounced.load(), delivered, store_s,
        static_cast<double>(stored) / std::max(store_s, 1e-9), figure(store_us, 2), deliver_s,
        static_cast<double>(delivered) / std::max(deliver_s, 1e-9), figure(deliver_us, 2),
        server_alive ? "yes" : "no");
    const bool clean =
        stored == total && delivered == total && run.failures.total() == 0 && server_alive;
    co_return clean ? 0 : 1;
}

}  // namespace hongyan::bench
