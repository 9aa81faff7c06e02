#include "server/http/http_listener.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "server/c2s/client_connection.hpp"
#include "server/http/websocket_transport.hpp"
#include "server/server_context.hpp"
#include "xmpp/xml.hpp"

namespace hongyan::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

namespace {

bool is_loopback(const asio::ip::address& a) {
    return a.is_loopback();
}

// RFC 7395 §3.1: the client offers the 'xmpp' subprotocol (a token in a comma list).
bool offers_xmpp(std::string_view header) {
    while (!header.empty()) {
        auto comma = header.find(',');
        std::string_view token = header.substr(0, comma);
        while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
            token.remove_prefix(1);
        while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
            token.remove_suffix(1);
        if (token == "xmpp") return true;
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    return false;
}

// The Host header if it is a plausible host[:port], else the server's domain.
std::string request_host(const Request& req, const std::string& domain) {
    std::string_view host = req[bhttp::field::host];
    if (host.empty() || host.size() > 255) return domain;
    for (char c : host)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
              c == '[' || c == ']'))
            return domain;
    return std::string(host);
}

std::string without_port(const std::string& host) {
    if (!host.empty() && host.front() == '[') return host.substr(0, host.find(']') + 1);
    return host.substr(0, host.find(':'));
}

// Where the WebSocket endpoint is, as seen by the client that asks.
std::vector<std::string> endpoints(const ServerContext& server, const HttpSettings& s,
                                   const Request& req, bool tls) {
    if (!s.public_urls.empty()) return s.public_urls;
    std::string host = request_host(req, server.primary().domain);
    std::vector<std::string> out;
    if (tls) {
        out.push_back("wss://" + host + s.websocket_path);
    } else {
        out.push_back("ws://" + host + s.websocket_path);
        if (s.tls_port > 0)
            out.push_back("wss://" + without_port(host) + ":" + std::to_string(s.tls_port) +
                          s.websocket_path);
    }
    return out;
}

Response make_response(const Request& req, bhttp::status status, std::string_view type,
                       std::string body) {
    Response res{status, req.version()};
    res.set(bhttp::field::server, "hongyand");
    res.set(bhttp::field::content_type, type);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

Response text_response(const Request& req, bhttp::status status, std::string text) {
    auto res = make_response(req, status, "text/plain; charset=utf-8", std::move(text) + "\n");
    return res;
}

Response handle(const ServerContext& server, const HttpSettings& s, const Request& req, bool tls) {
    std::string_view target = req.target();
    target = target.substr(0, target.find('?'));
    if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head)
        return text_response(req, bhttp::status::method_not_allowed, "only GET is served here");
    if (target == "/.well-known/host-meta" || target == "/.well-known/host-meta.json") {
        // XEP-0156 §3: where to connect; readable from web pages of any origin.
        bool json = target.ends_with(".json");
        auto urls = endpoints(server, s, req, tls);
        auto res = make_response(req, bhttp::status::ok,
                                 json ? "application/json" : "application/xrd+xml; charset=utf-8",
                                 json ? host_meta_json(urls) : host_meta_xml(urls));
        res.set(bhttp::field::access_control_allow_origin, "*");
        return res;
    }
    if (target == s.websocket_path)
        return text_response(req, bhttp::status::upgrade_required,
                             "this is an XMPP WebSocket endpoint (RFC 7395): connect with the "
                             "'xmpp' subprotocol");
    return text_response(req, bhttp::status::not_found, "not found");
}

// Holds a slot in the per-IP connection limit while the HTTP connection lasts.
struct IpSlot {
    net::ConnectionLimiter& limiter;
    std::string ip;
    bool held;
    IpSlot(net::ConnectionLimiter& l, std::string i) : limiter(l), ip(std::move(i)) {
        held = limiter.acquire(ip);
    }
    ~IpSlot() { release(); }
    void release() {
        if (held) limiter.release(ip);
        held = false;
    }
};

template <class Stream>
asio::awaitable<bool> upgrade(ServerContext& server, const HttpService& service, Stream& stream,
                              Request& req, bool tls, const asio::ip::address& remote, IpSlot& slot,
                              AdoptConnection& adopt) {
    const HttpSettings& s = service.settings;
    if (!offers_xmpp(req[bhttp::field::sec_websocket_protocol])) {
        auto res = text_response(req, bhttp::status::bad_request,
                                 "offer the 'xmpp' WebSocket subprotocol (RFC 7395 §3.1)");
        res.keep_alive(false);
        co_await bhttp::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
        co_return false;
    }
    if (!tls &&
        (s.allow_plain == "never" || (s.allow_plain == "loopback" && !is_loopback(remote)))) {
        auto res = text_response(req, bhttp::status::forbidden,
                                 "XMPP over WebSocket without TLS is not allowed from your "
                                 "address: use wss:// (see websocket.allow_plain)");
        res.keep_alive(false);
        co_await bhttp::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
        co_return false;
    }
    beast::get_lowest_layer(stream).expires_never();
    websocket::stream<Stream> ws(std::move(stream));
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = s.request_timeout;
    timeouts.idle_timeout = websocket::stream_base::none();  // c2s timeouts apply
    timeouts.keep_alive_pings = false;
    ws.set_option(timeouts);
    ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
        res.set(bhttp::field::server, "hongyand");
        res.set(bhttp::field::sec_websocket_protocol, "xmpp");
    }));
    auto [ec] = co_await ws.async_accept(req, asio::as_tuple(asio::use_awaitable));
    if (ec) {
        spdlog::debug("http {} WebSocket handshake failed: {}", remote.to_string(), ec.message());
        co_return true;  // the stream went with the WebSocket
    }
    slot.release();  // the client connection counts itself from now on
    auto transport = std::make_unique<WebSocketTransport<Stream>>(
        std::move(ws), tls, server.settings.preauth_parser_limits, s.see_other_uri);
    auto connection = std::make_shared<c2s::ClientConnection>(server, std::move(transport));
    adopt(connection);
    connection->start();
    co_return true;
}

// True when the stream was handed over to a WebSocket client connection (it is moved from).
template <class Stream>
asio::awaitable<bool> serve_stream(ServerContext& server, const HttpService& service,
                                   Stream& stream, bool tls, const asio::ip::address& remote,
                                   IpSlot& slot, AdoptConnection& adopt) {
    const HttpSettings& s = service.settings;
    beast::flat_buffer buffer;
    for (;;) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(s.max_request_size));
        parser.body_limit(s.max_request_size);
        beast::get_lowest_layer(stream).expires_after(s.request_timeout);
        auto [ec, n] =
            co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        if (ec == bhttp::error::header_limit || ec == bhttp::error::body_limit) {
            Request req;
            req.version(11);
            auto res = text_response(req,
                                     ec == bhttp::error::header_limit
                                         ? bhttp::status::request_header_fields_too_large
                                         : bhttp::status::payload_too_large,
                                     "the request is larger than http.max_request_size");
            res.keep_alive(false);
            co_await bhttp::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
            co_return false;
        }
        if (ec) co_return false;  // closed, timed out, or not HTTP
        Request& req = parser.get();
        std::string_view target = req.target();
        if (websocket::is_upgrade(req) && target.substr(0, target.find('?')) == s.websocket_path) {
            bool upgraded =
                co_await upgrade(server, service, stream, req, tls, remote, slot, adopt);
            co_return upgraded;
        }
        auto res = handle(server, s, req, tls);
        spdlog::debug("http {} {} {} -> {}", remote.to_string(), req.method_string(), target,
                      res.result_int());
        auto [wec, wn] =
            co_await bhttp::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
        if (wec || !res.keep_alive()) co_return false;
    }
}

}  // namespace

std::string host_meta_xml(const std::vector<std::string>& urls) {
    std::string out =
        "<?xml version='1.0' encoding='utf-8'?>\n"
        "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n";
    for (const auto& u : urls) {
        out += "  <Link rel=\"urn:xmpp:alt-connections:websocket\" href=\"";
        xml::escape_attr(u, out);
        out += "\"/>\n";
    }
    out += "</XRD>\n";
    return out;
}

std::string host_meta_json(const std::vector<std::string>& urls) {
    nlohmann::json links = nlohmann::json::array();
    for (const auto& u : urls)
        links.push_back({{"rel", "urn:xmpp:alt-connections:websocket"}, {"href", u}});
    return nlohmann::json{{"links", links}}.dump(2) + "\n";
}

asio::awaitable<void> serve_http(ServerContext& server, const HttpService& service,
                                 asio::ip::tcp::socket socket, bool tls, AdoptConnection adopt) {
    boost::system::error_code ep_ec;
    auto remote = socket.remote_endpoint(ep_ec).address();
    if (ep_ec) co_return;
    if (remote.is_v6() && remote.to_v6().is_v4_mapped())
        remote = asio::ip::make_address_v4(asio::ip::v4_mapped, remote.to_v6());
    IpSlot slot(server.connections, remote.to_string());
    if (!slot.held) {
        spdlog::warn("http {} refused: too many connections from it", remote.to_string());
        co_return;
    }
    const auto timeout = service.settings.request_timeout;
    if (!tls) {
        PlainStream stream(std::move(socket));
        if (co_await serve_stream(server, service, stream, false, remote, slot, adopt)) co_return;
        boost::system::error_code ec;
        stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
        co_return;
    }
    TlsStream stream(std::move(socket), *service.tls);
    beast::get_lowest_layer(stream).expires_after(timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                asio::as_tuple(asio::use_awaitable));
    if (ec) {
        spdlog::debug("https {} TLS handshake failed: {}", remote.to_string(), ec.message());
        co_return;
    }
    if (co_await serve_stream(server, service, stream, true, remote, slot, adopt)) co_return;
    if (beast::get_lowest_layer(stream).socket().is_open()) {
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
        co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
    }
}

}  // namespace hongyan::http
