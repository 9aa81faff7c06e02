// hongyand: the Hongyan XMPP server.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <iostream>

#include "server/cli_common.hpp"
#include "server/log.hpp"
#include "server/modules/module.hpp"
#include "server/server.hpp"
#include "server/server_context.hpp"
#include "xmpp/jid.hpp"

namespace {
// Every client is a file descriptor: lift the soft limit to the hard one.
void raise_fd_limit() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}
}  // namespace

int main(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    CLI::App app{
        "hongyand — the Hongyan XMPP server. Runs with no configuration: domain localhost, "
        "data in ./data, c2s on 5222 (STARTTLS) and 5223 (direct TLS)."};
    hongyan::ConfigOptions opts;
    opts.add_to(app);
    bool check = false, reference = false, protocols = false, version = false;
    app.add_flag("--check-config", check, "Validate the configuration, print it in full and exit");
    app.add_flag("--config-reference", reference,
                 "Print the reference of every configuration key (Markdown)");
    app.add_flag("--protocols", protocols, "Print the table of supported RFCs and XEPs (Markdown)");
    app.add_flag("--version", version, "Print the version and exit");
    CLI11_PARSE(app, argc, argv);

    if (version) {
        std::cout << "hongyand " << HONGYAN_VERSION << "\n";
        return 0;
    }
    if (reference) {
        std::cout << hongyan::config::reference_markdown();
        return 0;
    }
    if (protocols) {
        std::cout << hongyan::modules::protocols_markdown();
        return 0;
    }
    hongyan::config::Config cfg;
    try {
        cfg = opts.load();
        (void)hongyan::Settings::from(cfg);  // checks what spans several keys
    } catch (const hongyan::config::ConfigError& e) {
        std::cerr << "hongyand: configuration error: " << e.what() << "\n";
        return 2;
    }
    if (check) {
        std::cout << cfg.dump();
        std::cerr << "configuration OK\n";
        return 0;
    }
    hongyan::setup_logging(cfg.string("log.level"));
    try {
        hongyan::Server server(cfg);
        return server.run();
    } catch (const std::exception& e) {
        spdlog::critical("cannot start: {}", e.what());
        return 1;
    }
}
