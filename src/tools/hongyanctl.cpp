// hongyanctl: administration of a Hongyan server's data directory. Works whether the server
// runs or not (the database is shared safely through SQLite's WAL mode).
#include <termios.h>
#include <unistd.h>

#include <iostream>

#include "server/cli_common.hpp"
#include "server/net/tls.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/jid.hpp"

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

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"hongyanctl — manage a Hongyan XMPP server (users, certificates, configuration)"};
    app.require_subcommand(1);
    hongyan::ConfigOptions opts;
    opts.add_to(app);

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

    auto* cert = app.add_subcommand("cert", "TLS certificates")->require_subcommand(1);
    auto* gen =
        cert->add_subcommand("generate", "Write a new self-signed certificate for server.domain");
    bool force = false;
    gen->add_flag("-f,--force", force, "Replace an existing certificate");

    auto* config = app.add_subcommand("config", "Configuration")->require_subcommand(1);
    auto* check = config->add_subcommand("check", "Validate the configuration and print it");

    // --config and --set may come anywhere, before or after the subcommand.
    for (CLI::App* sub : {user, add, del, passwd, list, cert, gen, config, check})
        sub->fallthrough();
    CLI11_PARSE(app, argc, argv);

    try {
        auto cfg = opts.load();
        const std::string domain = *hongyan::jid::nameprep(cfg.string("server.domain"));
        if (check->parsed()) {
            std::cout << cfg.dump();
            std::cerr << "configuration OK\n";
            return 0;
        }
        if (gen->parsed()) {
            auto c = cfg.cert_file(), k = cfg.key_file();
            if (!force && (std::filesystem::exists(c) || std::filesystem::exists(k)))
                throw Failure(c.string() + " already exists; use --force to replace it");
            hongyan::net::generate_self_signed(domain, c, k);
            std::cout << "wrote " << c.string() << " and " << k.string() << " for " << domain
                      << " (restart hongyand to use it)\n";
            return 0;
        }
        hongyan::storage::Storage storage(cfg.database_path());
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
            if (!accounts.remove(u)) throw Failure("no account " + u + "@" + domain);
            std::cout << "deleted " << u << "@" << domain << "\n";
        } else if (passwd->parsed()) {
            auto u = username_or_fail(name, domain);
            if (!accounts.exists(u)) throw Failure("no account " + u + "@" + domain);
            accounts.set_credentials(u,
                                     hongyan::sasl::make_credentials(get_password(), iterations));
            std::cout << "password changed for " << u << "@" << domain << "\n";
        } else if (list->parsed()) {
            for (const auto& u : accounts.list()) std::cout << u << "@" << domain << "\n";
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
