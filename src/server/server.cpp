#include "server/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <thread>

#include "server/c2s/client_connection.hpp"
#include "server/component/component_connection.hpp"
#include "server/http/http_listener.hpp"
#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/net/tcp_transport.hpp"
#include "server/net/tls.hpp"
#include "server/router/router.hpp"
#include "server/router/session_registry.hpp"
#include "server/run_on.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan {

namespace asio = boost::asio;
using asio::ip::tcp;

Settings Settings::from(const config::Config& cfg) {
    Settings s;
    const auto hosted = cfg.host_domains();
    s.require_tls = cfg.boolean("c2s.require_tls");
    s.preauth_timeout = std::chrono::seconds(cfg.integer("c2s.preauth_timeout"));
    s.close_timeout = std::chrono::seconds(cfg.integer("c2s.close_timeout"));
    s.idle_timeout = std::chrono::seconds(cfg.integer("c2s.idle_timeout"));
    s.keepalive_interval = std::chrono::seconds(cfg.integer("c2s.keepalive_interval"));
    s.iq_requires_presence = cfg.boolean("c2s.iq_requires_subscription");
    s.sm_enabled = cfg.boolean("sm.enabled");
    s.sm_resume_timeout = std::chrono::seconds(cfg.integer("sm.resume_timeout"));
    s.sm_request_after = static_cast<std::uint32_t>(cfg.integer("sm.request_after"));
    s.sm_max_waiting = static_cast<std::size_t>(cfg.integer("sm.max_waiting_per_user"));
    s.parser_release_after = std::chrono::seconds(cfg.integer("c2s.parser_release_after"));
    s.parser_limits.max_stanza_size =
        static_cast<std::size_t>(cfg.integer("limits.max_stanza_size"));
    s.parser_limits.max_depth = static_cast<int>(cfg.integer("limits.max_depth"));
    s.parser_limits.max_attributes = static_cast<int>(cfg.integer("limits.max_attributes"));
    s.parser_limits.max_elements = static_cast<std::size_t>(cfg.integer("limits.max_elements"));
    s.preauth_parser_limits = s.parser_limits;
    s.preauth_parser_limits.max_stanza_size =
        std::min(s.parser_limits.max_stanza_size,
                 static_cast<std::size_t>(cfg.integer("limits.max_stanza_size_preauth")));
    s.preauth_parser_limits.max_elements =
        std::min(s.parser_limits.max_elements,
                 static_cast<std::size_t>(cfg.integer("limits.max_elements_preauth")));
    s.max_outbound_queue = static_cast<std::size_t>(cfg.integer("limits.max_outbound_queue"));
    s.read_rate = cfg.integer("limits.read_rate");
    s.mechanisms = cfg.list("auth.mechanisms");
    s.scram_iterations = static_cast<int>(cfg.integer("auth.scram_iterations"));
    s.max_auth_attempts = static_cast<int>(cfg.integer("auth.max_attempts_per_stream"));
    for (const auto& entry : cfg.list("component.secrets")) {
        auto eq = entry.find('=');
        auto domain = jid::nameprep(entry.substr(0, eq == std::string::npos ? 0 : eq));
        if (eq == std::string::npos || !domain || domain->empty() || eq + 1 == entry.size())
            throw config::ConfigError(
                "key 'component.secrets' expects entries of the form "
                "\"domain=secret\", got '" +
                entry + "'");
        if (std::find(hosted.begin(), hosted.end(), *domain) != hosted.end())
            throw config::ConfigError("key 'component.secrets': " + *domain +
                                      " is a domain this server hosts; a component needs a "
                                      "domain of its own (a subdomain, say)");
        if (!s.component_secrets.emplace(*domain, entry.substr(eq + 1)).second)
            throw config::ConfigError("key 'component.secrets' lists " + *domain + " twice");
    }
    return s;
}

ServerContext::ServerContext(const config::Config& cfg)
    : config(cfg),
      settings(Settings::from(cfg)),
      connections(cfg.integer("limits.max_connections_per_ip")),
      auth_failures_ip(cfg.integer("auth.failures_per_ip"),
                       std::chrono::seconds(cfg.integer("auth.failure_window"))),
      auth_failures_account(cfg.integer("auth.failures_per_account"),
                            std::chrono::seconds(cfg.integer("auth.failure_window"))),
      registrations_ip(cfg.integer("register.per_ip_per_hour"), std::chrono::hours(1)) {
    resumptions = std::make_unique<c2s::Resumptions>();
}

ServerContext::~ServerContext() = default;

Host* ServerContext::find_host(std::string_view domain) const {
    for (const auto& h : hosts)
        if (h->domain == domain) return h.get();
    return nullptr;
}

Host::Host(std::string d, config::Config c)
    : domain(std::move(d)),
      config(std::move(c)),
      register_policy(config.string("register.policy")),
      min_password_length(
          static_cast<std::size_t>(config.integer("register.min_password_length"))) {}

Host::~Host() = default;

namespace {

// One I/O thread: its event loop, its listeners and the sessions it owns.
struct Worker {
    asio::io_context io{1};
    std::vector<std::weak_ptr<c2s::ClientConnection>> connections;
    std::vector<std::weak_ptr<component::ComponentConnection>> components;
    std::thread thread;
};

tcp::acceptor make_acceptor(asio::io_context& io, const tcp::endpoint& ep) {
    tcp::acceptor a(io);
    a.open(ep.protocol());
    a.set_option(asio::socket_base::reuse_address(true));
    int one = 1;
    if (::setsockopt(a.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        throw std::runtime_error("SO_REUSEPORT not available");
    if (ep.address().is_v6()) a.set_option(asio::ip::v6_only(false));
    a.bind(ep);
    a.listen(1024);
    return a;
}

// Accepts connections on one listener of one thread and hands each socket on.
asio::awaitable<void> accept_loop(ServerContext& server, Worker& worker, tcp::acceptor acceptor,
                                  std::function<void(tcp::socket)> on_socket) {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec) {
            if (ec == asio::error::operation_aborted || server.shutting_down) co_return;
            spdlog::warn("accept failed: {}", ec.message());
            // Out of descriptors, say: wait a little rather than spin.
            asio::steady_timer t(worker.io, std::chrono::milliseconds(100));
            co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
            continue;
        }
        if (server.shutting_down) co_return;
        on_socket(std::move(socket));
    }
}

void start_client(ServerContext& server, Worker& worker, tcp::socket socket, bool direct_tls) {
    boost::system::error_code ec;
    socket.remote_endpoint(ec);
    if (ec) return;
    auto transport = std::make_unique<net::TcpTransport>(std::move(socket), server.tls, direct_tls,
                                                         server.settings.preauth_parser_limits);
    transport->set_linger(server.settings.close_timeout);
    auto connection = std::make_shared<c2s::ClientConnection>(server, std::move(transport));
    worker.connections.push_back(connection);
    connection->start();
}

void start_component(ServerContext& server, Worker& worker, tcp::socket socket) {
    boost::system::error_code ec;
    socket.remote_endpoint(ec);
    if (ec) return;
    // Components have no TLS and no SASL (XEP-0114); until the handshake, the limits of
    // an unauthenticated client apply.
    auto transport = std::make_unique<net::TcpTransport>(std::move(socket), nullptr, false,
                                                         server.settings.preauth_parser_limits,
                                                         ns::component_accept);
    transport->set_linger(server.settings.close_timeout);
    auto connection =
        std::make_shared<component::ComponentConnection>(server, std::move(transport));
    worker.components.push_back(connection);
    connection->start();
}

void start_http(ServerContext& server, const http::HttpService& service, Worker& worker,
                tcp::socket socket, bool tls) {
    spawn_logged(worker.io.get_executor(),
                 http::serve_http(server, service, std::move(socket), tls,
                                  [&worker](std::shared_ptr<c2s::ClientConnection> c) {
                                      worker.connections.push_back(c);
                                  }),
                 "http connection");
}

// Listens on `address`:`port` for this thread; the error names the configuration key.
tcp::acceptor listen_on(asio::io_context& io, const asio::ip::address& address,
                        const std::string& address_key, std::int64_t port) {
    try {
        return make_acceptor(io, tcp::endpoint(address, static_cast<unsigned short>(port)));
    } catch (const boost::system::system_error& e) {
        throw std::runtime_error("cannot listen on " + address.to_string() + ":" +
                                 std::to_string(port) + " (" + address_key +
                                 "): " + e.code().message());
    }
}

asio::awaitable<void> sweep_loop(Worker& worker, ServerContext& server) {
    asio::steady_timer timer(worker.io);
    while (!server.shutting_down) {
        timer.expires_after(std::chrono::seconds(1));
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        auto now = c2s::ClientConnection::Clock::now();
        std::erase_if(worker.connections, [&](auto& w) {
            auto c = w.lock();
            if (!c) return true;
            c->tick(now);
            return false;
        });
        std::erase_if(worker.components, [&](auto& w) {
            auto c = w.lock();
            if (!c) return true;
            c->tick(now);
            return false;
        });
        if (worker.connections.capacity() > 64 &&
            worker.connections.size() < worker.connections.capacity() / 4)
            worker.connections.shrink_to_fit();
    }
}

}  // namespace

struct Server::Impl {
    const config::Config& cfg;
    std::vector<net::SslCtxPtr> tls;  // one per host, in the order of ctx->hosts
    net::ServerNames server_names;    // for SNI
    std::unique_ptr<ServerContext> ctx;
    std::vector<std::unique_ptr<modules::Module>> modules;
    std::vector<std::unique_ptr<Worker>> workers;
    http::HttpService http;

    explicit Impl(const config::Config& c) : cfg(c) {}
};

namespace {

// A host's certificate, generated (self-signed for its domain) on first start when
// neither file exists and none is configured.
net::SslCtxPtr host_tls(const config::Config& cfg) {
    auto cert = cfg.cert_file(), key = cfg.key_file();
    if (!std::filesystem::exists(cert) && !std::filesystem::exists(key) &&
        cfg.string("tls.cert_file").empty()) {
        spdlog::info("no TLS certificate yet: generating a self-signed one for {} in {}",
                     cfg.string("server.domain"), cert.string());
        net::generate_self_signed(cfg.string("server.domain"), cert, key);
    }
    return net::make_server_context(cert, key, cfg.string("tls.min_version"));
}

}  // namespace

Server::Server(const config::Config& cfg) : impl_(std::make_unique<Impl>(cfg)) {
    auto& I = *impl_;
    I.ctx = std::make_unique<ServerContext>(cfg);
    for (const auto& domain : cfg.host_domains()) {
        auto host = std::make_unique<Host>(domain, cfg.for_host(domain));
        std::filesystem::create_directories(host->config.data_dir());
        host->storage = std::make_unique<storage::Storage>(
            host->config, modules::schema(host->config.string("storage.backend")));
        I.tls.push_back(host_tls(host->config));
        host->tls = I.tls.back().get();
        I.ctx->hosts.push_back(std::move(host));
    }
    I.ctx->tls = I.tls.front().get();
    // RFC 6066 SNI: a client naming another host's domain gets that host's certificate.
    for (const auto& h : I.ctx->hosts) I.server_names.emplace_back(h->domain, h->tls);
    if (I.ctx->hosts.size() > 1) net::select_by_server_name(I.ctx->tls, &I.server_names);
    I.ctx->registry = std::make_unique<LocalSessionRegistry>();
    I.ctx->hashing = std::make_unique<asio::thread_pool>(
        static_cast<std::size_t>(cfg.integer("auth.hash_threads")));
    auto im_threads = static_cast<std::size_t>(cfg.integer("server.im_threads"));
    if (im_threads == 0) {
        // IM jobs mostly wait for the database: as many workers as the hosts' backends run
        // calls at once, up to the cores. Idle workers beyond that cost a thread wake-up
        // per job (benchmarks.md, "After core part 2").
        std::size_t calls = 0;
        for (const auto& h : I.ctx->hosts) calls += h->storage->backend().parallel_calls();
        im_threads =
            std::clamp<std::size_t>(calls, 1, std::max(1u, std::thread::hardware_concurrency()));
    }
    I.ctx->im_workers = std::make_unique<asio::thread_pool>(im_threads);
    I.ctx->modules = std::make_unique<modules::ModuleHost>();
    I.ctx->router = std::make_unique<Router>(*I.ctx);
    for (auto& h : I.ctx->hosts) h->im = std::make_unique<im::Im>(*I.ctx, *h);

    const auto& disabled = cfg.list("modules.disabled");
    modules::ModuleContext mctx(*I.ctx, *I.ctx->modules);
    for (auto& m : modules::all_modules()) {
        if (std::find(disabled.begin(), disabled.end(), m->name()) != disabled.end()) {
            spdlog::info("module {} disabled by configuration", m->name());
            continue;
        }
        mctx.begin_module(std::string(m->name()));
        m->start(mctx);
        I.modules.push_back(std::move(m));
    }
}

Server::~Server() = default;

int Server::run() {
    auto& I = *impl_;
    const auto& cfg = I.cfg;
    std::size_t n_threads = static_cast<std::size_t>(cfg.integer("server.threads"));
    if (n_threads == 0) n_threads = std::max(1u, std::thread::hardware_concurrency());

    boost::system::error_code address_ec;
    auto address = asio::ip::make_address(cfg.string("c2s.address"), address_ec);
    if (address_ec)
        throw std::runtime_error(
            "key 'c2s.address' expects an IP address such as 0.0.0.0, :: or "
            "127.0.0.1, got '" +
            cfg.string("c2s.address") + "'");
    struct ListenerSpec {
        std::int64_t port;
        bool direct_tls;
    };
    std::vector<ListenerSpec> listeners;
    if (cfg.integer("c2s.port") > 0) listeners.push_back({cfg.integer("c2s.port"), false});
    if (cfg.integer("c2s.tls_port") > 0) listeners.push_back({cfg.integer("c2s.tls_port"), true});

    auto& hs = I.http.settings;
    hs.port = cfg.integer("http.port");
    hs.tls_port = cfg.integer("https.port");
    hs.max_request_size = static_cast<std::size_t>(cfg.integer("http.max_request_size"));
    hs.request_timeout = std::chrono::seconds(cfg.integer("http.request_timeout"));
    hs.websocket_path = cfg.string("websocket.path");
    hs.allow_plain = cfg.string("websocket.allow_plain");
    hs.public_urls = cfg.list("websocket.public_urls");
    hs.see_other_uri = cfg.string("websocket.see_other_uri");
    if (hs.tls_port > 0) {
        // The same certificate and settings as c2s (asio takes a reference of its own).
        SSL_CTX_up_ref(I.ctx->tls);
        I.http.tls = std::make_unique<asio::ssl::context>(I.ctx->tls);
    }
    auto http_address = asio::ip::make_address(cfg.string("http.address"), address_ec);
    if (address_ec)
        throw std::runtime_error(
            "key 'http.address' expects an IP address such as 0.0.0.0, :: or 127.0.0.1, got '" +
            cfg.string("http.address") + "'");
    struct HttpListenerSpec {
        std::int64_t port;
        bool tls;
    };
    std::vector<HttpListenerSpec> http_listeners;
    if (hs.port > 0) http_listeners.push_back({hs.port, false});
    if (hs.tls_port > 0) http_listeners.push_back({hs.tls_port, true});

    std::int64_t component_port = cfg.integer("component.port");
    auto component_address = asio::ip::make_address(cfg.string("component.address"), address_ec);
    if (address_ec)
        throw std::runtime_error(
            "key 'component.address' expects an IP address such as 127.0.0.1 or ::1, got '" +
            cfg.string("component.address") + "'");

    for (auto& h : I.ctx->hosts) h->storage->start();
    for (auto& h : I.ctx->hosts) h->im->start();
    for (std::size_t i = 0; i < n_threads; ++i) {
        auto w = std::make_unique<Worker>();
        Worker& worker = *w;
        for (const auto& l : http_listeners) {
            auto acc = listen_on(w->io, http_address, "http.address", l.port);
            asio::co_spawn(w->io,
                           accept_loop(*I.ctx, worker, std::move(acc),
                                       [&server = *I.ctx, &service = I.http, &worker,
                                        tls = l.tls](tcp::socket s) {
                                           start_http(server, service, worker, std::move(s), tls);
                                       }),
                           asio::detached);
        }
        for (const auto& l : listeners) {
            auto acc = listen_on(w->io, address, "c2s.address", l.port);
            asio::co_spawn(
                w->io,
                accept_loop(*I.ctx, worker, std::move(acc),
                            [&server = *I.ctx, &worker, direct_tls = l.direct_tls](tcp::socket s) {
                                start_client(server, worker, std::move(s), direct_tls);
                            }),
                asio::detached);
        }
        if (component_port > 0) {
            auto acc = listen_on(w->io, component_address, "component.address", component_port);
            asio::co_spawn(w->io,
                           accept_loop(*I.ctx, worker, std::move(acc),
                                       [&server = *I.ctx, &worker](tcp::socket s) {
                                           start_component(server, worker, std::move(s));
                                       }),
                           asio::detached);
        }
        asio::co_spawn(w->io, sweep_loop(*w, *I.ctx), asio::detached);
        I.workers.push_back(std::move(w));
    }
    for (const auto& l : listeners)
        spdlog::info("listening on {}:{} ({})", cfg.string("c2s.address"), l.port,
                     l.direct_tls ? "c2s direct TLS" : "c2s STARTTLS");
    for (const auto& l : http_listeners)
        spdlog::info("listening on {}:{} ({}, XMPP over WebSocket at {})",
                     cfg.string("http.address"), l.port, l.tls ? "HTTPS" : "HTTP",
                     hs.websocket_path);
    if (component_port > 0)
        spdlog::info("listening on {}:{} (external components, {} configured)",
                     cfg.string("component.address"), component_port,
                     I.ctx->settings.component_secrets.size());
    spdlog::info("hongyand {} serving {} with {} I/O threads, data in {}", HONGYAN_VERSION,
                 cfg.host_list(), n_threads, cfg.data_dir().string());

    asio::io_context main_io;
    asio::signal_set signals(main_io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        spdlog::info("signal {}: shutting down", sig);
        // A second SIGTERM must not cut the orderly shutdown short (Ctrl-C twice still does).
        ::signal(SIGTERM, SIG_IGN);
        I.ctx->shutting_down = true;
        // Sessions waiting for a resume end: what their clients did not acknowledge is
        // stored (XEP-0198).
        // Counted from now, so the grace period below waits for what they route.
        auto& rerouting = I.ctx->resumptions->rerouting;
        for (auto& s : I.ctx->resumptions->sessions()) {
            ++rerouting;
            s->post([s, &rerouting] {
                if (s->hibernating()) s->end();
                --rerouting;
            });
        }
        // Every session gets <system-shutdown/> from its own thread (RFC 6120 §4.9.3.17).
        for (auto& w : I.workers) {
            asio::post(w->io, [&w = *w] {
                for (auto& weak : w.connections)
                    if (auto c = weak.lock())
                        c->end_stream(StreamErrorCondition::system_shutdown,
                                      "server shutting down");
                for (auto& weak : w.components)
                    if (auto c = weak.lock())
                        c->end_stream(StreamErrorCondition::system_shutdown,
                                      "server shutting down");
            });
        }
    });
    for (auto& w : I.workers) I.ctx->io_executors.push_back(w->io.get_executor());
    for (auto& w : I.workers) w->thread = std::thread([&io = w->io] { io.run(); });
    main_io.run();

    // Give clients a moment to receive their stream close, then stop the loops.
    auto grace = std::chrono::seconds(cfg.integer("server.shutdown_grace"));
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < deadline &&
           (I.ctx->connections.total() > 0 || I.ctx->resumptions->rerouting > 0))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (auto& w : I.workers) w->io.stop();
    for (auto& w : I.workers)
        if (w->thread.joinable()) w->thread.join();
    I.ctx->router->clear_routes();
    // Storage work still in flight completes by posting to a worker's io_context: finish
    // it while those still exist, then drop the sessions (and their sockets).
    for (auto& h : I.ctx->hosts) h->im->stop();
    I.ctx->im_workers->join();
    I.ctx->hashing->join();
    for (auto& h : I.ctx->hosts) h->storage->stop();
    I.ctx->io_executors.clear();  // no thread is left that routes
    I.workers.clear();
    // Nothing is routed any more: each module stops and its registrations go.
    for (auto it = I.modules.rbegin(); it != I.modules.rend(); ++it) {
        (*it)->stop();
        I.ctx->modules->remove_module((*it)->name());
    }
    spdlog::info("stopped");
    return 0;
}

}  // namespace hongyan
