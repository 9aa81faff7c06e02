// What every part of a running server shares: settings, storage, TLS, routing, modules and
// the per-IP limits. Built once at start-up; its members are thread-safe or read-only.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "server/config/config.hpp"
#include "server/net/limits.hpp"
#include "xmpp/xml_stream_parser.hpp"

namespace hongyan {

namespace storage {
class Storage;
}
namespace modules {
class ModuleHost;
}
class Router;
class SessionRegistry;
namespace im {
class Im;
}

// Hot-path copies of configuration values.
struct Settings {
    std::string domain;
    bool require_tls = true;
    std::chrono::seconds preauth_timeout{60};
    std::chrono::seconds close_timeout{10};
    std::chrono::seconds idle_timeout{900};
    std::chrono::seconds keepalive_interval{120};
    std::chrono::seconds parser_release_after{2};
    xml::ParserLimits parser_limits;
    xml::ParserLimits preauth_parser_limits;  // until SASL succeeds
    std::size_t max_outbound_queue = 4 << 20;
    std::int64_t read_rate = 0;
    std::vector<std::string> mechanisms;
    int scram_iterations = 4096;
    int max_auth_attempts = 3;
    std::string register_policy;
    std::size_t min_password_length = 6;
    // External components (XEP-0114) by domain: their shared secrets.
    std::map<std::string, std::string, std::less<>> component_secrets;

    static Settings from(const config::Config& cfg);
};

struct ServerContext {
    explicit ServerContext(const config::Config& cfg);
    ~ServerContext();

    const config::Config& config;
    Settings settings;
    storage::Storage* storage = nullptr;
    SSL_CTX* tls = nullptr;
    std::unique_ptr<SessionRegistry> registry;
    std::unique_ptr<modules::ModuleHost> modules;
    std::unique_ptr<Router> router;
    std::unique_ptr<im::Im> im;
    // Password hashing (PBKDF2) for logins and new passwords, off the I/O threads and the
    // storage thread.
    std::unique_ptr<boost::asio::thread_pool> hashing;
    net::ConnectionLimiter connections;
    net::WindowCounter auth_failures_ip;
    net::WindowCounter auth_failures_account;
    net::WindowCounter registrations_ip;
    std::atomic<bool> shutting_down{false};
};

}  // namespace hongyan
