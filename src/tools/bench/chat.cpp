// Scenarios "chat" and "paced": pairs of logged-in users who send each other chat messages
// addressed to the partner's bare JID, to measure messages delivered per second and the
// delivery latency. "chat" keeps a window of messages in flight per sender, so it finds
// the server's saturation rate; "paced" sends a fixed total rate, evenly spread, so it
// shows the latency under a steady load below saturation.
//
// The body of each message is the sender's steady-clock time in nanoseconds; sender and
// receiver are in this process, so the receiver's clock reading minus it is the latency.
#include <fmt/core.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <charconv>

#include "tools/bench/process_stats.hpp"
#include "tools/bench/runtime.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::bench {

namespace {

// How often wait_until() checks (message runs).
constexpr double kPoll = 0.02;

using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
        .count();
}

// One logged-in user of a pair. Both users of a pair live on one executor, so the reader
// of one can open the other's window without locks.
struct Chatter {
    explicit Chatter(asio::any_io_executor ex) : wake(ex), tick(ex) {}
    std::unique_ptr<ClientConnection> conn;
    std::string user;
    std::string partner_jid;  // bare, RFC 6121 §8.5.2
    Chatter* partner = nullptr;
    int sender_index = 0;  // 0 .. 2 * pairs - 1: the sender's phase in "paced"
    int in_flight = 0;     // sent by this user, neither received by the partner nor bounced
    std::uint64_t seq = 0;
    asio::steady_timer wake;           // the sender waits on it for room in its window
    asio::steady_timer tick;           // "paced": the sender waits on it for its next turn
    std::vector<double> latencies_ms;  // of messages this user received while measuring
};

struct Pair {
    explicit Pair(asio::any_io_executor e) : ex(e), a(e), b(e) {}
    asio::any_io_executor ex;
    Chatter a, b;
    bool active = false;  // both users logged in and available
};

struct ChatRun {
    ChatRun(const Target& t, const Accounts& a, const ChatOptions& o)
        : target(t),
          accounts(a),
          opt(o),
          name(o.rate > 0 ? "paced" : "chat"),
          failures(name, o.verbose),
          close_failures("close", o.verbose) {}

    const Target& target;
    const Accounts& accounts;
    const ChatOptions& opt;
    const char* name;
    const Clock::time_point epoch = Clock::now();  // "paced": every sender's turns count from it
    SaltedPasswordCache cache;
    std::vector<std::unique_ptr<Pair>> pairs;
    std::atomic<bool> measuring{false}, stopping{false};
    std::atomic<long> sent{0}, sent_measured{0}, delivered{0}, bounced{0}, in_flight{0};
    std::atomic<long> paced_late{0};  // "paced" turns that waited for room in the window
    std::atomic<int> set_up{0}, failed{0}, senders_done{0}, readers_done{0};
    std::atomic<int> closers_done{0}, destroyed{0};
    FailureLog failures, close_failures;
};

void append_message(std::string& out, Chatter& me) {
    // RFC 6121 §5.2.2: type='chat' to the bare JID; the server picks the partner's session.
    out += "<message type='chat' to='";
    out += me.partner_jid;
    out += "' id='m";
    out += std::to_string(++me.seq);
    out += "'><body>";
    out += std::to_string(now_ns());
    out += "</body></message>";
}

// A message of `sender` reached its partner, or came back as an error.
void settle(ChatRun& run, Chatter& sender) {
    --sender.in_flight;
    --run.in_flight;
    sender.wake.cancel();
}

asio::awaitable<void> wait_on(asio::steady_timer& t, Clock::time_point until) {
    t.expires_at(until);
    co_await t.async_wait(use_tuple);
}

asio::awaitable<void> send_window(ChatRun& run, Chatter& me) {
    const int window = run.opt.window;
    while (!run.stopping) {
        if (me.in_flight >= window) {
            co_await wait_on(me.wake, Clock::time_point::max());
            continue;
        }
        // Everything the window allows goes out in one write.
        std::string batch;
        int n = 0;
        for (; me.in_flight < window; ++n, ++me.in_flight) append_message(batch, me);
        run.in_flight += n;
        run.sent += n;
        if (run.measuring) run.sent_measured += n;
        Outcome w = co_await me.conn->send(std::move(batch), run.name);
        if (!w.ok()) {
            if (!run.stopping) run.failures.record(w, me.user);
            break;
        }
    }
    ++run.senders_done;
}

asio::awaitable<void> send_paced(ChatRun& run, Chatter& me) {
    // Sender j of 2P sends at epoch + j/R + k * 2P/R: all senders together send every 1/R s.
    const double senders = 2.0 * run.opt.pairs;
    const auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(senders / run.opt.rate));
    auto next = run.epoch + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(me.sender_index / run.opt.rate));
    if (auto now = Clock::now(); next < now) next += ((now - next) / interval + 1) * interval;
    while (!run.stopping) {
        co_await wait_on(me.tick, next);
        if (run.stopping) break;
        if (me.in_flight >= run.opt.window) {
            ++run.paced_late;
            while (me.in_flight >= run.opt.window && !run.stopping)
                co_await wait_on(me.wake, Clock::time_point::max());
            if (run.stopping) break;
        }
        std::string msg;
        append_message(msg, me);
        ++me.in_flight;
        ++run.in_flight;
        ++run.sent;
        if (run.measuring) ++run.sent_measured;
        Outcome w = co_await me.conn->send(std::move(msg), run.name);
        if (!w.ok()) {
            if (!run.stopping) run.failures.record(w, me.user);
            break;
        }
        next += interval;
    }
    ++run.senders_done;
}

asio::awaitable<void> read_messages(ChatRun& run, Chatter& me) {
    xml::Element el;
    for (;;) {
        Outcome r = co_await me.conn->receive(run.name, el);
        if (!r.ok()) {
            (run.stopping ? run.close_failures : run.failures).record(r, me.user);
            break;
        }
        if (el.name().empty()) break;          // the stream ended after request_close()
        if (el.name() != "message") continue;  // our own presence, as RFC 6121 §4.2.2 says
        if (el.attr("type") == "error") {
            ++run.bounced;
            run.failures.record(Outcome::failure(run.name, "message bounced", el.to_string()),
                                me.user);
            settle(run, me);
            continue;
        }
        const std::string body = el.child_text("body", ns::client);
        std::int64_t sent_ns = 0;
        auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), sent_ns);
        if (ec != std::errc() || end != body.data() + body.size()) continue;
        const double latency_ms = static_cast<double>(now_ns() - sent_ns) / 1e6;
        ++run.delivered;
        if (run.measuring) me.latencies_ms.push_back(latency_ms);
        settle(run, *me.partner);
    }
    ++run.readers_done;
}

// Makes `me` available (RFC 6121 §4.2: initial presence), without which no server
// delivers a message to the bare JID; the ping's answer (XEP-0199) shows the presence was
// handled, as a server handles one session's stanzas in order.
asio::awaitable<Outcome> become_available(ChatRun& run, Chatter& me) {
    Outcome r = co_await me.conn->send("<presence/><iq type='get' id='ready' to='" +
                                           xml::escape(run.target.domain) + "'><ping xmlns='" +
                                           std::string(ns::ping) + "'/></iq>",
                                       "presence");
    xml::Element el;
    while (r.ok()) {
        r = co_await me.conn->receive("presence", el);
        if (r.ok() && el.name() == "iq" && el.attr("id") == "ready") break;
    }
    co_return r;
}

asio::awaitable<void> set_up_pair(Runtime& rt, ChatRun& run, Pair& pair, int p) {
    const std::string domain = "@" + run.target.domain;
    Outcome r;
    for (int k = 0; k < 2 && r.ok(); ++k) {
        Chatter& me = k == 0 ? pair.a : pair.b;
        Chatter& other = k == 0 ? pair.b : pair.a;
        const auto i = static_cast<std::uint64_t>(2 * p + k);
        me.user = run.accounts.user(i);
        me.partner_jid = run.accounts.user(i ^ 1) + domain;
        me.partner = &other;
        me.sender_index = 2 * p + k;
        me.conn = std::make_unique<ClientConnection>(pair.ex, rt.tls(), run.target);
        me.conn->arm_deadline(run.target.timeout);
        r = co_await me.conn->log_in(run.target.source(i), me.user, run.accounts.password,
                                     "chat" + std::to_string(p), &run.cache);
        if (r.ok()) r = co_await become_available(run, me);
        me.conn->disarm_deadline();
        if (!r.ok()) run.failures.record(r, me.user);
    }
    if (!r.ok()) {
        for (Chatter* c : {&pair.a, &pair.b})
            if (c->conn) co_await c->conn->close_stream();
        ++run.failed;
        ++run.set_up;
        co_return;
    }
    pair.active = true;
    for (Chatter* c : {&pair.a, &pair.b}) {
        asio::co_spawn(pair.ex, read_messages(run, *c), asio::detached);
        asio::co_spawn(pair.ex, run.opt.rate > 0 ? send_paced(run, *c) : send_window(run, *c),
                       asio::detached);
    }
    ++run.set_up;
}

}  // namespace

asio::awaitable<int> run_chat(Runtime& rt, const Target& target, const Accounts& accounts,
                              const ChatOptions& opt) {
    ChatRun run(target, accounts, opt);
    const char* name = run.name;
    if (2 * opt.pairs > accounts.users) {
        fmt::print(stderr, "{}: {} pairs need {} accounts; --users is {}\n", name, opt.pairs,
                   2 * opt.pairs, accounts.users);
        co_return 2;
    }
    const int pid = opt.server_pid;
    const char* tls = target.tls == TlsMode::none     ? "none"
                      : target.tls == TlsMode::direct ? "direct"
                                                      : "starttls";
    if (opt.rate > 0)
        fmt::print(stderr,
                   "paced: {} pairs ({}0 .. {}{}) against {}:{}, {:.0f} messages/s in all "
                   "(window {}), for {} s (+{} s warm-up), tls={}\n",
                   opt.pairs, accounts.prefix, accounts.prefix, 2 * opt.pairs - 1,
                   target.host.to_string(), target.port_for_tls_mode(), opt.rate, opt.window,
                   opt.duration, opt.warmup, tls);
    else
        fmt::print(stderr,
                   "chat: {} pairs ({}0 .. {}{}) against {}:{}, window {} per sender, for {} s "
                   "(+{} s warm-up), tls={}\n",
                   opt.pairs, accounts.prefix, accounts.prefix, 2 * opt.pairs - 1,
                   target.host.to_string(), target.port_for_tls_mode(), opt.window, opt.duration,
                   opt.warmup, tls);

    for (int p = 0; p < opt.pairs; ++p)
        run.pairs.push_back(std::make_unique<Pair>(rt.next_executor()));
    for (int p = 0; p < opt.pairs; ++p)
        asio::co_spawn(run.pairs[static_cast<std::size_t>(p)]->ex,
                       set_up_pair(rt, run, *run.pairs[static_cast<std::size_t>(p)], p),
                       asio::detached);
    co_await wait_until([&] { return run.set_up == opt.pairs; }, 2 * target.timeout + 30, kPoll);
    if (run.set_up < opt.pairs) {
        fmt::print(stderr, "{}: {} pairs still logging in; giving up\n", name,
                   opt.pairs - run.set_up);
        co_return 1;  // their connections still need the event loop; leave without a report
    }
    const int active = opt.pairs - run.failed;
    fmt::print(stderr, "{}: {} pairs available, {} failed\n", name, active, run.failed.load());

    long measured = 0;
    double elapsed = 0;
    std::optional<double> cpu_start, cpu_end;
    double own_start = 0, own_end = 0;
    if (active > 0) {
        co_await sleep_for(opt.warmup);
        cpu_start = pid ? cpu_ms(pid) : std::nullopt;
        own_start = own_cpu_ms();
        const long delivered_start = run.delivered;
        auto start = Clock::now();
        run.measuring = true;
        for (double left = opt.duration; left > 0; left -= 5) {
            co_await sleep_for(std::min(left, 5.0));
            fmt::print(stderr, "{}: {:.0f} s: {} delivered, {} in flight, {} bounced\n", name,
                       seconds_since(start), run.delivered - delivered_start, run.in_flight.load(),
                       run.bounced.load());
        }
        run.measuring = false;
        elapsed = seconds_since(start);
        cpu_end = pid ? cpu_ms(pid) : std::nullopt;
        own_end = own_cpu_ms();
        measured = run.sent_measured;
    }

    // Stop the senders, let what is in flight arrive, then close every stream.
    run.stopping = true;
    for (auto& p : run.pairs) {
        if (!p->active) continue;
        asio::post(p->ex, [&pair = *p] {
            for (Chatter* c : {&pair.a, &pair.b}) {
                c->wake.cancel();
                c->tick.cancel();
            }
        });
    }
    co_await wait_until([&] { return run.senders_done == 2 * active; }, target.timeout, kPoll);
    co_await wait_until([&] { return run.in_flight == 0; }, 10, kPoll);
    const long lost = run.in_flight;
    if (lost) fmt::print(stderr, "{}: {} messages never arrived\n", name, lost);
    for (auto& p : run.pairs) {
        if (!p->active) continue;
        for (Chatter* c : {&p->a, &p->b})
            asio::co_spawn(p->ex, c->conn->request_close(),
                           [&run](std::exception_ptr) { ++run.closers_done; });
    }
    auto all_ended = [&] {
        return run.senders_done == 2 * active && run.readers_done == 2 * active &&
               run.closers_done == 2 * active;
    };
    if (!co_await wait_until(all_ended, 20, kPoll)) {
        fmt::print(stderr, "{}: connections still open after 20 s; dropping them\n", name);
        for (auto& p : run.pairs)
            asio::post(p->ex, [&pair = *p] {
                for (Chatter* c : {&pair.a, &pair.b})
                    if (c->conn) c->conn->abort();
            });
        if (!co_await wait_until(all_ended, 30, kPoll)) co_return 1;
    }
    run.failures.print();
    run.close_failures.print();
    bool server_alive = !pid || process_alive(pid);
    if (!server_alive) fmt::print(stderr, "{}: the server process {} is gone\n", name, pid);

    std::vector<double> all;
    for (auto& p : run.pairs)
        for (Chatter* c : {&p->a, &p->b})
            all.insert(all.end(), c->latencies_ms.begin(), c->latencies_ms.end());
    std::sort(all.begin(), all.end());
    // Connections and timers are destroyed on their own executors.
    for (auto& p : run.pairs)
        asio::post(p->ex, [&run, &p] {
            p.reset();
            ++run.destroyed;
        });
    co_await wait_until([&] { return run.destroyed == opt.pairs; }, 30, kPoll);

    const auto delivered = static_cast<long>(all.size());
    std::optional<double> server_us, own_us;
    if (cpu_start && cpu_end && delivered > 0)
        server_us = (*cpu_end - *cpu_start) * 1000.0 / static_cast<double>(delivered);
    if (delivered > 0) own_us = (own_end - own_start) * 1000.0 / static_cast<double>(delivered);
    const double secs = elapsed > 0 ? elapsed : 1;
    fmt::print(
        "RESULT {} pairs={} window={} rate={} duration_s={:.1f} tls={} failed={} sent={} "
        "delivered={} bounced={} lost={} late={} sent_per_s={:.1f} delivered_per_s={:.1f} "
        "p50_ms={:.3f} p90_ms={:.3f} p99_ms={:.3f} max_ms={:.3f} server_cpu_us_per_msg={} "
        "bench_cpu_us_per_msg={} server_alive={}\n",
        name, opt.pairs, opt.window, opt.rate > 0 ? figure(opt.rate, 0) : "-", elapsed, tls,
        run.failed.load(), measured, delivered, run.bounced.load(), lost, run.paced_late.load(),
        static_cast<double>(measured) / secs, static_cast<double>(delivered) / secs,
        percentile(all, 50), percentile(all, 90), percentile(all, 99),
        all.empty() ? 0.0 : all.back(), figure(server_us, 2), figure(own_us, 2),
        server_alive ? "yes" : "no");
    const bool clean = run.failed == 0 && run.bounced == 0 && lost == 0 &&
                       run.failures.total() == 0 && delivered > 0 && server_alive;
    co_return clean ? 0 : 1;
}

}  // namespace hongyan::bench
