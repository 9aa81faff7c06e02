// What every part of a running server shares: settings, storage, TLS, routing, modules and
// the per-IP limits. Built once at start-up; its members are thread-safe or read-only.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/config/config.hpp"
#include "server/host.hpp"
#include "server/net/limits.hpp"
#include "xmpp/xml_stream_parser.hpp"

namespace hongyan {

namespace modules {
class ModuleHost;
}
namespace c2s {
class Resumptions;
}
class Router;
class SessionRegistry;

// Hot-path copies of configuration values.
struct Settings {
    bool require_tls = true;
    std::chrono::seconds preauth_timeout{60};
    std::chrono::seconds close_timeout{10};
    std::chrono::seconds idle_timeout{900};
    std::chrono::seconds keepalive_interval{120};
    std::chrono::seconds parser_release_after{2};
    xml::ParserLimits parser_limits;
    xml::ParserLimits preauth_parser_limits;  // until SASL succeeds
    bool iq_requires_presence = true;         // RFC 6121 §8.5.3.1
    std::size_t max_outbound_queue = 4 << 20;
    std::int64_t read_rate = 0;
    bool sm_enabled = true;
    std::chrono::seconds sm_resume_timeout{300};
    std::uint32_t sm_request_after = 5;
    std::size_t sm_max_waiting = 10;
    std::vector<std::string> mechanisms;
    int scram_iterations = 4096;
    int max_auth_attempts = 3;
    // External components (XEP-0114) by domain: their shared secrets.
    std::map<std::string, std::string, std::less<>> component_secrets;

    static Settings from(const config::Config& cfg);
};

struct ServerContext {
    explicit ServerContext(const config::Config& cfg);
    ~ServerContext();

    const config::Config& config;
    Settings settings;
    // Every hosted domain, server.domain first (host.hpp); fixed once the server runs.
    std::vector<std::unique_ptr<Host>> hosts;
    // The host serving `domain` exactly, or null.
    Host* find_host(std::string_view domain) const;
    Host& primary() const { return *hosts.front(); }
    SSL_CTX* tls = nullptr;  // the first host's; SNI switches to another host's
    std::unique_ptr<SessionRegistry> registry;
    // Sessions that a stream can resume (XEP-0198), by id.
    std::unique_ptr<c2s::Resumptions> resumptions;
    std::unique_ptr<modules::ModuleHost> modules;
    std::unique_ptr<Router> router;
    // Password hashing (PBKDF2) for logins and new passwords, off the I/O threads and the
    // storage thread.
    std::unique_ptr<boost::asio::thread_pool> hashing;
    // The IM workers (server.im_threads): every host's Sequencer runs its jobs here.
    std::unique_ptr<boost::asio::thread_pool> im_workers;
    // The I/O threads' executors, set before they start (for work the router starts
    // itself, such as presence between hosts).
    std::vector<boost::asio::any_io_executor> io_executors;
    net::ConnectionLimiter connections;
    net::WindowCounter auth_failures_ip;
    net::WindowCounter auth_failures_account;
    net::WindowCounter registrations_ip;
    std::atomic<bool> shutting_down{false};
};

}  // namespace hongyan
