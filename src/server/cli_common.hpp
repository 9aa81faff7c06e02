// Options shared by hongyand and hongyanctl: --config FILE and --set key=value.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server/config/config.hpp"
#include "xmpp/jid.hpp"

namespace hongyan {

struct ConfigOptions {
    std::string file;
    std::vector<std::string> overrides;

    void add_to(CLI::App& app) {
        app.add_option("-c,--config", file,
                       "TOML configuration file (optional; see docs/configuration.md)");
        app.add_option("--set", overrides,
                       "Override one key, e.g. --set c2s.port=15222 (repeatable)")
            ->type_name("KEY=VALUE");
    }
    config::Config load() const {
        std::optional<std::filesystem::path> f;
        if (!file.empty()) {
            if (!std::filesystem::exists(file))
                throw config::ConfigError("configuration file " + file + " does not exist");
            f = file;
        }
        auto cfg = config::Config::load(f, overrides);
        // The domain must be a valid JID domain part.
        if (!jid::nameprep(cfg.string("server.domain")))
            throw config::ConfigError("key 'server.domain' expects a valid domain name, got '" +
                                      cfg.string("server.domain") + "'");
        return cfg;
    }
};

}  // namespace hongyan
