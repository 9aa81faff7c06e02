// Where the `hongyan` command gets its account and connection settings: flags first, then
// the environment (HONGYAN_JID, HONGYAN_PASSWORD), then the config file
// (~/.config/hongyan/config.toml, or $XDG_CONFIG_HOME/hongyan/config.toml).
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include "hongyan/client.hpp"

namespace hongyan::cli {

// A mistake in how the command was called or configured: exit code 2, and the message
// says what to fix.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Settings {
    std::string config_file;  // empty: the default path, if it exists
    std::string jid;
    std::string resource;
    std::string password_file;
    std::string password_cmd;
    std::string host;
    int port = 0;
    std::string tls;  // starttls, direct, none
    std::string trust_cert;
    std::string fingerprint;
    bool insecure = false;
    double timeout = 30.0;
};

// Fills what the flags left empty from the environment and the config file.
void complete_settings(Settings& s);

// The password: --password-file, --password-cmd, $HONGYAN_PASSWORD, the config file's
// password_file or password_cmd, else a prompt on the terminal without echo.
std::string read_password(const Settings& s);

client::ClientOptions client_options(const Settings& s, std::string password);

}  // namespace hongyan::cli
