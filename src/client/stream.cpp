#include "hongyan/stream.hpp"

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cctype>

#include "client/protocol.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/scram.hpp"

namespace hongyan::client {

namespace {

using boost::system::error_code;
using Event = xml::XmlStreamParser::Event;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Linux: let connect() pick the source port, so bound sockets share ports across
// destinations instead of each holding one for itself (ip(7), IP_BIND_ADDRESS_NO_PORT).
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

std::string stream_header(const std::string& domain) {
    return "<?xml version='1.0'?><stream:stream to='" + xml::escape(domain) +
           "' version='1.0' xmlns='jabber:client' xmlns:stream='" + std::string(ns::streams) + "'>";
}

Error stream_error(const char* step, const xml::Element& el) {
    return Error::make(ErrorKind::stream, step, condition_of(el, ns::streams_error),
                       el.child_text("text", ns::streams_error));
}

std::string sasl_element(std::string_view name, std::string_view payload) {
    return "<" + std::string(name) + " xmlns='" + std::string(ns::sasl) + "'>" +
           crypto::base64_encode(payload) + "</" + std::string(name) + ">";
}

std::optional<std::string> decode_sasl(const xml::Element& el) {
    std::string text = el.text();
    if (text == "=" || text.empty()) return std::string();  // RFC 6120 §6.4.2: empty response
    return crypto::base64_decode(text);
}

std::string mechanism_name(crypto::Hash h) {
    return h == crypto::Hash::sha1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256";
}

// "AB:cd:01" or "abcd01" -> "abcd01"; empty when it is not hex.
std::string normalise_fingerprint(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c == ':' || c == ' ') continue;
        if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

std::string hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string peer_fingerprint(SSL* ssl) {
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (!cert) return {};
    unsigned char* der = nullptr;
    int n = i2d_X509(cert, &der);
    X509_free(cert);
    if (n <= 0) return {};
    std::string digest = crypto::digest(
        crypto::Hash::sha256, {reinterpret_cast<const char*>(der), static_cast<std::size_t>(n)});
    OPENSSL_free(der);
    return hex(digest);
}

}  // namespace

Result<std::shared_ptr<asio::ssl::context>> make_tls_context(const Trust& trust) {
    auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    // RFC 7590 §3.1: TLS 1.2 or later.
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    if (trust.insecure || !trust.fingerprint.empty()) {
        ctx->set_verify_mode(asio::ssl::verify_none);
        if (!trust.fingerprint.empty() && normalise_fingerprint(trust.fingerprint).size() != 64)
            return Error::make(ErrorKind::usage, "tls", "bad fingerprint",
                               "give the certificate's SHA-256 as 64 hex digits");
        return ctx;
    }
    error_code ec;
    ctx->set_default_verify_paths(ec);
    if (!trust.ca_file.empty()) {
        ctx->load_verify_file(trust.ca_file, ec);
        if (ec)
            return Error::make(ErrorKind::usage, "tls", "cannot read " + trust.ca_file,
                               ec.message());
        // A self-signed server certificate in the file is a trust anchor by itself.
        X509_STORE_set_flags(SSL_CTX_get_cert_store(ctx->native_handle()),
                             X509_V_FLAG_PARTIAL_CHAIN);
    }
    ctx->set_verify_mode(asio::ssl::verify_peer);
    return ctx;
}

std::optional<std::string> SaltedPasswordCache::find(const std::string& key) const {
    std::lock_guard lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    return it->second;
}

void SaltedPasswordCache::store(const std::string& key, std::string salted) {
    std::lock_guard lock(mutex_);
    map_[key] = std::move(salted);
}

Stream::Stream(asio::any_io_executor ex, asio::ssl::context& tls_context, ConnectOptions options)
    : options_(std::move(options)),
      tls_context_(tls_context),
      socket_(ex),
      deadline_(ex),
      // A server's stanza limit is for what it reads; what it sends may be larger: a roster
      // of 10,000 items is about 800 KB in one <iq/>.
      parser_(xml::ParserLimits{.max_stanza_size = 64 * 1024 * 1024}) {}

Stream::~Stream() {
    deadline_.cancel();
    abort();
}

void Stream::arm_deadline(double seconds) {
    timed_out_ = false;
    deadline_.expires_after(std::chrono::milliseconds(static_cast<long>(seconds * 1000)));
    // The handler may run after the stream is gone (cancelled, or fired just before).
    deadline_.async_wait([this, alive = std::weak_ptr<char>(alive_)](const error_code& ec) {
        if (ec || alive.expired()) return;
        timed_out_ = true;
        abort();
    });
}

void Stream::disarm_deadline() {
    deadline_.cancel();
}

void Stream::abort() {
    error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

Error Stream::io_failure(const char* step, const error_code& ec) const {
    if (timed_out_) return Error::make(ErrorKind::timeout, step, "timed out");
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
        ec == asio::error::connection_reset || ec == asio::error::broken_pipe)
        return Error::make(ErrorKind::closed, step, "connection closed by server", ec.message());
    if (ec == asio::error::connection_refused)
        return Error::make(ErrorKind::unreachable, step, "connection refused",
                           "is the server running on " + options_.connect_host() + ":" +
                               std::to_string(options_.connect_port()) + "?");
    return Error::make(ErrorKind::closed, step, ec.message());
}

asio::awaitable<Result<void>> Stream::write(std::string data) {
    error_code ec;
    if (tls_)
        std::tie(ec, std::ignore) =
            co_await asio::async_write(*tls_, asio::buffer(data), use_tuple);
    else
        std::tie(ec, std::ignore) =
            co_await asio::async_write(socket_, asio::buffer(data), use_tuple);
    if (ec) co_return io_failure("write", ec);
    co_return Result<void>{};
}

asio::awaitable<Event> Stream::next_event(error_code& ec) {
    for (;;) {
        Event ev = Event::need_more;
        if (resume_pending_) {
            resume_pending_ = false;
            ev = parser_.resume();
        }
        if (ev == Event::need_more) {
            std::size_t n = 0;
            if (tls_)
                std::tie(ec, n) = co_await tls_->async_read_some(asio::buffer(buffer_), use_tuple);
            else
                std::tie(ec, n) =
                    co_await socket_.async_read_some(asio::buffer(buffer_), use_tuple);
            if (ec) co_return Event::error;
            bytes_received_ += n;
            if (!first_read_at_) first_read_at_ = std::chrono::steady_clock::now();
            ev = parser_.feed(buffer_.data(), n);
        }
        if (ev == Event::need_more) continue;
        if (ev != Event::error) resume_pending_ = true;
        co_return ev;
    }
}

asio::awaitable<Result<xml::Element>> Stream::next_stanza(const char* step) {
    error_code ec;
    for (;;) {
        Event ev = co_await next_event(ec);
        if (ec) co_return io_failure(step, ec);
        switch (ev) {
            case Event::stanza: {
                xml::Element out = parser_.take_stanza();
                if (out.is("error", ns::streams)) co_return stream_error(step, out);
                co_return std::move(out);
            }
            case Event::stream_close:
                co_return Error::make(ErrorKind::closed, step, "server closed the stream");
            case Event::error:
                co_return Error::make(ErrorKind::protocol, step, "bad XML from server",
                                      parser_.error_text());
            case Event::stream_open:
                co_return Error::make(ErrorKind::protocol, step, "unexpected stream header");
            case Event::need_more:
                break;
        }
    }
}

asio::awaitable<Result<void>> Stream::connect_tcp(std::optional<asio::ip::address> source) {
    // An address needs no lookup (getaddrinfo runs on a thread of its own in Asio).
    std::vector<asio::ip::tcp::endpoint> remotes;
    error_code aec;
    auto literal = asio::ip::make_address(options_.connect_host(), aec);
    if (!aec) {
        remotes.emplace_back(literal, options_.connect_port());
    } else {
        asio::ip::tcp::resolver resolver(socket_.get_executor());
        auto [rec, found] = co_await resolver.async_resolve(
            options_.connect_host(), std::to_string(options_.connect_port()), use_tuple);
        if (rec)
            co_return Error::make(ErrorKind::unreachable, "connect",
                                  "cannot resolve " + options_.connect_host(), rec.message());
        for (const auto& entry : found) remotes.push_back(entry.endpoint());
    }
    // Each address in turn (RFC 6120 §3.2.1: the next one when a connection fails).
    Error last = Error::make(ErrorKind::unreachable, "connect", "no address",
                             options_.connect_host() + " has no usable address");
    for (const auto& remote : remotes) {
        if (source && source->is_v4() != remote.address().is_v4()) continue;
        error_code ec;
        socket_.close(ec);
        socket_.open(remote.protocol(), ec);
        if (ec) co_return Error::make(ErrorKind::unreachable, "connect", "socket: " + ec.message());
        if (source) {
            int one = 1;
            ::setsockopt(socket_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                         sizeof one);
            socket_.bind(asio::ip::tcp::endpoint(*source, 0), ec);
            if (ec)
                co_return Error::make(ErrorKind::unreachable, "connect",
                                      "bind to " + source->to_string() + ": " + ec.message());
        }
        std::tie(ec) = co_await socket_.async_connect(remote, use_tuple);
        if (!ec) {
            socket_.set_option(asio::ip::tcp::no_delay(true), ec);
            co_return Result<void>{};
        }
        if (timed_out_) co_return io_failure("connect", ec);
        last =
            ec == asio::error::connection_refused
                ? io_failure("connect", ec)
                : Error::make(ErrorKind::unreachable, "connect", ec.message(),
                              remote.address().to_string() + ":" + std::to_string(remote.port()));
    }
    co_return last;
}

asio::awaitable<Result<void>> Stream::handshake() {
    tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, tls_context_);
    SSL* ssl = tls_->native_handle();
    // Servers pick the certificate by SNI; the certificate must name the domain.
    SSL_set_tlsext_host_name(ssl, options_.domain.c_str());
    const Trust& trust = options_.trust;
    const bool verify = !trust.insecure && trust.fingerprint.empty();
    if (verify) SSL_set1_host(ssl, options_.domain.c_str());
    auto [ec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, use_tuple);
    if (ec) {
        long result = SSL_get_verify_result(ssl);
        if (verify && result != X509_V_OK)
            co_return Error::make(ErrorKind::certificate, "tls",
                                  X509_verify_cert_error_string(result),
                                  "the certificate of " + options_.domain +
                                      " is not trusted; give its CA with --trust-cert, or pin "
                                      "it with --fingerprint");
        if (timed_out_) co_return io_failure("tls", ec);
        co_return Error::make(ErrorKind::tls, "tls", "handshake failed", ec.message());
    }
    if (!trust.fingerprint.empty()) {
        std::string got = peer_fingerprint(ssl);
        if (got != normalise_fingerprint(trust.fingerprint))
            co_return Error::make(ErrorKind::certificate, "tls", "fingerprint mismatch",
                                  "the server's certificate has SHA-256 " + got);
    }
    co_return Result<void>{};
}

asio::awaitable<Result<void>> Stream::open_stream() {
    parser_.reset();
    resume_pending_ = false;
    if (auto w = co_await write(stream_header(options_.domain)); !w) co_return w;
    error_code ec;
    Event ev = co_await next_event(ec);
    if (ec) co_return io_failure("stream", ec);
    if (ev == Event::error)
        co_return Error::make(ErrorKind::protocol, "stream", "bad XML from server",
                              parser_.error_text());
    if (ev != Event::stream_open)
        co_return Error::make(ErrorKind::protocol, "stream", "no stream header");
    // RFC 6120 §4.3.2: features follow the header when version='1.0'.
    auto got = co_await next_stanza("stream");
    if (!got) co_return got.error();
    features_ = std::move(*got);
    if (!features_.is("features", ns::streams))
        co_return Error::make(ErrorKind::protocol, "stream", "expected <stream:features/>",
                              "got <" + features_.name() + "/>");
    co_return Result<void>{};
}

asio::awaitable<Result<void>> Stream::connect(std::optional<asio::ip::address> source) {
    if (auto r = co_await connect_tcp(source); !r) co_return r;
    if (options_.tls == TlsMode::direct)
        if (auto hs = co_await handshake(); !hs) co_return hs;
    auto opened = co_await open_stream();
    if (!opened || options_.tls != TlsMode::starttls) co_return opened;

    // RFC 6120 §5.4.2
    if (!features_.child("starttls", ns::tls))
        co_return Error::make(ErrorKind::tls, "starttls", "not offered by the server");
    if (auto w = co_await write("<starttls xmlns='" + std::string(ns::tls) + "'/>"); !w)
        co_return w;
    auto answer = co_await next_stanza("starttls");
    if (!answer) co_return answer.error();
    if (!answer->is("proceed", ns::tls))
        co_return Error::make(ErrorKind::tls, "starttls", "refused", "<" + answer->name() + "/>");
    if (auto hs = co_await handshake(); !hs) co_return hs;
    co_return co_await open_stream();
}

asio::awaitable<Result<void>> Stream::authenticate(const std::string& user,
                                                   const std::string& password,
                                                   SaltedPasswordCache* cache) {
    std::vector<std::string> offered;
    if (const auto* mechs = features_.child("mechanisms", ns::sasl))
        for (const auto* m : mechs->children()) offered.push_back(m->text());
    auto offers = [&](crypto::Hash h) {
        return std::find(offered.begin(), offered.end(), mechanism_name(h)) != offered.end();
    };
    std::optional<crypto::Hash> hash = options_.hash;
    if (!hash) {
        if (offers(crypto::Hash::sha256))
            hash = crypto::Hash::sha256;
        else if (offers(crypto::Hash::sha1))
            hash = crypto::Hash::sha1;
    }
    if (offered.empty() && features_.child("starttls", ns::tls))
        co_return Error::make(ErrorKind::tls, "sasl", "server requires TLS",
                              "it offers only STARTTLS");
    if (!hash || !offers(*hash)) {
        std::string list;
        for (const auto& m : offered) list += (list.empty() ? "" : " ") + m;
        co_return Error::make(
            ErrorKind::auth, "sasl",
            (hash ? mechanism_name(*hash) : std::string("SCRAM")) + " not offered",
            list.empty() ? "no SASL mechanisms" : "offered: " + list);
    }
    const std::string mechanism = mechanism_name(*hash);

    sasl::ScramClient scram(*hash, user, password);
    if (auto w =
            co_await write("<auth xmlns='" + std::string(ns::sasl) + "' mechanism='" + mechanism +
                           "'>" + crypto::base64_encode(scram.client_first()) + "</auth>");
        !w)
        co_return w;

    std::string cache_key;
    bool sent_final = false;
    bool verified = false;
    for (;;) {
        auto got = co_await next_stanza("sasl");
        if (!got) co_return got.error();
        const xml::Element& reply = *got;
        if (reply.is("failure", ns::sasl))
            co_return Error::make(ErrorKind::auth, "sasl", condition_of(reply, ns::sasl),
                                  reply.child_text("text", ns::sasl));
        auto data = decode_sasl(reply);
        if (!data) co_return Error::make(ErrorKind::protocol, "sasl", "bad base64 from server");
        if (reply.is("challenge", ns::sasl) && !sent_final) {
            // server-first-message (RFC 5802 §5.1): salt and iteration count key the cache.
            auto salt = sasl::scram_attr(*data, 's');
            auto iterations = sasl::scram_attr(*data, 'i');
            if (cache && salt && iterations) {
                cache_key = user + '\n' + mechanism + '\n' + std::string(*salt) + '\n' +
                            std::string(*iterations);
                auto raw_salt = crypto::base64_decode(*salt);
                if (auto hit = cache->find(cache_key); hit && raw_salt)
                    scram.reuse_salted_password(*raw_salt,
                                                std::atoi(std::string(*iterations).c_str()), *hit);
            }
            auto final_message = scram.client_final(*data);
            if (!final_message)
                co_return Error::make(ErrorKind::protocol, "sasl", "bad server-first-message",
                                      *data);
            if (cache && !cache_key.empty()) cache->store(cache_key, scram.salted_password());
            if (auto w = co_await write(sasl_element("response", *final_message)); !w) co_return w;
            sent_final = true;
            continue;
        }
        if (!sent_final)
            co_return Error::make(ErrorKind::protocol, "sasl",
                                  "unexpected <" + reply.name() + "/>");
        if (!data->empty()) {
            if (!scram.verify_server_final(*data))
                co_return Error::make(ErrorKind::auth, "sasl", "server signature mismatch",
                                      "the server does not know the password: not the server "
                                      "you meant?");
            verified = true;
        }
        if (reply.is("challenge", ns::sasl)) {
            // Some servers send server-final-message as a challenge (RFC 6120 §6.3.10 allows
            // it); the answer is an empty response.
            if (auto w = co_await write("<response xmlns='" + std::string(ns::sasl) + "'/>"); !w)
                co_return w;
            continue;
        }
        if (!reply.is("success", ns::sasl))
            co_return Error::make(ErrorKind::protocol, "sasl",
                                  "unexpected <" + reply.name() + "/>");
        if (!verified) co_return Error::make(ErrorKind::auth, "sasl", "no server signature");
        break;
    }
    co_return co_await open_stream();  // RFC 6120 §6.4.6: restart after SASL
}

asio::awaitable<Result<xml::Element>> Stream::request(const char* step, std::string iq,
                                                      const std::string& id) {
    if (auto w = co_await write(std::move(iq)); !w) co_return w.error();
    for (;;) {
        auto got = co_await next_stanza(step);
        if (!got) co_return std::move(got);
        if (got->name() != "iq" || got->attr("id") != id) continue;
        if (got->attr("type") == "result") co_return std::move(got);
        co_return stanza_error(step, *got);
    }
}

asio::awaitable<Result<std::string>> Stream::bind(const std::string& resource) {
    if (!features_.child("bind", ns::bind))
        co_return Error::make(ErrorKind::protocol, "bind", "not offered by the server");
    std::string id = "bind" + std::to_string(++next_id_);
    // RFC 6120 §7.6
    std::string iq = "<iq type='set' id='" + id + "'><bind xmlns='" + std::string(ns::bind) + "'>";
    if (!resource.empty()) iq += "<resource>" + xml::escape(resource) + "</resource>";
    iq += "</bind></iq>";
    auto reply = co_await request("bind", std::move(iq), id);
    if (!reply) co_return reply.error();
    const auto* bound = reply->child("bind", ns::bind);
    std::string jid = bound ? bound->child_text("jid", ns::bind) : std::string();
    if (jid.empty())
        co_return Error::make(ErrorKind::protocol, "bind", "no JID in the bind result");
    co_return std::move(jid);
}

asio::awaitable<Result<bool>> Stream::register_account(const std::string& user,
                                                       const std::string& password) {
    std::string id = "reg" + std::to_string(++next_id_);
    // XEP-0077 §3.1: registering with the fields the server needs in every case.
    auto reply = co_await request("register",
                                  "<iq type='set' id='" + id + "'><query xmlns='" +
                                      std::string(ns::register_) + "'><username>" +
                                      xml::escape(user) + "</username><password>" +
                                      xml::escape(password) + "</password></query></iq>",
                                  id);
    if (reply) co_return false;
    if (reply.error().kind == ErrorKind::stanza && reply.error().condition == "conflict")
        co_return true;
    co_return reply.error();
}

asio::awaitable<Result<void>> Stream::close_stream(double seconds) {
    arm_deadline(seconds);
    Result<void> result = co_await write("</stream:stream>");
    if (result) {
        // RFC 6120 §4.4: wait for the server's close before dropping the connection.
        error_code ec;
        for (;;) {
            Event ev = co_await next_event(ec);
            if (ec) {
                if (timed_out_) result = io_failure("close", ec);
                break;  // the server closed the socket: also fine
            }
            if (ev == Event::stream_close) break;
            if (ev == Event::error) {
                result = Error::make(ErrorKind::protocol, "close", "bad XML from server",
                                     parser_.error_text());
                break;
            }
        }
    }
    disarm_deadline();
    abort();
    co_return result;
}

asio::awaitable<Result<void>> Stream::wait_for_end() {
    error_code ec;
    Result<void> how;
    for (;;) {
        Event ev = co_await next_event(ec);
        if (ec) {
            if (!close_requested_ || timed_out_) how = io_failure("idle", ec);
            break;
        }
        if (ev == Event::stanza) {
            xml::Element el = parser_.take_stanza();
            if (el.is("error", ns::streams)) {
                how = stream_error("idle", el);
                break;
            }
            continue;  // anything else an idle session may get
        }
        if (ev == Event::stream_close) {
            if (!close_requested_)
                how = Error::make(ErrorKind::closed, "idle", "server closed the stream");
            break;
        }
        if (ev == Event::error) {
            how = Error::make(ErrorKind::protocol, "idle", "bad XML from server",
                              parser_.error_text());
            break;
        }
    }
    disarm_deadline();
    abort();
    co_return how;
}

asio::awaitable<Result<xml::Element>> Stream::read() {
    error_code ec;
    Event ev = co_await next_event(ec);
    if (ec) {
        if (close_requested_ && !timed_out_) co_return xml::Element();
        co_return io_failure("read", ec);
    }
    switch (ev) {
        case Event::stanza: {
            xml::Element out = parser_.take_stanza();
            if (out.is("error", ns::streams)) co_return stream_error("read", out);
            co_return std::move(out);
        }
        case Event::stream_close:
            if (close_requested_) co_return xml::Element();
            co_return Error::make(ErrorKind::closed, "read", "server closed the stream");
        case Event::error:
            co_return Error::make(ErrorKind::protocol, "read", "bad XML from server",
                                  parser_.error_text());
        default:
            co_return Error::make(ErrorKind::protocol, "read", "unexpected stream header");
    }
}

asio::awaitable<void> Stream::request_close(double seconds) {
    if (!socket_.is_open()) co_return;
    close_requested_ = true;
    arm_deadline(seconds);
    co_await write("</stream:stream>");
}

}  // namespace hongyan::client
