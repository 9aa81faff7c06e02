// Scenario "everyone": a shared roster group that holds every account (hongyand's
// shared_groups.everyone, ejabberd's @all@), with N registered accounts of which O are
// online. It measures what such a group costs where it could grow with N or O:
//
//   1. login: O users log in, fetch the roster (N-1 items) and send initial presence;
//      login-to-roster-result time, roster bytes, server CPU per login, and whether every
//      online user got exactly one presence from each other one;
//   2. versioned fetch (RFC 6121 §2.6): after one new account registered, a new session of
//      <prefix>0 asks for the roster with the version it had: an empty result and one push;
//   3. registration: K accounts registered in-band (XEP-0077) one by one while the O users
//      are online: roster pushes per registration (one per online user), time from the
//      registration result to the last push, server CPU per registration (also measured
//      with nobody online, before the logins, for the difference);
//   4. presence: one more user (<prefix><O>) logs in and sends presence: time until each
//      online user has it, and until the newcomer has the presence of all O (probe answers).
//
// The accounts <prefix>0 .. <prefix><N-1> must exist (the "register" scenario creates
// them). The accounts this scenario registers get unique names and are cancelled in-band
// (XEP-0077 §3.2) at the end, so reruns see the same N.
#include <fmt/core.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <map>

#include "tools/bench/process_stats.hpp"
#include "tools/bench/runtime.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::bench {

namespace {

// How often wait_until() checks (push and presence timings need fine steps).
constexpr double kPoll = 0.005;

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

std::vector<double> sorted(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// The account number i of "<prefix><i>@<domain>[/resource]", or -1 for any other JID.
int member_index(std::string_view jid, const Accounts& accounts, const std::string& domain) {
    const auto at = jid.find('@');
    if (at == std::string_view::npos ||
        jid.substr(0, at).substr(0, accounts.prefix.size()) != accounts.prefix)
        return -1;
    auto rest = jid.substr(at + 1);
    if (rest.substr(0, domain.size()) != domain ||
        (rest.size() > domain.size() && rest[domain.size()] != '/'))
        return -1;
    const auto digits = jid.substr(accounts.prefix.size(), at - accounts.prefix.size());
    int i = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), i);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
        (digits.size() > 1 && digits[0] == '0') || i >= accounts.users)
        return -1;
    return i;
}

// One of the O online users. Its connection and everything but the atomics in EveryoneRun
// are touched only on its executor.
struct Member {
    explicit Member(asio::any_io_executor e) : ex(e) {}
    asio::any_io_executor ex;
    std::unique_ptr<ClientConnection> conn;
    int index = 0;
    std::string user;
    std::string roster_ver;
    std::vector<bool> seen;  // available presence from account i (of the online ones)
    bool got_watched = false;
    bool active = false;  // logged in, reader running
};

// What one roster get brought.
struct RosterFetch {
    bool empty_result = false;  // an iq result without <query/> (§2.6.3)
    int items = 0;
    int pushes = 0;  // roster pushes before the fence, for a versioned get
    std::string ver;
    std::uint64_t bytes = 0;          // from the get to the result (to the fence with pushes)
    double result_ms = 0;             // get sent .. result parsed
    double last_ms = 0;               // get sent .. last push (or the result) parsed
    long other_stanzas = 0;           // neither the result nor a push, before the result
    std::vector<std::string> pushed;  // JIDs of the pushed items
};

struct EveryoneRun {
    EveryoneRun(const Target& t, const Accounts& a, const EveryoneOptions& o)
        : target(t),
          accounts(a),
          opt(o),
          failures("everyone", o.verbose),
          close_failures("close", o.verbose) {}
    const Target& target;
    const Accounts& accounts;
    const EveryoneOptions& opt;
    SaltedPasswordCache cache;
    FailureLog failures, close_failures;
    std::vector<std::unique_ptr<Member>> members;
    std::atomic<int> next{0}, logins_done{0}, login_failed{0}, workers_done{0};
    std::atomic<int> readers_done{0}, closers_done{0}, destroyed{0};
    std::atomic<long> presences{0}, presences_distinct{0}, early_stanzas{0};
    std::atomic<long> unavailable{0}, other_pushes{0};
    std::atomic<int> watched{-1};  // account whose presence arrivals are timed (phase 4)
    std::atomic<bool> stopping{false};

    std::mutex mu;  // guards what follows
    std::vector<double> login_ms, roster_ms;
    std::uint64_t roster_bytes = 0;
    int roster_items_min = -1, roster_items_max = -1;
    // Bare JID of a pushed item -> (member index, arrival), for the new accounts.
    std::map<std::string, std::vector<std::pair<int, Clock::time_point>>> pushes;
    std::vector<Clock::time_point> watched_arrivals;
};

std::string roster_get_xml(const std::string& id, const std::optional<std::string>& ver) {
    std::string out =
        "<iq type='get' id='" + id + "'><query xmlns='" + std::string(ns::roster) + "'";
    if (ver) out += " ver='" + xml::escape(*ver) + "'";
    return out + "/></iq>";
}

// The item of a roster push (RFC 6121 §2.1.6), or nullptr.
const xml::Element* pushed_item(const xml::Element& el) {
    if (el.name() != "iq" || el.attr("type") != "set") return nullptr;
    const auto* q = el.child("query", ns::roster);
    return q ? q->child("item", ns::roster) : nullptr;
}

// A roster get, as a client that supports versioning sends it: ver='' without a cached
// roster, else the version it has. With `fence`, a ping follows the get and pushes are
// counted until its answer: the server answers a session's stanzas in order.
asio::awaitable<Outcome> fetch_roster(ClientConnection& conn, const std::string& domain,
                                      const std::optional<std::string>& ver, bool fence,
                                      RosterFetch& out) {
    std::string data = roster_get_xml("roster", ver);
    if (fence)
        data += "<iq type='get' id='fence' to='" + xml::escape(domain) + "'><ping xmlns='" +
                std::string(ns::ping) + "'/></iq>";
    const auto bytes_before = conn.bytes_received();
    const auto start = Clock::now();
    Outcome r = co_await conn.send(std::move(data), "roster get");
    bool have_result = false;
    xml::Element el;
    while (r.ok()) {
        r = co_await conn.receive("roster get", el);
        if (!r.ok()) break;
        const auto now = Clock::now();
        if (el.name() == "iq" && el.attr("id") == "roster") {
            if (el.attr("type") != "result") {
                co_return Outcome::failure("roster get", "error reply",
                                           el.to_string().substr(0, 300));
            }
            have_result = true;
            out.result_ms = out.last_ms = ms_between(start, now);
            out.bytes = conn.bytes_received() - bytes_before;
            const auto* q = el.child("query", ns::roster);
            out.empty_result = !q;
            if (q) {
                out.ver = std::string(q->attr("ver"));
                for (const auto* item : q->children())
                    if (item->name() == "item") ++out.items;
            }
            if (!fence) break;
            continue;
        }
        if (const auto* item = pushed_item(el); item && have_result) {
            ++out.pushes;
            out.pushed.emplace_back(item->attr("jid"));
            out.last_ms = ms_between(start, now);
            out.bytes = conn.bytes_received() - bytes_before;
            r = co_await conn.send("<iq type='result' id='" + xml::escape(el.attr("id")) + "'/>",
                                   "roster push");
            continue;
        }
        if (el.name() == "iq" && el.attr("id") == "fence") {
            if (!have_result) co_return Outcome::failure("roster get", "ping answered first");
            break;
        }
        if (!have_result) ++out.other_stanzas;
    }
    co_return r;
}

void note_presence(EveryoneRun& run, Member& me, const xml::Element& el, Clock::time_point now) {
    const int from = member_index(el.attr("from"), run.accounts, run.target.domain);
    if (from < 0 || from == me.index) return;  // our own presence comes back (§4.2.2)
    if (!el.attr("type").empty()) {
        if (el.attr("type") == "unavailable") ++run.unavailable;
        return;
    }
    ++run.presences;
    if (from == run.watched.load()) {
        if (!me.got_watched) {
            me.got_watched = true;
            std::lock_guard lock(run.mu);
            run.watched_arrivals.push_back(now);
        }
        return;
    }
    if (from < static_cast<int>(me.seen.size()) && !me.seen[static_cast<std::size_t>(from)]) {
        me.seen[static_cast<std::size_t>(from)] = true;
        ++run.presences_distinct;
    }
}

// Everything an online user receives once logged in: presences and roster pushes, which
// it answers as a client should (RFC 6121 §2.1.6).
asio::awaitable<void> read_stanzas(EveryoneRun& run, Member& me) {
    xml::Element el;
    for (;;) {
        Outcome r = co_await me.conn->receive("online", el);
        if (!r.ok()) {
            (run.stopping ? run.close_failures : run.failures).record(r, me.user);
            break;
        }
        if (el.name().empty()) break;  // the stream ended after request_close()
        const auto now = Clock::now();
        if (el.name() == "presence") {
            note_presence(run, me, el, now);
            continue;
        }
        const auto* item = pushed_item(el);
        if (!item) continue;
        const std::string jid(item->attr("jid"));
        if (member_index(jid, run.accounts, run.target.domain) >= 0) {
            ++run.other_pushes;
        } else {
            std::lock_guard lock(run.mu);
            run.pushes[jid].emplace_back(me.index, now);
        }
        Outcome w = co_await me.conn->send(
            "<iq type='result' id='" + xml::escape(el.attr("id")) + "'/>", "roster push");
        if (!w.ok()) {
            if (!run.stopping) run.failures.record(w, me.user);
            break;
        }
    }
    ++run.readers_done;
}

asio::awaitable<void> login_worker(Runtime& rt, EveryoneRun& run) {
    auto ex = co_await asio::this_coro::executor;
    for (;;) {
        const int i = run.next++;
        if (i >= run.opt.online) break;
        auto& me = *run.members[static_cast<std::size_t>(i)];
        me.ex = ex;
        me.index = i;
        me.user = run.accounts.user(static_cast<std::uint64_t>(i));
        me.seen.assign(static_cast<std::size_t>(run.opt.online), false);
        me.conn = std::make_unique<ClientConnection>(ex, rt.tls(), run.target);
        me.conn->arm_deadline(run.target.timeout);
        const auto start = Clock::now();
        Outcome r =
            co_await me.conn->log_in(run.target.source(static_cast<std::uint64_t>(i)), me.user,
                                     run.accounts.password, "everyone", &run.cache);
        RosterFetch f;
        if (r.ok()) r = co_await fetch_roster(*me.conn, run.target.domain, "", false, f);
        const double login_ms = ms_between(start, Clock::now());
        // RFC 6121 §4.2: initial presence, after the roster as clients do it.
        if (r.ok()) r = co_await me.conn->send("<presence/>", "presence");
        me.conn->disarm_deadline();
        if (!r.ok()) {
            run.failures.record(r, me.user);
            ++run.login_failed;
            co_await me.conn->close_stream();
            ++run.logins_done;
            continue;
        }
        me.roster_ver = f.ver;
        run.early_stanzas += f.other_stanzas;
        {
            std::lock_guard lock(run.mu);
            run.login_ms.push_back(login_ms);
            run.roster_ms.push_back(f.result_ms);
            run.roster_bytes = std::max(run.roster_bytes, f.bytes);
            run.roster_items_min =
                run.roster_items_min < 0 ? f.items : std::min(run.roster_items_min, f.items);
            run.roster_items_max = std::max(run.roster_items_max, f.items);
        }
        me.active = true;
        asio::co_spawn(ex, read_stanzas(run, me), asio::detached);
        ++run.logins_done;
    }
    ++run.workers_done;
}

// In-band registration of `user` on a connection of its own; the time its result arrived.
asio::awaitable<std::optional<Clock::time_point>> register_one(Runtime& rt, EveryoneRun& run,
                                                               const std::string& user) {
    ClientConnection conn(co_await asio::this_coro::executor, rt.tls(), run.target);
    conn.arm_deadline(run.target.timeout);
    bool existed = false;
    Outcome r =
        co_await conn.register_account(run.target.source(0), user, run.accounts.password, existed);
    const auto done = Clock::now();
    conn.disarm_deadline();
    if (r.ok() && existed) r = Outcome::failure("register", "the account exists already");
    if (!r.ok()) {
        run.failures.record(r, user);
        co_return std::nullopt;
    }
    co_await conn.close_stream();
    co_return done;
}

// XEP-0077 §3.2: the account cancels itself. True when the server said so.
asio::awaitable<bool> cancel_account(Runtime& rt, EveryoneRun& run, const std::string& user) {
    ClientConnection conn(co_await asio::this_coro::executor, rt.tls(), run.target);
    conn.arm_deadline(run.target.timeout);
    Outcome r =
        co_await conn.log_in(run.target.source(0), user, run.accounts.password, "cancel", nullptr);
    if (r.ok())
        r = co_await conn.send("<iq type='set' id='cancel'><query xmlns='" +
                                   std::string(ns::register_) + "'><remove/></query></iq>",
                               "cancel");
    xml::Element el;
    while (r.ok()) {
        r = co_await conn.receive("cancel", el);
        if (r.ok() && el.name() == "iq" && el.attr("id") == "cancel") {
            if (el.attr("type") != "result")
                r = Outcome::failure("cancel", "error reply", el.to_string().substr(0, 300));
            break;
        }
    }
    conn.disarm_deadline();
    if (!r.ok()) {
        run.failures.record(r, user);
        co_return false;
    }
    co_await conn.close_stream(2.0);  // the server ends the stream itself (§3.2)
    co_return true;
}

// Pushes received for `jid`: in all, and by how many distinct online users.
std::pair<int, int> push_counts(EveryoneRun& run, const std::string& jid) {
    std::lock_guard lock(run.mu);
    auto it = run.pushes.find(jid);
    if (it == run.pushes.end()) return {0, 0};
    std::vector<int> who;
    for (const auto& [m, t] : it->second) who.push_back(m);
    std::sort(who.begin(), who.end());
    const auto distinct = std::unique(who.begin(), who.end()) - who.begin();
    return {static_cast<int>(it->second.size()), static_cast<int>(distinct)};
}

std::optional<Clock::time_point> last_push(EveryoneRun& run, const std::string& jid) {
    std::lock_guard lock(run.mu);
    auto it = run.pushes.find(jid);
    if (it == run.pushes.end() || it->second.empty()) return std::nullopt;
    Clock::time_point last = it->second.front().second;
    for (const auto& [m, t] : it->second) last = std::max(last, t);
    return last;
}

}  // namespace

asio::awaitable<int> run_everyone(Runtime& rt, const Target& target, const Accounts& accounts,
                                  const EveryoneOptions& opt) {
    EveryoneRun run(target, accounts, opt);
    const int n = accounts.users, online = opt.online, k_regs = opt.registrations;
    const int pid = opt.server_pid;
    if (online + 1 > n) {
        fmt::print(stderr,
                   "everyone: {} online users and one more need {} accounts; --users is {}\n",
                   online, online + 1, n);
        co_return 2;
    }
    const char* tls = target.tls == TlsMode::none     ? "none"
                      : target.tls == TlsMode::direct ? "direct"
                                                      : "starttls";
    fmt::print(stderr,
               "everyone: {} accounts ({}0 .. {}{}), {} online, {} registrations, against {}:{}, "
               "tls={}\n",
               n, accounts.prefix, accounts.prefix, n - 1, online, k_regs, target.host.to_string(),
               target.port_for_tls_mode(), tls);
    auto cpu_now = [pid] { return pid ? cpu_ms(pid) : std::nullopt; };
    auto cpu_diff = [](std::optional<double> a, std::optional<double> b,
                       double per) -> std::optional<double> {
        if (!a || !b || per <= 0) return std::nullopt;
        return (*b - *a) / per;
    };
    // Unique per run, so an interrupted run leaves no name a later one would trip over.
    const std::string new_prefix = accounts.prefix + "new" + std::to_string(std::time(nullptr));
    std::vector<std::string> created;

    // 0. Registrations with nobody online: the cost without pushes.
    std::optional<double> cpu_reg_offline;
    {
        const auto c0 = cpu_now();
        int ok = 0;
        for (int k = 0; k < k_regs; ++k) {
            const std::string user = new_prefix + "off" + std::to_string(k);
            if (co_await register_one(rt, run, user)) {
                created.push_back(user);
                ++ok;
            }
        }
        cpu_reg_offline = cpu_diff(c0, cpu_now(), ok);
        // Gone again before the logins, so they fetch N - 1 items.
        for (const auto& user : created) co_await cancel_account(rt, run, user);
        created.clear();
    }

    // 1. O logins: roster, then initial presence.
    for (int i = 0; i < online; ++i)
        run.members.push_back(std::make_unique<Member>(rt.main_context().get_executor()));
    const auto cpu_login_start = cpu_now();
    const double own_login_start = own_cpu_ms();
    const auto login_start = Clock::now();
    const int workers = std::min(opt.concurrency, online);
    for (int w = 0; w < workers; ++w)
        asio::co_spawn(rt.next_executor(), login_worker(rt, run), asio::detached);
    auto last_report = Clock::now();
    while (run.workers_done < workers) {
        co_await sleep_for(0.05);
        if (seconds_since(last_report) >= 5) {
            last_report = Clock::now();
            fmt::print(stderr, "everyone: {} logged in, {} failed, {} presences\n",
                       run.logins_done - run.login_failed, run.login_failed.load(),
                       run.presences.load());
        }
    }
    const double logins_s = seconds_since(login_start);
    const int active = online - run.login_failed;
    // Every online user should get the presence of every other one, once.
    const long expected_presences = static_cast<long>(active) * (active - 1);
    co_await wait_until([&] { return run.presences_distinct >= expected_presences; },
                        opt.settle_limit, kPoll);
    const double settle_s = seconds_since(login_start);
    const auto login_cpu = cpu_diff(cpu_login_start, cpu_now(), active);
    const auto own_login_cpu =
        active > 0 ? std::optional<double>((own_cpu_ms() - own_login_start) / active)
                   : std::nullopt;
    co_await sleep_for(0.5);  // late duplicates
    const long presences_missing = expected_presences - run.presences_distinct;
    const long presences_extra = run.presences - run.presences_distinct;
    fmt::print(stderr,
               "everyone: {} logged in in {:.1f} s, presences settled at {:.1f} s: {} of {} "
               "({} more)\n",
               active, logins_s, settle_s, run.presences_distinct.load(), expected_presences,
               presences_extra);
    if (active == 0 || run.roster_items_min < n - 1) {
        if (active > 0)
            fmt::print(stderr,
                       "everyone: the roster has {} items, not {}; register the accounts first "
                       "(hongyan-bench register --users {}) and enable the everyone group\n",
                       run.roster_items_min, n - 1, n);
    }

    // 2. Versioned fetch: <prefix>0's version, one registration, a new session of it.
    RosterFetch ver_fetch;
    std::string ver_outcome = "-";
    int ver_push_count = 0;
    if (active == online && run.roster_items_min >= n - 1) {
        const std::string user = new_prefix + "v";
        const auto reg = co_await register_one(rt, run, user);
        if (reg) {
            created.push_back(user);
            const std::string jid = user + "@" + target.domain;
            co_await wait_until([&] { return push_counts(run, jid).second >= active; },
                                opt.push_limit, kPoll);
            ver_push_count = push_counts(run, jid).first;
            ClientConnection conn(rt.main_context().get_executor(), rt.tls(), target);
            conn.arm_deadline(target.timeout);
            Outcome r = co_await conn.log_in(target.source(0), accounts.user(0), accounts.password,
                                             "versioned", &run.cache);
            if (r.ok())
                r = co_await fetch_roster(conn, target.domain, run.members[0]->roster_ver, true,
                                          ver_fetch);
            conn.disarm_deadline();
            if (!r.ok()) {
                run.failures.record(r, accounts.user(0) + "/versioned");
                ver_outcome = "failed";
            } else {
                ver_outcome = ver_fetch.empty_result ? "empty" : "full";
                if (ver_fetch.pushed.size() == 1 && ver_fetch.pushed[0] != jid)
                    ver_outcome = "wrong-push";
            }
            co_await conn.close_stream();
        }
    }

    // 3. K registrations with the O users online, one by one.
    std::vector<double> reg_ms;
    int reg_ok = 0, reg_pushes_min = -1, reg_pushes_max = -1, reg_missing = 0;
    std::optional<double> cpu_reg;
    if (active > 0) {
        // One CPU reading around all K: /proc counts in clock ticks (10 ms).
        const auto c0 = cpu_now();
        std::vector<std::string> jids;
        for (int k = 0; k < k_regs; ++k) {
            const std::string user = new_prefix + "on" + std::to_string(k);
            const std::string jid = user + "@" + target.domain;
            const auto reg = co_await register_one(rt, run, user);
            if (!reg) continue;
            created.push_back(user);
            jids.push_back(jid);
            co_await wait_until([&] { return push_counts(run, jid).second >= active; },
                                opt.push_limit, kPoll);
            ++reg_ok;
            if (auto last = last_push(run, jid)) reg_ms.push_back(ms_between(*reg, *last));
        }
        cpu_reg = cpu_diff(c0, cpu_now(), reg_ok);
        co_await sleep_for(0.5);  // late duplicates
        for (const auto& jid : jids) {
            auto [all, distinct] = push_counts(run, jid);
            reg_pushes_min = reg_pushes_min < 0 ? all : std::min(reg_pushes_min, all);
            reg_pushes_max = std::max(reg_pushes_max, all);
            reg_missing += active - distinct;
        }
    }

    // 4. One more user logs in, fetches the roster and sends presence.
    std::vector<double> fanout_ms;
    std::optional<double> probes_ms, cpu_fanout, cpu_roster_get;
    RosterFetch newcomer_fetch;
    int probes = 0;
    long unavailable = 0;  // before anyone logs off: there should be none
    if (active > 0) {
        const int index = online;
        run.watched = index;
        const std::string user = accounts.user(static_cast<std::uint64_t>(index));
        ClientConnection conn(rt.main_context().get_executor(), rt.tls(), target);
        conn.arm_deadline(target.timeout);
        Outcome r = co_await conn.log_in(target.source(static_cast<std::uint64_t>(index)), user,
                                         accounts.password, "newcomer", &run.cache);
        // Roster gets on their own first: the server CPU of one full fetch.
        const auto c0 = cpu_now();
        for (int g = 0; g < opt.roster_gets && r.ok(); ++g) {
            newcomer_fetch = RosterFetch{};
            r = co_await fetch_roster(conn, target.domain, "", false, newcomer_fetch);
        }
        cpu_roster_get = cpu_diff(c0, cpu_now(), opt.roster_gets);
        const auto c1 = cpu_now();
        const auto sent = Clock::now();
        if (r.ok()) r = co_await conn.send("<presence/>", "presence");
        std::vector<bool> seen(static_cast<std::size_t>(online), false);
        xml::Element el;
        while (r.ok() && probes < active) {
            r = co_await conn.receive("presence", el);
            if (!r.ok() || el.name() != "presence" || !el.attr("type").empty()) continue;
            const int from = member_index(el.attr("from"), accounts, target.domain);
            if (from < 0 || from >= online || seen[static_cast<std::size_t>(from)]) continue;
            seen[static_cast<std::size_t>(from)] = true;
            if (++probes == active) probes_ms = ms_between(sent, Clock::now());
        }
        conn.disarm_deadline();
        if (!r.ok()) run.failures.record(r, user);
        auto arrived = [&] {
            std::lock_guard lock(run.mu);
            return static_cast<int>(run.watched_arrivals.size());
        };
        co_await wait_until([&] { return arrived() >= active; }, opt.push_limit, kPoll);
        cpu_fanout = cpu_diff(c1, cpu_now(), 1);
        {
            std::lock_guard lock(run.mu);
            for (auto t : run.watched_arrivals) fanout_ms.push_back(ms_between(sent, t));
        }
        unavailable = run.unavailable;
        co_await conn.close_stream();
    }

    // Close the online users, then cancel the accounts this run made.
    run.stopping = true;
    for (auto& m : run.members) {
        if (!m->active) continue;
        asio::co_spawn(m->ex, m->conn->request_close(),
                       [&run](std::exception_ptr) { ++run.closers_done; });
    }
    auto all_ended = [&] { return run.readers_done == active && run.closers_done == active; };
    if (!co_await wait_until(all_ended, 20, kPoll)) {
        fmt::print(stderr, "everyone: connections still open after 20 s; dropping them\n");
        for (auto& m : run.members)
            asio::post(m->ex, [&m] {
                if (m->conn) m->conn->abort();
            });
        if (!co_await wait_until(all_ended, 30, kPoll)) co_return 1;
    }
    int cancelled = 0;
    for (const auto& user : created) cancelled += co_await cancel_account(rt, run, user) ? 1 : 0;
    for (auto& m : run.members)
        asio::post(m->ex, [&run, &m] {
            m.reset();
            ++run.destroyed;
        });
    co_await wait_until([&] { return run.destroyed == online; }, 30, kPoll);

    run.failures.print();
    run.close_failures.print();
    const bool server_alive = !pid || process_alive(pid);
    if (!server_alive) fmt::print(stderr, "everyone: the server process {} is gone\n", pid);

    const auto login = sorted(run.login_ms), roster = sorted(run.roster_ms);
    const auto regs = sorted(reg_ms), fanout = sorted(fanout_ms);
    fmt::print(
        "RESULT everyone users={} online={} tls={} concurrency={} failed={} roster_items={} "
        "roster_bytes={} login_p50_ms={:.2f} login_p99_ms={:.2f} roster_p50_ms={:.2f} "
        "roster_p99_ms={:.2f} logins_s={:.1f} settle_s={:.1f} server_cpu_ms_per_login={} "
        "bench_cpu_ms_per_login={} presences={} presences_missing={} presences_extra={} "
        "early_stanzas={} ver_result={} ver_pushes={} ver_bytes={} ver_ms={:.2f} "
        "ver_reg_pushes={} registrations={} reg_pushes_min={} reg_pushes_max={} "
        "reg_missing={} reg_p50_ms={:.2f} reg_p99_ms={:.2f} server_cpu_ms_per_reg={} "
        "server_cpu_ms_per_reg_offline={} newcomer_roster_ms={:.2f} "
        "server_cpu_ms_per_roster_get={} fanout_received={} fanout_p50_ms={:.2f} "
        "fanout_p99_ms={:.2f} fanout_max_ms={:.2f} server_cpu_ms_fanout={} probes={} "
        "probes_all_ms={} other_pushes={} unavailable={} cancelled={} server_alive={}\n",
        n, online, tls, workers, run.login_failed.load(), run.roster_items_min, run.roster_bytes,
        percentile(login, 50), percentile(login, 99), percentile(roster, 50),
        percentile(roster, 99), logins_s, settle_s, figure(login_cpu, 3), figure(own_login_cpu, 3),
        run.presences_distinct.load(), presences_missing, presences_extra, run.early_stanzas.load(),
        ver_outcome, ver_fetch.pushes, ver_fetch.bytes, ver_fetch.last_ms, ver_push_count, reg_ok,
        reg_pushes_min, reg_pushes_max, reg_missing, percentile(regs, 50), percentile(regs, 99),
        figure(cpu_reg, 2), figure(cpu_reg_offline, 2), newcomer_fetch.result_ms,
        figure(cpu_roster_get, 3), fanout.size(), percentile(fanout, 50), percentile(fanout, 99),
        fanout.empty() ? 0.0 : fanout.back(), figure(cpu_fanout, 1), probes, figure(probes_ms, 2),
        run.other_pushes.load(), unavailable, cancelled, server_alive ? "yes" : "no");
    // Duplicate presences (presences_extra) are reported, not failed: presence is a state,
    // and a client that gets it twice shows the same.
    const bool clean = run.failures.total() == 0 && active == online && presences_missing == 0 &&
                       ver_outcome == "empty" && ver_fetch.pushes == 1 && reg_ok == k_regs &&
                       reg_missing == 0 && reg_pushes_max == active &&
                       static_cast<int>(fanout.size()) == active && probes == active &&
                       server_alive;
    co_return clean ? 0 : 1;
}

}  // namespace hongyan::bench
