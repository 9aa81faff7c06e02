// Scenario "roster": one user with a large roster fetches it again and again, to measure
// what a roster get (RFC 6121 §2.1.3) costs: round-trip time, size of the result and
// server CPU per fetch. The roster is filled first, with roster sets, when it is short.
#include <fmt/core.h>

#include <algorithm>
#include <set>

#include "tools/bench/process_stats.hpp"
#include "tools/bench/runtime.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::bench {

namespace {

using Clock = std::chrono::steady_clock;
// RFC 6121 §2. Kept here rather than in xmpp/namespaces.hpp while the server's roster
// module is being written beside this.
constexpr std::string_view kRosterNs = "jabber:iq:roster";
// Roster sets sent before waiting for an answer, while filling the roster.
constexpr int kSetWindow = 32;

std::string contact_jid(int k, const std::string& domain) {
    return "contact" + std::to_string(k) + "@" + domain;
}

struct RosterSession {
    RosterSession(ClientConnection& c, const Target& t, FailureLog& f, std::string u)
        : conn(c), target(t), failures(f), user(std::move(u)) {}
    ClientConnection& conn;
    const Target& target;
    FailureLog& failures;
    std::string user;  // who failures are recorded for
    int next_id = 0;

    // Answers a roster push (RFC 6121 §2.1.6) as a client should; true when `el` was one.
    asio::awaitable<bool> answer_push(const xml::Element& el) {
        if (el.name() != "iq" || el.attr("type") != "set") co_return false;
        co_await conn.send("<iq type='result' id='" + xml::escape(el.attr("id")) + "'/>",
                           "roster push");
        co_return true;
    }

    // The answer to iq `id`: nullopt when the connection failed (recorded), else the iq.
    asio::awaitable<std::optional<xml::Element>> reply_to(const std::string& id, const char* step) {
        xml::Element el;
        for (;;) {
            Outcome r = co_await conn.receive(step, el);
            if (!r.ok()) {
                failures.record(r, user);
                co_return std::nullopt;
            }
            if (el.name() == "iq" && el.attr("id") == id &&
                (el.attr("type") == "result" || el.attr("type") == "error"))
                co_return std::move(el);
            co_await answer_push(el);
        }
    }

    // One roster get; the items' JIDs go to `jids` when given. nullopt on failure (recorded).
    asio::awaitable<std::optional<int>> fetch(std::set<std::string>* jids) {
        const std::string id = "get" + std::to_string(++next_id);
        Outcome w = co_await conn.send(
            "<iq type='get' id='" + id + "'><query xmlns='" + std::string(kRosterNs) + "'/></iq>",
            "roster get");
        if (!w.ok()) {
            failures.record(w, user);
            co_return std::nullopt;
        }
        auto reply = co_await reply_to(id, "roster get");
        if (!reply) co_return std::nullopt;
        const xml::Element* query = reply->child("query", kRosterNs);
        if (reply->attr("type") != "result" || !query) {
            failures.record(
                Outcome::failure("roster get", "error reply", reply->to_string().substr(0, 300)),
                user);
            co_return std::nullopt;
        }
        int items = 0;
        for (const auto* item : query->children()) {
            if (item->name() != "item") continue;
            ++items;
            if (jids) jids->insert(std::string(item->attr("jid")));
        }
        co_return items;
    }

    // Adds the contacts 0 .. n-1 that are not in `have`, kSetWindow sets at a time
    // (RFC 6121 §2.3). Returns how many were added.
    asio::awaitable<std::optional<int>> fill(int n, const std::set<std::string>& have) {
        std::vector<int> missing;
        for (int k = 0; k < n; ++k)
            if (!have.count(contact_jid(k, target.domain))) missing.push_back(k);
        std::size_t next = 0;
        int outstanding = 0, added = 0;
        xml::Element el;
        while (next < missing.size() || outstanding > 0) {
            std::string batch;
            for (; next < missing.size() && outstanding < kSetWindow; ++next, ++outstanding) {
                const int k = missing[next];
                batch += "<iq type='set' id='set" + std::to_string(k) + "'><query xmlns='" +
                         std::string(kRosterNs) + "'><item jid='" + contact_jid(k, target.domain) +
                         "' name='Contact " + std::to_string(k) +
                         "'><group>Friends</group></item></query></iq>";
            }
            if (!batch.empty()) {
                Outcome w = co_await conn.send(std::move(batch), "roster set");
                if (!w.ok()) {
                    failures.record(w, user);
                    co_return std::nullopt;
                }
            }
            conn.arm_deadline(target.timeout);  // progress resets the clock
            Outcome r = co_await conn.receive("roster set", el);
            if (!r.ok()) {
                failures.record(r, user);
                co_return std::nullopt;
            }
            if (co_await answer_push(el)) continue;
            if (el.name() != "iq" || el.attr("id").substr(0, 3) != "set") continue;
            --outstanding;
            if (el.attr("type") == "result") {
                ++added;
                continue;
            }
            failures.record(
                Outcome::failure("roster set", "error reply", el.to_string().substr(0, 300)),
                user + " (" + std::string(el.attr("id")) + ")");
            co_return std::nullopt;
        }
        co_return added;
    }
};

}  // namespace

asio::awaitable<int> run_roster(Runtime& rt, const Target& target, const Accounts& accounts,
                                const RosterOptions& opt) {
    FailureLog failures("roster", opt.verbose);
    const std::string user = accounts.user(0);
    const int pid = opt.server_pid;
    fmt::print(stderr, "roster: {} on {}:{}, {} items, {} fetches\n", user, target.host.to_string(),
               target.port_for_tls_mode(), opt.items, opt.fetches);

    ClientConnection conn(rt.main_context().get_executor(), rt.tls(), target);
    SaltedPasswordCache cache;
    conn.arm_deadline(target.timeout);
    Outcome r = co_await conn.log_in(target.source(0), user, accounts.password, "roster", &cache);
    if (!r.ok()) {
        failures.record(r, user);
        failures.print();
        co_return 1;
    }
    RosterSession session(conn, target, failures, user);

    // Fill the roster only when a fetch shows it short, so reruns measure the same roster.
    std::set<std::string> have;
    auto items = co_await session.fetch(&have);
    int added = 0;
    auto fill_start = Clock::now();
    if (items && *items < opt.items) {
        fmt::print(stderr, "roster: {} items; adding up to {}\n", *items, opt.items);
        auto n = co_await session.fill(opt.items, have);
        added = n.value_or(0);
        conn.arm_deadline(target.timeout);
        items = n ? co_await session.fetch(nullptr) : std::nullopt;
        if (items)
            fmt::print(stderr, "roster: added {} items in {:.1f} s; the roster has {}\n", added,
                       seconds_since(fill_start), *items);
    }

    std::vector<double> rtt_ms;         // get sent .. reply parsed
    std::vector<double> first_byte_ms;  // get sent .. first bytes of the reply read
    std::uint64_t bytes = 0;
    std::optional<double> cpu_start, cpu_end;
    double own_start = 0, own_end = 0;
    if (items) {
        cpu_start = pid ? cpu_ms(pid) : std::nullopt;
        own_start = own_cpu_ms();
        for (int f = 0; f < opt.fetches; ++f) {
            conn.arm_deadline(target.timeout);
            const auto bytes_before = conn.bytes_received();
            auto start = Clock::now();
            conn.mark_reads();
            auto got = co_await session.fetch(nullptr);
            if (!got) break;
            rtt_ms.push_back(seconds_since(start) * 1000.0);
            first_byte_ms.push_back(
                std::chrono::duration<double, std::milli>(*conn.first_read_at() - start).count());
            bytes = conn.bytes_received() - bytes_before;
            items = got;
        }
        cpu_end = pid ? cpu_ms(pid) : std::nullopt;
        own_end = own_cpu_ms();
    }
    conn.disarm_deadline();
    co_await conn.close_stream();
    failures.print();
    bool server_alive = !pid || process_alive(pid);
    if (!server_alive) fmt::print(stderr, "roster: the server process {} is gone\n", pid);

    const auto fetches = static_cast<double>(rtt_ms.size());
    std::optional<double> server_ms, own_ms;
    if (cpu_start && cpu_end && fetches > 0) server_ms = (*cpu_end - *cpu_start) / fetches;
    if (fetches > 0) own_ms = (own_end - own_start) / fetches;
    std::vector<double> sorted = rtt_ms;
    std::sort(sorted.begin(), sorted.end());
    std::sort(first_byte_ms.begin(), first_byte_ms.end());
    fmt::print(
        "RESULT roster tls={} items={} added={} fetches={} result_bytes={} p50_ms={:.3f} "
        "p90_ms={:.3f} p99_ms={:.3f} max_ms={:.3f} first_byte_p50_ms={:.3f} "
        "first_byte_p99_ms={:.3f} server_cpu_ms_per_fetch={} bench_cpu_ms_per_fetch={} "
        "server_alive={}\n",
        target.tls == TlsMode::none     ? "none"
        : target.tls == TlsMode::direct ? "direct"
                                        : "starttls",
        items ? std::to_string(*items) : "-", added, rtt_ms.size(), bytes, percentile(sorted, 50),
        percentile(sorted, 90), percentile(sorted, 99), sorted.empty() ? 0.0 : sorted.back(),
        percentile(first_byte_ms, 50), percentile(first_byte_ms, 99), figure(server_ms, 3),
        figure(own_ms, 3), server_alive ? "yes" : "no");
    const bool clean = failures.total() == 0 && items && *items >= opt.items &&
                       static_cast<int>(rtt_ms.size()) == opt.fetches && server_alive;
    co_return clean ? 0 : 1;
}

}  // namespace hongyan::bench
