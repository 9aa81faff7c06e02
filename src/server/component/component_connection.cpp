#include "server/component/component_connection.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>

#include "server/router/router.hpp"
#include "server/run_on.hpp"
#include "server/server_context.hpp"
#include "xmpp/crypto.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::component {

namespace asio = boost::asio;
using net::StreamEvent;
using xml::Element;

namespace {

constexpr std::size_t kMaxWrite = 256 * 1024;

std::string hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

// `jid` is `domain` or in a subdomain of it.
bool in_domain(const Jid& jid, std::string_view domain) {
    std::string_view d = jid.domain();
    return d == domain || (d.size() > domain.size() && d.ends_with(domain) &&
                           d[d.size() - domain.size() - 1] == '.');
}

}  // namespace

ComponentConnection::ComponentConnection(ServerContext& server,
                                         std::unique_ptr<net::Transport> transport)
    : server_(server), transport_(std::move(transport)) {
    created_ = closing_at_ = Clock::now();
}

ComponentConnection::~ComponentConnection() = default;

void ComponentConnection::start() {
    spawn_logged(
        transport_->executor(), [self = shared_from_this()] { return self->run(); },
        "component connection");
}

asio::awaitable<void> ComponentConnection::run() {
    spdlog::info("component {} open", transport_->remote_string());
    try {
        while (transport_->is_open() && !closing_) {
            auto buffered = transport_->buffered_event();
            StreamEvent ev = buffered ? std::move(*buffered) : co_await transport_->next_event();
            if (closing_) break;
            using K = StreamEvent::Kind;
            if (ev.kind == K::eof) {
                if (close_reason_.empty()) close_reason_ = "connection closed by peer";
                break;
            }
            if (ev.kind == K::error) {
                fail(ev.error, ev.text, std::string(to_string(ev.error)) + ": " + ev.text);
                break;
            }
            if (ev.kind == K::close) {
                close_reason_ = "stream closed by component";
                end_stream(StreamErrorCondition::none, {});
                break;
            }
            if (ev.kind == K::open) {
                if (header_sent_) {
                    fail(StreamErrorCondition::invalid_xml, "the stream was opened twice",
                         "second stream header");
                    break;
                }
                on_open(ev.element);
            } else if (!authenticated_) {
                on_handshake(ev.element);
            } else {
                co_await on_stanza(std::move(ev.element));
            }
        }
    } catch (const std::exception& e) {
        spdlog::error("component {} failed: {}", transport_->remote_string(), e.what());
        if (close_reason_.empty()) close_reason_ = std::string("internal error: ") + e.what();
    }
    closing_ = true;
    if (routed_) server_.router->remove_route(domain_, this);
    routed_ = false;
    // Let a stream error reach the component before the socket goes.
    const auto deadline = Clock::now() + server_.settings.close_timeout;
    while (transport_->is_open() && (writing_ || !out_.empty()) && Clock::now() < deadline) {
        if (!writing_) write_soon();
        asio::steady_timer t(transport_->executor(), std::chrono::milliseconds(20));
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    transport_->close();
    bounce_pending();
    spdlog::info("component {} closed{}{}: {}", transport_->remote_string(),
                 domain_.empty() ? "" : " ", domain_,
                 close_reason_.empty() ? "closed" : close_reason_);
}

void ComponentConnection::on_open(const Element& header) {
    // XEP-0114 §3: the component names its domain in 'to'; we answer with a stream id
    // the handshake will hash.
    stream_id_ = crypto::random_token(16);
    auto domain = jid::nameprep(header.attr("to"));
    domain_ = domain ? *domain : std::string(header.attr("to"));
    queue(transport_->open_stream(domain_, stream_id_));
    header_sent_ = true;
    if (!domain || server_.settings.component_secrets.find(*domain) ==
                       server_.settings.component_secrets.end())
        fail(StreamErrorCondition::host_unknown, "no component is configured for this domain",
             "unknown component domain " + domain_);
}

void ComponentConnection::on_handshake(const Element& el) {
    if (!el.is("handshake", ns::component_accept)) {
        fail(StreamErrorCondition::not_authorized, "send <handshake/> first",
             "stanza before the handshake");
        return;
    }
    const auto& secret = server_.settings.component_secrets.find(domain_)->second;
    // The handshake is the lower-case hex SHA-1 of the stream id followed by the secret.
    std::string expected = hex(crypto::digest(crypto::Hash::sha1, stream_id_ + secret));
    std::string got = el.text();
    std::transform(got.begin(), got.end(), got.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!crypto::equal(got, expected)) {
        fail(StreamErrorCondition::not_authorized, "the handshake does not match the secret",
             "bad handshake");
        return;
    }
    if (!server_.router->add_route(domain_, shared_from_this())) {
        fail(StreamErrorCondition::conflict, "this component is already connected",
             "already connected");
        return;
    }
    routed_ = true;
    authenticated_ = true;
    transport_->set_limits(server_.settings.parser_limits);
    queue("<handshake/>");
    spdlog::info("component {} authenticated as {}", transport_->remote_string(), domain_);
}

asio::awaitable<void> ComponentConnection::on_stanza(Element el) {
    if (el.xmlns() != ns::component_accept ||
        (el.name() != "message" && el.name() != "presence" && el.name() != "iq")) {
        fail(StreamErrorCondition::unsupported_stanza_type,
             "only message, presence and iq are accepted", "unsupported element " + el.name());
        co_return;
    }
    // XEP-0114 §3 and RFC 6120 §4.9.3.9: a component speaks only for its own domain.
    auto from = Jid::parse(el.attr("from"));
    if (!from || !in_domain(*from, domain_)) {
        fail(StreamErrorCondition::invalid_from,
             "'from' must be a JID of " + domain_ + " or of a subdomain of it",
             "stanza from '" + std::string(el.attr("from")) + "'");
        co_return;
    }
    if (el.attr("to").empty()) {
        fail(StreamErrorCondition::improper_addressing, "a stanza from a component needs a 'to'",
             "stanza without 'to'");
        co_return;
    }
    // Inside the server every stanza is in jabber:client.
    el.replace_namespace(ns::component_accept, ns::client);
    el.set_attr("from", from->str());
    auto to = Jid::parse(el.attr("to"));
    if (!to) {
        server_.router->bounce_routed(el, StanzaErrorCondition::jid_malformed,
                                      "the 'to' address is not a valid JID");
        co_return;
    }
    el.set_attr("to", to->str());
    co_await server_.router->route_from_route(std::move(el));
}

void ComponentConnection::deliver(Element stanza) {
    asio::post(transport_->executor(), [self = shared_from_this(), stanza = std::move(stanza)] {
        if (self->authenticated_ && !self->closing_) {
            self->queue_stanza(stanza);
            return;
        }
        // The component went away meanwhile: the stanza finds it gone.
        self->server_.router->find_route(self->domain_)->deliver(stanza);
    });
}

void ComponentConnection::queue_stanza(const Element& stanza) {
    std::string bytes = stanza.to_string(ns::client);
    if (out_bytes_ + bytes.size() > server_.settings.max_outbound_queue) {
        // The component does not keep up: the sender learns, nothing is dropped silently.
        server_.router->bounce_routed(stanza, StanzaErrorCondition::resource_constraint,
                                      "the component " + domain_ + " is not keeping up");
        return;
    }
    out_bytes_ += bytes.size();
    out_.push_back(Pending{std::move(bytes), stanza.name(), std::string(stanza.attr("from")),
                           std::string(stanza.attr("to")), std::string(stanza.attr("id")),
                           std::string(stanza.attr("type"))});
    write_soon();
}

void ComponentConnection::queue(std::string bytes) {
    out_bytes_ += bytes.size();
    out_.push_back(Pending{std::move(bytes), {}, {}, {}, {}, {}});
    write_soon();
}

void ComponentConnection::write_soon() {
    if (writing_ || !transport_->is_open()) return;
    writing_ = true;
    spawn_logged(transport_->executor(), write_loop(shared_from_this()), "component writer");
}

asio::awaitable<void> ComponentConnection::write_loop(std::shared_ptr<ComponentConnection> self) {
    (void)self;  // keeps the connection alive while bytes are in flight
    // Yield once, so that what is being queued now goes out in one write.
    co_await asio::post(transport_->executor(), asio::use_awaitable);
    std::vector<Pending> batch;
    std::vector<net::OutUnit> units;
    while (transport_->is_open() && !out_.empty()) {
        std::size_t n = 0, bytes = 0;
        while (n < out_.size() && (n == 0 || bytes + out_[n].bytes.size() <= kMaxWrite))
            bytes += out_[n++].bytes.size();
        batch.assign(std::make_move_iterator(out_.begin()),
                     std::make_move_iterator(out_.begin() + static_cast<std::ptrdiff_t>(n)));
        out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(n));
        out_bytes_ -= bytes;
        units.clear();
        for (auto& p : batch) {
            if (spdlog::should_log(spdlog::level::trace))
                spdlog::trace("component {} >>> {}", domain_, p.bytes);
            units.push_back(net::OutUnit::stanza(std::move(p.bytes)));
        }
        if (!co_await transport_->write(units)) {
            if (close_reason_.empty()) close_reason_ = "write failed";
            closing_ = true;
            transport_->close();
            // Whether the component got them is unknown: their senders hear they failed.
            out_.insert(out_.begin(), std::make_move_iterator(batch.begin()),
                        std::make_move_iterator(batch.end()));
            break;
        }
    }
    writing_ = false;
    if (closing_ && out_.empty()) transport_->close();
}

void ComponentConnection::bounce_pending() {
    auto pending = std::move(out_);
    out_.clear();
    out_bytes_ = 0;
    for (const auto& p : pending) {
        const bool request =
            p.name == "message" || (p.name == "iq" && (p.type == "get" || p.type == "set"));
        if (!request || p.type == "error" || p.from.empty()) continue;
        Element original(p.name, ns::client);
        original.set_attr("from", p.from);
        original.set_attr("to", p.to);
        if (!p.id.empty()) original.set_attr("id", p.id);
        if (!p.type.empty()) original.set_attr("type", p.type);
        server_.router->bounce_routed(original, StanzaErrorCondition::service_unavailable,
                                      "the component " + domain_ + " went away");
    }
}

void ComponentConnection::fail(StreamErrorCondition cond, std::string text, std::string reason) {
    if (close_reason_.empty()) close_reason_ = std::move(reason);
    end_stream(cond, text);
}

void ComponentConnection::end_stream(StreamErrorCondition cond, std::string_view text) {
    if (closing_) return;
    if (close_reason_.empty()) close_reason_ = text.empty() ? "closed" : std::string(text);
    closing_ = true;
    closing_at_ = Clock::now();
    if (routed_) server_.router->remove_route(domain_, this);
    routed_ = false;
    if (!transport_->is_open()) return;
    if (!header_sent_) {
        queue(transport_->open_stream(server_.primary().domain, crypto::random_token(16)));
        header_sent_ = true;
    }
    if (cond != StreamErrorCondition::none)
        queue(stream_error_xml(cond, text, transport_->stream_prefix_declaration()));
    queue(transport_->close_stream());
}

void ComponentConnection::tick(Clock::time_point now) {
    if (closing_) {
        if (now - closing_at_ > server_.settings.close_timeout) transport_->close();
        return;
    }
    if (!authenticated_ && now - created_ > server_.settings.preauth_timeout)
        fail(StreamErrorCondition::connection_timeout, "no handshake in time", "handshake timeout");
}

}  // namespace hongyan::component
