// hongyan-bench: the project's load generator. Talks XMPP to a server on this machine
// (127.0.0.0/8 only) and reports figures that compare servers: memory per idle session,
// logins per second and server CPU per login, messages delivered per second and their
// latency, the cost of a roster fetch, what an everyone group costs. See docs/benchmarks.md.
#include <signal.h>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <boost/asio/co_spawn.hpp>

#include <map>

#include "tools/bench/process_stats.hpp"
#include "tools/bench/runtime.hpp"

using namespace hongyan::bench;

namespace {

struct Common {
    std::string host = "127.0.0.1";
    std::string tls = "starttls";
    std::string mechanism = "SCRAM-SHA-1";
    int threads = 1;
    bool verbose = false;
};

void add_common(CLI::App& cmd, Common& c, Target& t, Accounts& a) {
    cmd.add_option("--host", c.host, "Server address; must be in 127.0.0.0/8")
        ->capture_default_str();
    cmd.add_option("--port", t.port, "Plain/STARTTLS client port")->capture_default_str();
    cmd.add_option("--tls-port", t.tls_port, "Direct TLS client port (--tls direct)")
        ->capture_default_str();
    cmd.add_option("--domain", t.domain, "XMPP domain of the accounts")->capture_default_str();
    cmd.add_option("--tls", c.tls, "starttls, direct or none (none needs a server that allows it)")
        ->check(CLI::IsMember({"starttls", "direct", "none"}))
        ->capture_default_str();
    cmd.add_option("--mechanism", c.mechanism, "SASL mechanism")
        ->check(CLI::IsMember({"SCRAM-SHA-1", "SCRAM-SHA-256"}))
        ->capture_default_str();
    cmd.add_option("--users", a.users,
                   "Accounts <prefix>0 .. <prefix><users-1>; connection i uses i % users")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    cmd.add_option("--user-prefix", a.prefix, "Account name prefix")->capture_default_str();
    cmd.add_option("--password", a.password, "Password of every account")->capture_default_str();
    cmd.add_option("--sources", t.sources, "Bind client sockets to 127.0.0.1 .. 127.0.0.<K>")
        ->check(CLI::Range(1, 254))
        ->capture_default_str();
    cmd.add_option("--timeout", t.timeout, "Seconds one connection may take to log in or register")
        ->check(CLI::Range(1.0, 600.0))
        ->capture_default_str();
    cmd.add_option("--threads", c.threads, "Client event-loop threads")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    cmd.add_flag("-v,--verbose", c.verbose, "Print every failure as it happens");
}

}  // namespace

int main(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);
    CLI::App app{
        "hongyan-bench — XMPP load generator for servers on this machine (127.0.0.0/8). "
        "Each run is bounded in connections and time and prints one 'RESULT ...' line."};
    app.require_subcommand(1);

    Common common;
    Target target;
    Accounts accounts;
    IdleOptions idle;
    LoginRateOptions login;
    RegisterOptions reg;
    ChatOptions chat;
    ChatOptions paced;
    paced.rate = 2000;
    paced.window = 100;
    RosterOptions roster;
    OfflineOptions offline;
    // "everyone" counts its accounts apart: its default N is the size of a company.
    Accounts everyone_accounts;
    everyone_accounts.users = 10000;
    EveryoneOptions everyone;

    auto* idle_cmd = app.add_subcommand(
        "idle", "Open N sessions, keep them idle, report server memory per session");
    add_common(*idle_cmd, common, target, accounts);
    idle_cmd->add_option("-n,--connections", idle.connections, "Sessions to open")
        ->check(CLI::Range(1, 200000))
        ->capture_default_str();
    idle_cmd->add_option("--concurrency", idle.concurrency, "Logins in progress at once")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    idle_cmd->add_option("--hold", idle.hold, "Seconds to keep the sessions after the last login")
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();
    idle_cmd
        ->add_option("--settle", idle.settle,
                     "Seconds after the last login before reading server memory")
        ->check(CLI::Range(0.0, 600.0))
        ->capture_default_str();
    idle_cmd->add_option("--server-pid", idle.server_pid,
                         "Server process to read VmRSS and CPU time of");

    auto* login_cmd = app.add_subcommand(
        "login-rate",
        "Log in, bind and close in a loop; report logins/s, latency, server CPU per login");
    add_common(*login_cmd, common, target, accounts);
    login_cmd->add_option("--concurrency", login.concurrency, "Parallel workers")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    login_cmd->add_option("--duration", login.duration, "Seconds measured")
        ->check(CLI::Range(1.0, 3600.0))
        ->capture_default_str();
    login_cmd->add_option("--warmup", login.warmup, "Seconds of load before measuring")
        ->check(CLI::Range(0.0, 600.0))
        ->capture_default_str();
    login_cmd->add_option("--server-pid", login.server_pid, "Server process to read CPU time of");

    auto* reg_cmd =
        app.add_subcommand("register", "Create the accounts by in-band registration (XEP-0077)");
    add_common(*reg_cmd, common, target, accounts);
    reg_cmd->add_option("--concurrency", reg.concurrency, "Registrations in progress at once")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();

    auto add_chat = [&](CLI::App& cmd, ChatOptions& o) {
        add_common(cmd, common, target, accounts);
        cmd.add_option("--pairs", o.pairs,
                       "Pairs of users; pair p is <prefix><2p> and <prefix><2p+1>")
            ->check(CLI::Range(1, 50000))
            ->capture_default_str();
        cmd.add_option("--duration", o.duration, "Seconds measured")
            ->check(CLI::Range(1.0, 600.0))
            ->capture_default_str();
        cmd.add_option("--warmup", o.warmup, "Seconds of load before measuring")
            ->check(CLI::Range(0.0, 600.0))
            ->capture_default_str();
        cmd.add_option("--server-pid", o.server_pid, "Server process to read CPU time of");
    };
    auto* chat_cmd = app.add_subcommand(
        "chat",
        "Pairs of users send each other chat messages as fast as a window of unacknowledged "
        "messages allows; report delivered messages/s and latency");
    add_chat(*chat_cmd, chat);
    chat_cmd->add_option("--window", chat.window, "Messages in flight per sender")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();

    auto* paced_cmd = app.add_subcommand(
        "paced",
        "Pairs of users send each other chat messages at a fixed total rate, evenly spread; "
        "report latency");
    add_chat(*paced_cmd, paced);
    paced_cmd->add_option("--rate", paced.rate, "Messages per second, all senders together")
        ->check(CLI::Range(1.0, 1000000.0))
        ->capture_default_str();
    paced_cmd
        ->add_option("--window", paced.window,
                     "Messages in flight per sender before a sender waits (counted as late)")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();

    auto* roster_cmd = app.add_subcommand(
        "roster",
        "Fill <prefix>0's roster to N items if it is short, then fetch it K times; report "
        "round-trip time, result size and server CPU per fetch");
    add_common(*roster_cmd, common, target, accounts);
    roster_cmd->add_option("-n,--items", roster.items, "Roster items")
        ->check(CLI::Range(0, 100000))
        ->capture_default_str();
    roster_cmd->add_option("-k,--fetches", roster.fetches, "Roster gets, one after another")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    roster_cmd->add_option("--server-pid", roster.server_pid, "Server process to read CPU time of");

    auto* offline_cmd = app.add_subcommand(
        "offline",
        "Senders send chat messages to offline receivers (offline storage in the path of every "
        "message), then the receivers come online and take them; report stored/s, delivered/s "
        "and server CPU per message");
    add_common(*offline_cmd, common, target, accounts);
    offline_cmd
        ->add_option("--pairs", offline.pairs,
                     "Senders <prefix>0 .. <prefix>P-1, receivers <prefix>P .. <prefix>2P-1")
        ->check(CLI::Range(1, 50000))
        ->capture_default_str();
    offline_cmd->add_option("-m,--messages", offline.messages, "Messages per receiver")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    offline_cmd->add_option("--window", offline.window, "Messages per ping (XEP-0199 barrier)")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    offline_cmd->add_option("--server-pid", offline.server_pid,
                            "Server process to read CPU time of");

    auto* everyone_cmd = app.add_subcommand(
        "everyone",
        "With every account in one shared roster group: O of the N accounts log in (roster, "
        "presence); then a versioned roster get, K registrations and one more login; report "
        "login cost, roster pushes and presence fan-out");
    add_common(*everyone_cmd, common, target, everyone_accounts);
    everyone_cmd->add_option("-o,--online", everyone.online, "Users logged in at once")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    everyone_cmd
        ->add_option("-k,--registrations", everyone.registrations,
                     "Accounts registered one by one while the users are online")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    everyone_cmd->add_option("--concurrency", everyone.concurrency, "Logins in progress at once")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    everyone_cmd
        ->add_option("--roster-gets", everyone.roster_gets,
                     "Full roster gets by the last user to log in, for server CPU per get")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    everyone_cmd
        ->add_option("--push-limit", everyone.push_limit,
                     "Seconds to wait for the pushes or presences of one event")
        ->check(CLI::Range(0.1, 600.0))
        ->capture_default_str();
    everyone_cmd
        ->add_option("--settle-limit", everyone.settle_limit,
                     "Seconds from the first login for every presence to arrive")
        ->check(CLI::Range(1.0, 3600.0))
        ->capture_default_str();
    everyone_cmd->add_option("--server-pid", everyone.server_pid,
                             "Server process to read CPU time of");

    CLI11_PARSE(app, argc, argv);

    boost::system::error_code ec;
    target.host = boost::asio::ip::make_address_v4(common.host, ec);
    if (ec || (target.host.to_uint() >> 24) != 127) {
        fmt::print(stderr,
                   "hongyan-bench: --host must be an IPv4 address in 127.0.0.0/8, not '{}'\n",
                   common.host);
        return 2;
    }
    static const std::map<std::string, TlsMode> modes{
        {"starttls", TlsMode::starttls}, {"direct", TlsMode::direct}, {"none", TlsMode::none}};
    target.tls = modes.at(common.tls);
    target.hash = common.mechanism == "SCRAM-SHA-256" ? hongyan::crypto::Hash::sha256
                                                      : hongyan::crypto::Hash::sha1;
    idle.verbose = login.verbose = reg.verbose = common.verbose;
    chat.verbose = paced.verbose = roster.verbose = everyone.verbose = common.verbose;

    long files = raise_open_files_limit();
    if (everyone_cmd->parsed() && files >= 0 && everyone.online + 64 > files) {
        fmt::print(stderr,
                   "hongyan-bench: {} online users need more open files than the limit of {} "
                   "(raise the hard limit: ulimit -Hn)\n",
                   everyone.online, files);
        return 2;
    }
    if (idle_cmd->parsed() && files >= 0 && idle.connections + 64 > files) {
        fmt::print(stderr,
                   "hongyan-bench: {} connections need more open files than the limit of {} "
                   "(raise the hard limit: ulimit -Hn)\n",
                   idle.connections, files);
        return 2;
    }
    for (int pid : {idle.server_pid, login.server_pid, chat.server_pid, paced.server_pid,
                    roster.server_pid, offline.server_pid, everyone.server_pid}) {
        if (pid && !process_alive(pid)) {
            fmt::print(stderr, "hongyan-bench: no process with id {}\n", pid);
            return 2;
        }
    }

    Runtime rt(common.threads);
    int status = 1;
    auto scenario = [&]() -> boost::asio::awaitable<int> {
        if (idle_cmd->parsed()) co_return co_await run_idle(rt, target, accounts, idle);
        if (login_cmd->parsed()) co_return co_await run_login_rate(rt, target, accounts, login);
        if (chat_cmd->parsed()) co_return co_await run_chat(rt, target, accounts, chat);
        if (paced_cmd->parsed()) co_return co_await run_chat(rt, target, accounts, paced);
        if (roster_cmd->parsed()) co_return co_await run_roster(rt, target, accounts, roster);
        if (offline_cmd->parsed()) co_return co_await run_offline(rt, target, accounts, offline);
        if (everyone_cmd->parsed())
            co_return co_await run_everyone(rt, target, everyone_accounts, everyone);
        co_return co_await run_register(rt, target, accounts, reg);
    };
    boost::asio::co_spawn(rt.main_context(), scenario(), [&](std::exception_ptr e, int rc) {
        status = rc;
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                fmt::print(stderr, "hongyan-bench: {}\n", ex.what());
            }
            status = 1;
        }
        rt.stop();
    });
    rt.run();
    return status;
}
