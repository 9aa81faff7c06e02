// hongyanctl: administration of a Hongyan server's data directory. Works whether the server
// runs or not (the database is shared safely through SQLite's WAL mode).
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>

#include "server/cli_common.hpp"
#include "server/modules/module.hpp"
#include "server/net/tls.hpp"
#include "server/storage/archive_store.hpp"
#include "server/storage/copy.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/datetime.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/xml_stream_parser.hpp"

namespace {

// Reads a password from stdin; without echo when stdin is a terminal.
std::string read_password(const std::string& prompt) {
    bool tty = isatty(STDIN_FILENO);
    termios old{};
    if (tty) {
        std::cerr << prompt;
        tcgetattr(STDIN_FILENO, &old);
        termios no_echo = old;
        no_echo.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        tcsetattr(STDIN_FILENO, TCSANOW, &no_echo);
    }
    std::string pw;
    std::getline(std::cin, pw);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        std::cerr << "\n";
    }
    return pw;
}

struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string username_or_fail(const std::string& raw, const std::string& domain) {
    std::string local = raw;
    // Accept "alice" or "alice@domain".
    if (auto at = raw.find('@'); at != std::string::npos) {
        auto d = hongyan::jid::nameprep(raw.substr(at + 1));
        if (!d || *d != domain)
            throw Failure("'" + raw + "' is not on this server's domain (" + domain + ")");
        local = raw.substr(0, at);
    }
    auto prepped = hongyan::jid::nodeprep(local);
    if (!prepped) throw Failure("'" + raw + "' is not a valid username (RFC 7622 localpart)");
    return *prepped;
}

int roster_command(hongyan::storage::Storage& storage, const std::string& user, bool list, bool add,
                   const std::string& contact_raw, const std::string& contact_name,
                   const std::vector<std::string>& groups, const std::string& subscription) {
    auto& rosters = storage.rosters();
    auto items = rosters.load(user);
    if (list) {
        for (const auto& it : items) {
            if (!it.listed || it.removed) continue;
            std::cout << it.jid << "\t" << it.name << "\t";
            std::cout << (it.sub.to && it.sub.from ? "both"
                          : it.sub.to              ? "to"
                          : it.sub.from            ? "from"
                                                   : "none");
            if (it.sub.pending_out && !it.sub.to) std::cout << " (asked)";
            std::cout << "\t";
            for (std::size_t i = 0; i < it.groups.size(); ++i)
                std::cout << (i ? ", " : "") << it.groups[i];
            std::cout << "\n";
        }
        return 0;
    }
    auto jid = hongyan::Jid::parse(contact_raw);
    if (!jid) throw Failure("'" + contact_raw + "' is not a valid JID");
    std::int64_t ver = 0;
    hongyan::storage::RosterItem item;
    bool found = false;
    for (const auto& it : items) {
        ver = std::max(ver, it.ver);
        if (it.jid == jid->str()) {
            item = it;
            found = it.listed && !it.removed;
        }
    }
    if (!add && !found) throw Failure(jid->str() + " is not in " + user + "'s roster");
    item.jid = jid->str();
    item.ver = ver + 1;
    if (add) {
        item.name = contact_name;
        item.groups = groups;
        item.listed = true;
        item.removed = false;
        item.sub.to = subscription == "to" || subscription == "both";
        item.sub.from = subscription == "from" || subscription == "both";
        if (item.sub.to) item.sub.pending_out = false;
        if (item.sub.from) item.sub.pending_in = false;
    } else {
        item = hongyan::storage::RosterItem{item.jid, {}, {}, {}, false, true, item.ver, {}};
    }
    rosters.put(user, item);
    storage.directory().note_roster_changed(user);
    std::cout << (add ? "saved " : "removed ") << item.jid << (add ? " in " : " from ") << user
              << "'s roster\n";
    return 0;
}

// Progress of a copy on stderr: a bar redrawn in place on a terminal, one line per
// finished step otherwise (a log, a pipe).
class CopyProgressPrinter final : public hongyan::storage::CopyProgress {
  public:
    void start(const std::string& what, std::int64_t total) override {
        what_ = what;
        total_ = total;
        done_ = 0;
        drawn_ = {};
        if (tty_) draw();
    }
    void advance(std::int64_t done) override {
        done_ = done;
        if (tty_ && std::chrono::steady_clock::now() - drawn_ > std::chrono::milliseconds(100))
            draw();
    }
    void finish() override {
        if (tty_) {
            draw();
            std::fputc('\n', stderr);
        } else {
            std::fprintf(stderr, "%s: %lld\n", what_.c_str(), static_cast<long long>(done_));
        }
    }

  private:
    void draw() {
        constexpr int width = 30;
        const double part = total_ > 0 ? std::min(1.0, static_cast<double>(done_) / total_) : 1.0;
        const int filled = static_cast<int>(part * width);
        std::fprintf(stderr, "\r%-32s [%s%s] %3d%%  %lld/%lld", what_.c_str(),
                     std::string(static_cast<std::size_t>(filled), '#').c_str(),
                     std::string(static_cast<std::size_t>(width - filled), ' ').c_str(),
                     static_cast<int>(part * 100), static_cast<long long>(done_),
                     static_cast<long long>(total_));
        std::fflush(stderr);
        drawn_ = std::chrono::steady_clock::now();
    }

    bool tty_ = isatty(STDERR_FILENO) != 0;
    std::string what_;
    std::int64_t total_ = 0, done_ = 0;
    std::chrono::steady_clock::time_point drawn_{};
};

// The verification table on stdout; false when a table differs.
// hongyanctl archive: a user's message archive (XEP-0313) seen and purged by the operator.
int archive_command(hongyan::storage::Storage& storage, const std::string& user, bool show,
                    bool purge, const std::string& with, std::size_t limit, int older_than_days) {
    namespace st = hongyan::storage;
    auto& archive = storage.archive();
    if (purge) {
        if (older_than_days > 0) {
            // Every user's, a batch at a time (what mam.retention does in the server).
            const auto before =
                hongyan::datetime::now_us() - std::int64_t{older_than_days} * 86400 * 1'000'000;
            std::size_t total = 0, gone = 0;
            do {
                gone = archive.remove_before(before, 10000);
                total += gone;
            } while (gone == 10000);
            std::cout << "deleted " << total << " messages older than " << older_than_days
                      << " days\n";
            return 0;
        }
        std::cout << "deleted " << archive.clear(user) << " messages of " << user << "\n";
        return 0;
    }
    if (!show) {
        auto first = archive.first(user), last = archive.last(user);
        std::cout << archive.count(user) << " messages";
        if (first && last)
            std::cout << ", from " << hongyan::datetime::format_us(first->time_us) << " to "
                      << hongyan::datetime::format_us(last->time_us);
        std::cout << "\n";
        return 0;
    }
    st::ArchiveQuery q;
    if (!with.empty()) {
        auto j = hongyan::Jid::parse(with);
        if (!j) throw Failure("'" + with + "' is not a JID");
        q.with = j->bare_str();
    }
    q.backward = true;  // the newest `limit`, printed oldest first
    q.max = limit;
    for (const auto& m : archive.query(user, q).items) {
        std::string body;
        if (auto e = hongyan::xml::parse_stanza(m.stanza, hongyan::ns::client))
            body = e->child_text("body", hongyan::ns::client);
        std::cout << hongyan::datetime::format_us(m.time_us) << "\t"
                  << (m.outgoing ? "to  " : "from") << "\t" << m.with << "\t" << m.id << "\t"
                  << body << "\n";
    }
    return 0;
}

bool print_checks(const std::vector<hongyan::storage::TableCheck>& checks) {
    using hongyan::storage::checksum_hex;
    std::printf("%-28s %10s  %-16s  %s\n", "table", "rows", "checksum", "");
    bool all = true;
    std::int64_t rows = 0;
    for (const auto& c : checks) {
        rows += c.source_rows;
        if (c.ok()) {
            std::printf("%-28s %10lld  %s  ok\n", c.table.c_str(),
                        static_cast<long long>(c.source_rows), checksum_hex(c.source_sum).c_str());
        } else {
            all = false;
            std::printf("%-28s %10lld  %s  DIFFERS: the copy has %lld rows, checksum %s\n",
                        c.table.c_str(), static_cast<long long>(c.source_rows),
                        checksum_hex(c.source_sum).c_str(), static_cast<long long>(c.target_rows),
                        checksum_hex(c.target_sum).c_str());
        }
    }
    std::printf("%s: %zu tables, %lld rows\n", all ? "verified" : "VERIFICATION FAILED",
                checks.size(), static_cast<long long>(rows));
    return all;
}

// The database `--to` names: postgresql://... (or postgres://) or sqlite:FILE.
std::unique_ptr<hongyan::storage::Backend> open_target(const std::string& to,
                                                       const std::string& schema,
                                                       const hongyan::config::Config& cfg) {
    hongyan::storage::BackendOptions o;
    o.busy_timeout_ms = static_cast<int>(cfg.integer("storage.busy_timeout"));
    if (to.starts_with("postgresql://") || to.starts_with("postgres://")) {
        o.postgresql.url = to;
        o.postgresql.schema = schema;
        o.postgresql.pool_size = 2;
        o.postgresql.connect_timeout_s =
            static_cast<int>(cfg.integer("storage.postgresql.connect_timeout"));
        o.schema = hongyan::modules::schema("postgresql");
        return hongyan::storage::open_backend("postgresql", o);
    }
    if (to.starts_with("sqlite:") && to.size() > 7) {
        o.sqlite_file = to.substr(7);
        if (std::filesystem::exists(o.sqlite_file))
            throw Failure(o.sqlite_file.string() +
                          " already exists (migrate into a new file or an empty PostgreSQL "
                          "database)");
        o.schema = hongyan::modules::schema("sqlite");
        return hongyan::storage::open_backend("sqlite", o);
    }
    throw Failure(
        "--to must be a PostgreSQL URL (postgresql://user@host/database) or "
        "sqlite:FILE, not '" +
        to + "'");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "hongyanctl — manage a Hongyan XMPP server (users, groups, database, certificates, "
        "configuration)"};
    app.require_subcommand(1);
    hongyan::ConfigOptions opts;
    opts.add_to(app);
    std::string host_option;
    app.add_option("-d,--domain", host_option,
                   "The hosted domain to act on (server.domain or a [[hosts]] domain); by "
                   "default the domain of a user@domain argument, else server.domain");

    auto* user = app.add_subcommand("user", "Manage user accounts")->require_subcommand(1);
    std::string name, password;
    auto* add = user->add_subcommand("add", "Create an account");
    add->add_option("username", name, "Username (alice or alice@domain)")->required();
    add->add_option("-p,--password", password, "Password (read from stdin when omitted)");
    auto* del = user->add_subcommand("del", "Delete an account and its data");
    del->add_option("username", name, "Username")->required();
    auto* passwd = user->add_subcommand("passwd", "Set an account's password");
    passwd->add_option("username", name, "Username")->required();
    passwd->add_option("-p,--password", password, "New password (read from stdin when omitted)");
    auto* list = user->add_subcommand("list", "List accounts");

    auto* roster = app.add_subcommand("roster", "Manage a user's roster (contact list)")
                       ->require_subcommand(1);
    std::string contact, contact_name, subscription = "both";
    std::vector<std::string> groups;
    auto* r_list = roster->add_subcommand("list", "Show a user's contacts");
    r_list->add_option("username", name, "Username")->required();
    auto* r_add = roster->add_subcommand(
        "add", "Add or update a contact in a user's roster (that user's side only)");
    r_add->add_option("username", name, "Username")->required();
    r_add->add_option("contact", contact, "Contact JID (bob@example.org)")->required();
    r_add->add_option("-n,--name", contact_name, "Name shown for the contact");
    r_add->add_option("-g,--group", groups, "Roster group (repeat for several)");
    r_add
        ->add_option("-s,--subscription", subscription,
                     "Presence subscription: none, to (user sees contact), from (contact "
                     "sees user) or both")
        ->check(CLI::IsMember({"none", "to", "from", "both"}));
    auto* r_remove = roster->add_subcommand("remove", "Remove a contact from a user's roster");
    r_remove->add_option("username", name, "Username")->required();
    r_remove->add_option("contact", contact, "Contact JID")->required();

    auto* group =
        app.add_subcommand("group", "Shared roster groups: members see each other as contacts")
            ->require_subcommand(1);
    std::string group_name, display;
    std::vector<std::string> members;
    auto* g_create = group->add_subcommand("create", "Create a shared group");
    g_create->add_option("name", group_name, "Group identifier")->required();
    g_create->add_option("-d,--display", display,
                         "Roster group name members see (default: the identifier)");
    auto* g_delete = group->add_subcommand("delete", "Delete a shared group");
    g_delete->add_option("name", group_name, "Group identifier")->required();
    auto* g_add = group->add_subcommand("add", "Add users to a shared group");
    g_add->add_option("name", group_name, "Group identifier")->required();
    g_add->add_option("users", members, "Usernames")->required();
    auto* g_remove = group->add_subcommand("remove", "Remove users from a shared group");
    g_remove->add_option("name", group_name, "Group identifier")->required();
    g_remove->add_option("users", members, "Usernames")->required();
    auto* g_list = group->add_subcommand("list", "List shared groups and their members");

    auto* archive =
        app.add_subcommand("archive", "A user's message archive (XEP-0313): count, show, purge")
            ->require_subcommand(1);
    std::string with;
    std::size_t limit = 20;
    int older_than = 0;
    auto* a_count = archive->add_subcommand(
        "count", "How many messages a user's archive holds, and since when");
    a_count->add_option("username", name, "Username")->required();
    auto* a_show = archive->add_subcommand(
        "show", "The newest messages of a user's archive: time, direction, contact, id, text");
    a_show->add_option("username", name, "Username")->required();
    a_show->add_option("--with", with, "Only the conversation with this JID");
    a_show->add_option("-n,--limit", limit, "How many messages (the newest)")
        ->check(CLI::Range(1, 100000));
    auto* a_purge = archive->add_subcommand(
        "purge", "Delete a user's whole archive, or with --older-than every user's old messages");
    a_purge->add_option("username", name, "Username (not with --older-than)");
    a_purge->add_option("--older-than", older_than, "Days: every message older than that goes")
        ->check(CLI::Range(1, 36500));

    auto* cert = app.add_subcommand("cert", "TLS certificates")->require_subcommand(1);
    auto* gen =
        cert->add_subcommand("generate", "Write a new self-signed certificate for server.domain");
    bool force = false;
    gen->add_flag("-f,--force", force, "Replace an existing certificate");

    auto* db = app.add_subcommand("db", "The database: move it to another backend, back it up")
                   ->require_subcommand(1);
    std::string to, pg_schema, file;
    auto* migrate = db->add_subcommand(
        "migrate", "Copy every table into an empty database (a PostgreSQL one, say) and verify it");
    migrate
        ->add_option("--to", to,
                     "The target: postgresql://user@host/database (libpq URL) or sqlite:FILE")
        ->required();
    migrate->add_option("--schema", pg_schema,
                        "PostgreSQL schema of the tables (storage.postgresql.schema)");
    auto* backup = db->add_subcommand(
        "backup", "Write a backup file (a SQLite database; the server may keep running)");
    backup->add_option("file", file, "The backup file to create")->required();
    auto* restore = db->add_subcommand(
        "restore", "Copy a backup file into the configured database, which must be empty");
    restore->add_option("file", file, "A file made by hongyanctl db backup")->required();

    auto* config = app.add_subcommand("config", "Configuration")->require_subcommand(1);
    auto* check = config->add_subcommand("check", "Validate the configuration and print it");

    // --config and --set may come anywhere, before or after the subcommand.
    for (CLI::App* sub :
         {user,    add,      del,      passwd, list,     roster,  r_list,  r_add,   r_remove,
          group,   g_create, g_delete, g_add,  g_remove, g_list,  db,      migrate, backup,
          restore, cert,     gen,      config, check,    archive, a_count, a_show,  a_purge})
        sub->fallthrough();
    CLI11_PARSE(app, argc, argv);

    try {
        const auto server_cfg = opts.load();
        if (check->parsed()) {
            std::cout << server_cfg.dump();
            std::cerr << "configuration OK\n";
            return 0;
        }
        // Each host has its own accounts and database (Config::for_host).
        const auto hosted = server_cfg.host_domains();
        std::string host = host_option;
        if (host.empty() && !name.empty() && name.find('@') != std::string::npos) {
            // user@domain: the host of that domain, if there is one (else the usual
            // "not on this server's domain" below).
            auto d = hongyan::jid::nameprep(name.substr(name.rfind('@') + 1));
            if (d && std::find(hosted.begin(), hosted.end(), *d) != hosted.end()) host = *d;
        }
        if (host.empty()) host = hosted.front();
        auto host_domain = hongyan::jid::nameprep(host);
        if (!host_domain) throw Failure("'" + host + "' is not a valid domain");
        const auto cfg = server_cfg.for_host(*host_domain);
        const std::string domain = *host_domain;
        if (gen->parsed()) {
            auto c = cfg.cert_file(), k = cfg.key_file();
            if (!force && (std::filesystem::exists(c) || std::filesystem::exists(k)))
                throw Failure(c.string() + " already exists; use --force to replace it");
            hongyan::net::generate_self_signed(domain, c, k);
            std::cout << "wrote " << c.string() << " and " << k.string() << " for " << domain
                      << " (restart hongyand to use it)\n";
            return 0;
        }
        hongyan::storage::Storage storage(cfg,
                                          hongyan::modules::schema(cfg.string("storage.backend")));
        if (db->parsed()) {
            CopyProgressPrinter progress;
            namespace st = hongyan::storage;
            std::vector<st::TableCheck> checks;
            if (migrate->parsed()) {
                auto target = open_target(to, pg_schema, cfg);
                try {
                    checks = st::copy_database(storage.backend(), *target, progress);
                } catch (...) {
                    // A new SQLite file that did not get its copy goes away again (a
                    // PostgreSQL target rolled back on its own).
                    if (!to.starts_with("postgres")) {
                        target.reset();
                        std::filesystem::remove(to.substr(7));
                    }
                    throw;
                }
            } else if (backup->parsed()) {
                checks = st::backup(storage.backend(), file, hongyan::modules::schema("sqlite"),
                                    progress);
            } else {
                checks = st::restore(file, storage.backend(), hongyan::modules::schema("sqlite"),
                                     progress);
            }
            if (!print_checks(checks)) return 1;
            if (migrate->parsed() && to.starts_with("postgres"))
                std::cout << "to run on it: set storage.backend = \"postgresql\" and "
                             "storage.postgresql.url (and storage.postgresql.schema, if you "
                             "gave --schema) in the configuration, then restart hongyand\n";
            return 0;
        }
        auto& accounts = storage.accounts();
        const int iterations = static_cast<int>(cfg.integer("auth.scram_iterations"));
        const auto min_len = static_cast<std::size_t>(cfg.integer("register.min_password_length"));
        auto get_password = [&] {
            std::string pw = password.empty() ? read_password("Password: ") : password;
            if (pw.size() < min_len)
                throw Failure("the password must have at least " + std::to_string(min_len) +
                              " characters");
            return pw;
        };
        if (add->parsed()) {
            auto u = username_or_fail(name, domain);
            if (accounts.exists(u))
                throw Failure("account " + u + "@" + domain + " already exists");
            accounts.create(u, hongyan::sasl::make_credentials(get_password(), iterations));
            std::cout << "created " << u << "@" << domain << "\n";
        } else if (del->parsed()) {
            auto u = username_or_fail(name, domain);
            if (!storage.delete_account(u, u + "@" + domain))
                throw Failure("no account " + u + "@" + domain);
            std::cout << "deleted " << u << "@" << domain << "\n";
        } else if (passwd->parsed()) {
            auto u = username_or_fail(name, domain);
            if (!accounts.exists(u)) throw Failure("no account " + u + "@" + domain);
            accounts.set_credentials(u,
                                     hongyan::sasl::make_credentials(get_password(), iterations));
            std::cout << "password changed for " << u << "@" << domain << "\n";
        } else if (list->parsed()) {
            for (const auto& u : accounts.list()) std::cout << u << "@" << domain << "\n";
        } else if (roster->parsed()) {
            auto u = username_or_fail(name, domain);
            if (!accounts.exists(u)) throw Failure("no account " + u + "@" + domain);
            return roster_command(storage, u, r_list->parsed(), r_add->parsed(), contact,
                                  contact_name, groups, subscription);
        } else if (archive->parsed()) {
            if (a_purge->parsed() && (older_than > 0) == !name.empty())
                throw Failure("archive purge takes a username or --older-than DAYS (not both)");
            if (!name.empty()) {
                auto u = username_or_fail(name, domain);
                if (!accounts.exists(u)) throw Failure("no account " + u + "@" + domain);
                name = u;
            }
            return archive_command(storage, name, a_show->parsed(), a_purge->parsed(), with, limit,
                                   older_than);
        } else if (group->parsed()) {
            auto& dir = storage.directory();
            if (g_create->parsed()) {
                if (!dir.create_group(group_name, display.empty() ? group_name : display))
                    throw Failure("group '" + group_name + "' already exists");
                std::cout << "created group " << group_name << "\n";
            } else if (g_delete->parsed()) {
                if (!dir.delete_group(group_name)) throw Failure("no group '" + group_name + "'");
                std::cout << "deleted group " << group_name << "\n";
            } else if (g_add->parsed() || g_remove->parsed()) {
                auto groups_now = dir.groups();
                if (std::none_of(groups_now.begin(), groups_now.end(),
                                 [&](const auto& g) { return g.name == group_name; }))
                    throw Failure("no group '" + group_name +
                                  "' (create it with: hongyanctl group create " + group_name + ")");
                for (const auto& m : members) {
                    auto u = username_or_fail(m, domain);
                    if (!accounts.exists(u)) throw Failure("no account " + u + "@" + domain);
                    bool changed = g_add->parsed() ? dir.add_member(group_name, u)
                                                   : dir.remove_member(group_name, u);
                    std::cout << (g_add->parsed() ? "added " : "removed ") << u << "@" << domain
                              << (changed ? "" : " (no change)") << "\n";
                }
            } else if (g_list->parsed()) {
                if (!cfg.string("shared_groups.everyone").empty())
                    std::cout << "(everyone)\t" << cfg.string("shared_groups.everyone") << "\tall "
                              << accounts.count() << " accounts\n";
                for (const auto& g : dir.groups()) {
                    std::cout << g.name << "\t" << g.display << "\t";
                    for (std::size_t i = 0; i < g.members.size(); ++i)
                        std::cout << (i ? " " : "") << g.members[i];
                    std::cout << "\n";
                }
            }
        }
        return 0;
    } catch (const hongyan::config::ConfigError& e) {
        std::cerr << "hongyanctl: configuration error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "hongyanctl: " << e.what() << "\n";
        return 1;
    }
}
