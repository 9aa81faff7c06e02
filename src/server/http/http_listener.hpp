// The HTTP listener (Boost.Beast) on http.port (plain) and https.port (TLS, the same
// certificate as c2s): XMPP over WebSocket at websocket.path (RFC 7395) and its discovery
// documents /.well-known/host-meta and host-meta.json (XEP-0156). Later BOSH, the web chat,
// the admin console and metrics live here too. Requests are bounded in size and time.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace hongyan {
struct ServerContext;
namespace c2s {
class ClientConnection;
}
}  // namespace hongyan

namespace hongyan::http {

struct HttpSettings {
    std::int64_t port = 5280;
    std::int64_t tls_port = 5443;
    std::size_t max_request_size = 16384;
    std::chrono::seconds request_timeout{10};
    std::string websocket_path = "/xmpp-websocket";
    std::string allow_plain = "loopback";  // plain ws:// from: loopback, always, never
    std::vector<std::string> public_urls;  // host-meta links; empty: from the request
    std::string see_other_uri;
};

// What every HTTP connection of a server shares.
struct HttpService {
    HttpSettings settings;
    std::unique_ptr<boost::asio::ssl::context> tls;  // for https.port, from the c2s context
};

// Takes a client connection made by an upgrade (the owning thread sweeps it).
using AdoptConnection = std::function<void(std::shared_ptr<c2s::ClientConnection>)>;

// Serves one accepted HTTP connection until it ends or becomes a WebSocket client stream.
boost::asio::awaitable<void> serve_http(ServerContext& server, const HttpService& service,
                                        boost::asio::ip::tcp::socket socket, bool tls,
                                        AdoptConnection adopt);

// XEP-0156 documents listing `urls` as WebSocket endpoints.
std::string host_meta_xml(const std::vector<std::string>& urls);
std::string host_meta_json(const std::vector<std::string>& urls);

}  // namespace hongyan::http
