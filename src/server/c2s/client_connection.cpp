#include "server/c2s/client_connection.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "server/c2s/resource_binding.hpp"
#include "server/c2s/stream_features.hpp"
#include "server/modules/module.hpp"
#include "server/net/buffer_pool.hpp"
#include "server/router/router.hpp"
#include "server/run_on.hpp"
#include "server/sasl/sasl_server.hpp"
#include "server/server_context.hpp"
#include "xmpp/crypto.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/stream_management.hpp"

namespace hongyan::c2s {

namespace asio = boost::asio;
using net::StreamEvent;
using xml::Element;

namespace {

// Most bytes handed to the transport in one write.
constexpr std::size_t kMaxWrite = 256 * 1024;

// RFC 6120 §6.4: the SASL elements of a client stream.
std::string sasl_element(std::string_view name, std::string_view data = {},
                         bool with_data = false) {
    std::string out = "<";
    out += name;
    out += " xmlns=\"";
    out += ns::sasl;
    out += "\"";
    if (!with_data) return out + "/>";
    out += ">";
    out += data.empty() ? std::string("=") : crypto::base64_encode(data);
    out += "</";
    out += name;
    out += ">";
    return out;
}

std::string sasl_failure(sasl::Failure f, std::string_view text) {
    std::string out = "<failure xmlns=\"";
    out += ns::sasl;
    out += "\"><";
    out += to_string(f);
    out += "/>";
    if (!text.empty()) {
        out += "<text xml:lang=\"en\">";
        xml::escape(text, out);
        out += "</text>";
    }
    out += "</failure>";
    return out;
}

// XEP-0198 elements.
std::string sm_failed(std::string_view condition, std::optional<std::uint32_t> h = std::nullopt) {
    std::string out = "<failed xmlns=\"";
    out += ns::sm;
    out += '"';
    if (h) {
        out += " h=\"";
        out += std::to_string(*h);
        out += '"';
    }
    out += "><";
    out += condition;
    out += " xmlns=\"";
    out += ns::stanzas;
    out += "\"/></failed>";
    return out;
}

std::string sm_ack(std::uint32_t h) {
    return "<a xmlns=\"" + std::string(ns::sm) + "\" h=\"" + std::to_string(h) + "\"/>";
}

}  // namespace

ClientConnection::ClientConnection(ServerContext& server, std::unique_ptr<net::Transport> transport)
    : server_(server),
      transport_(std::move(transport)),
      ip_(transport_->remote_address().to_string()),
      session_(std::make_shared<ClientSession>(server, transport_->executor(), ip_,
                                               transport_->remote_string())),
      read_bucket_(static_cast<double>(server.settings.read_rate)) {
    created_ = last_read_ = last_write_ = closing_at_ = Clock::now();
    session_->attach(this);
}

ClientConnection::~ClientConnection() {
    session_->detach();
    if (counted_) server_.connections.release(ip_);
}

void ClientConnection::start() {
    // The function object keeps the connection alive as long as run() lasts.
    spawn_logged(
        transport_->executor(), [self = shared_from_this()] { return self->run(); },
        "c2s connection");
}

bool ClientConnection::admit() {
    if (!server_.connections.acquire(ip_)) {
        spdlog::warn("c2s {} refused: too many connections from {}", transport_->remote_string(),
                     ip_);
        fail(StreamErrorCondition::policy_violation, "too many connections from your address",
             "too many connections");
        return false;
    }
    counted_ = true;
    spdlog::info("c2s {} open ({})", transport_->remote_string(),
                 transport_->kind() == "tls" ? "direct TLS" : transport_->kind());
    return true;
}

asio::awaitable<void> ClientConnection::run() {
    // One coroutine frame for the whole life of the connection (frames are much of what
    // an idle connection costs): the read loop, then the cleanup that always runs.
    try {
        bool ready = admit() && co_await transport_->handshake();
        if (!ready && close_reason_.empty()) close_reason_ = "TLS handshake failed";
        while (ready && transport_->is_open() && !closing_) {
            auto buffered = transport_->buffered_event();
            StreamEvent ev = buffered ? std::move(*buffered) : co_await transport_->next_event();
            if (closing_) break;
            using K = StreamEvent::Kind;
            if (ev.kind == K::eof) {
                if (close_reason_.empty())
                    close_reason_ = ev.text.empty() ? "connection closed by peer" : ev.text;
                break;
            }
            if (ev.kind == K::error) {
                fail(ev.error, ev.text, std::string(to_string(ev.error)) + ": " + ev.text);
                break;
            }
            if (ev.kind == K::close) {
                close_reason_ = "stream closed by client";
                end_stream(StreamErrorCondition::none, {});
                break;
            }
            if (ev.kind == K::open) {
                on_open(ev.element);
            } else {
                After after = co_await on_element(std::move(ev.element));
                if (after == After::restart) header_sent_ = false;
            }
            // Throttled by the bytes read (limits.read_rate); a coroutine only to wait.
            if (read_bucket_.enabled() && !closing_)
                if (auto pause = read_pause(); pause > Clock::duration::zero())
                    co_await pause_reading(pause);
        }
    } catch (const std::exception& e) {
        // A bug, not the peer's doing: log it and clean up like any other end.
        spdlog::error("c2s {} failed: {}", transport_->remote_string(), e.what());
        if (close_reason_.empty()) close_reason_ = std::string("internal error: ") + e.what();
    }
    closing_ = true;
    if (released_) {
        // The session went on with the stream that resumed it.
        transport_->close();
        spdlog::info("c2s {} closed: {}", transport_->remote_string(), close_reason_);
        co_return;
    }
    if (resumable_end()) {
        transport_->close();
        session_->detach();
        session_->hibernate();
        spdlog::info("c2s {} closed {}: {}; the session waits {} s for a resume",
                     transport_->remote_string(), session_->jid().str(),
                     close_reason_.empty() ? "closed" : close_reason_,
                     session_->sm()->timeout.count());
        co_return;
    }
    session_->leave();
    // Let queued output (a stream error, say) reach the peer before the socket goes.
    if (transport_->is_open() && (writing_ || !session_->output_empty()))
        co_await drain(server_.settings.close_timeout);
    transport_->close();
    const bool was_bound = session_->bound();
    session_->detach();
    session_->end();
    spdlog::info("c2s {} closed{}{}: {}", transport_->remote_string(), was_bound ? " " : "",
                 was_bound ? session_->jid().str() : "",
                 close_reason_.empty() ? "closed" : close_reason_);
}

ClientConnection::Clock::duration ClientConnection::read_pause() {
    std::uint64_t total = transport_->bytes_read();
    auto pause = read_bucket_.consume(static_cast<std::size_t>(total - throttled_bytes_));
    throttled_bytes_ = total;
    return pause;
}

asio::awaitable<void> ClientConnection::pause_reading(Clock::duration pause) {
    asio::steady_timer t(transport_->executor(), pause);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

void ClientConnection::fail(StreamErrorCondition cond, std::string text, std::string reason) {
    if (close_reason_.empty()) close_reason_ = std::move(reason);
    end_stream(cond, text);
}

void ClientConnection::open_our_stream() {
    session_->send_stream_data(
        transport_->open_stream(session_->host().domain, crypto::random_token(16)));
    header_sent_ = true;
}

void ClientConnection::on_open(const Element& header) {
    // RFC 6120 §4.7.5: version 1.0 is required for everything this server speaks.
    std::string_view version = header.attr("version");
    auto dot = version.find('.');
    if (version.empty() || dot == std::string_view::npos || version.substr(0, dot) != "1") {
        fail(StreamErrorCondition::unsupported_version, "version='1.0' is required",
             "unsupported version");
        return;
    }
    std::string_view to = header.attr("to");
    if (!to.empty()) {
        // RFC 6120 §4.9.3.6: a domain not hosted here; after authentication the stream
        // stays with its host (§4.3.2: restarts name the same one).
        auto domain = jid::nameprep(to);
        Host* host = domain ? server_.find_host(*domain) : nullptr;
        if (!host || (session_->authenticated() && host != &session_->host())) {
            fail(StreamErrorCondition::host_unknown,
                 "this server serves " + server_.config.host_list(),
                 "unknown host " + std::string(to));
            return;
        }
        session_->set_host(*host);
    }
    open_our_stream();
    std::vector<std::string> mechanisms;
    if (!session_->authenticated()) {
        sasl_ = std::make_unique<sasl::SaslServer>(
            server_, session_->host(), ip_, transport_->remote_string(), transport_->secure());
        mechanisms = sasl_->mechanisms();
    }
    session_->send_stream_data(
        stream_features(server_, *transport_, session_->authenticated(), mechanisms));
}

asio::awaitable<ClientConnection::After> ClientConnection::on_element(Element el) {
    const bool authenticated = session_->authenticated();
    if (el.xmlns() == ns::tls) {
        if (el.name() == "starttls" && transport_->can_starttls() && !authenticated) {
            After a = co_await handle_starttls();
            co_return a;
        }
        fail(StreamErrorCondition::policy_violation, "STARTTLS is not available now",
             "unexpected TLS negotiation");
        co_return After::nothing;
    }
    if (!authenticated && tls_required(server_, *transport_)) {
        // RFC 6120 §5.3.1: TLS is mandatory-to-negotiate here.
        fail(StreamErrorCondition::policy_violation, "STARTTLS is required",
             "stanza before STARTTLS");
        co_return After::nothing;
    }
    if (el.xmlns() == ns::sasl) {
        if (authenticated) {
            fail(StreamErrorCondition::policy_violation, "already authenticated",
                 "SASL after authentication");
            co_return After::nothing;
        }
        After a = co_await handle_sasl(el);
        co_return a;
    }
    if (el.xmlns() == ns::sm && authenticated) {
        co_await handle_sm(el);
        co_return After::nothing;
    }
    if (el.xmlns() == ns::csi && authenticated) {
        // XEP-0352 §4: <active/> and <inactive/>, no answer.
        if (el.name() == "active" || el.name() == "inactive")
            session_->set_inactive(el.name() == "inactive");
        else
            fail(StreamErrorCondition::unsupported_stanza_type,
                 "unknown client state <" + el.name() + "/>", "unknown CSI element");
        co_return After::nothing;
    }
    if (el.xmlns() != ns::client) {
        fail(StreamErrorCondition::invalid_namespace, "stanzas must be in jabber:client",
             "stanza in namespace " + el.xmlns());
        co_return After::nothing;
    }
    if (el.name() != "message" && el.name() != "presence" && el.name() != "iq") {
        fail(StreamErrorCondition::unsupported_stanza_type,
             "unknown top-level element <" + el.name() + "/>",
             "unsupported element <" + el.name() + "/>");
        co_return After::nothing;
    }
    // XEP-0198 §4: every stanza received after <enable/> counts, whatever becomes of it.
    if (auto* sm = session_->sm()) ++sm->handled_in;
    if (!authenticated) {
        if (el.name() == "iq") {
            co_await handle_pre_auth_iq(std::move(el));
            co_return After::nothing;
        }
        fail(StreamErrorCondition::not_authorized, "authenticate first",
             "stanza before authentication");
        co_return After::nothing;
    }
    if (!session_->bound()) {
        if (el.name() == "iq" && el.attr("type") == "set" && el.child("bind", ns::bind)) {
            co_await bind_resource(server_, session_, el);
            co_return After::nothing;
        }
        fail(StreamErrorCondition::not_authorized, "bind a resource first",
             "stanza before resource binding");
        co_return After::nothing;
    }
    if (el.name() == "iq" && el.child("bind", ns::bind)) {
        // RFC 6120 §7.7.2.2: only one resource per stream.
        reply_unrouted_error(*session_, el, StanzaErrorCondition::not_allowed,
                             "a resource is already bound");
        co_return After::nothing;
    }
    // RFC 6120 §8.1.2.1: the server stamps the full JID; whatever the client put there
    // (a spoofed address included) is replaced.
    el.set_attr("from", session_->jid().str());
    co_await server_.router->route_from_client(session_, std::move(el));
    co_return After::nothing;
}

asio::awaitable<ClientConnection::After> ClientConnection::handle_starttls() {
    session_->send_stream_data("<proceed xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"/>");
    co_await drain(server_.settings.close_timeout);
    if (!transport_->is_open() || closing_) co_return After::nothing;
    // Plaintext that followed <starttls/> is dropped (RFC 6120 §5.4.3.3).
    transport_->restart_stream(false);
    if (!co_await transport_->starttls()) {
        if (close_reason_.empty()) close_reason_ = "TLS handshake failed";
        closing_ = true;
        closing_at_ = Clock::now();
        transport_->close();
        co_return After::nothing;
    }
    co_return After::restart;
}

asio::awaitable<ClientConnection::After> ClientConnection::handle_sasl(const Element& el) {
    sasl::Step step;
    if (el.name() == "abort") {
        step = sasl_->abort();
    } else if (el.name() == "auth") {
        std::string text = el.text();
        step = co_await sasl_->start(el.attr("mechanism"), text, !text.empty());
    } else if (el.name() == "response") {
        if (!sasl_->in_progress()) {
            fail(StreamErrorCondition::policy_violation, "no SASL exchange in progress",
                 "SASL response without exchange");
            co_return After::nothing;
        }
        step = co_await sasl_->respond(el.text());
    } else {
        step.failure = sasl::Failure::malformed_request;
        step.text = "unknown SASL element";
    }
    if (closing_) co_return After::nothing;
    using K = sasl::Step::Kind;
    if (step.kind == K::challenge) {
        session_->send_stream_data(sasl_element("challenge", step.data, true));
        co_return After::nothing;
    }
    if (step.kind == K::failure) {
        session_->send_stream_data(sasl_failure(step.failure, step.text));
        if (step.end_stream)
            fail(StreamErrorCondition::policy_violation, "too many failed authentication attempts",
                 "too many failed authentication attempts");
        co_return After::nothing;
    }
    session_->send_stream_data(sasl_element("success", step.data, !step.data.empty()));
    session_->set_authenticated(sasl_->username());
    sasl_.reset();
    transport_->set_limits(server_.settings.parser_limits);
    // RFC 6120 §6.4.6: the stream restarts; what the client sent after its last SASL
    // element already belongs to the new stream.
    transport_->restart_stream(true);
    co_return After::restart;
}

asio::awaitable<void> ClientConnection::handle_pre_auth_iq(Element iq) {
    std::string_view type = iq.attr("type");
    const Element* payload = iq.first_child();
    const modules::ModuleHost::Entry* entry = nullptr;
    if (payload && (type == "get" || type == "set")) {
        entry =
            server_.modules->find_iq(type == "get" ? modules::IqType::get : modules::IqType::set,
                                     modules::IqTarget::host, payload->xmlns());
    }
    if (!entry || !entry->pre_auth) {
        fail(StreamErrorCondition::not_authorized, "authenticate first",
             "iq before authentication");
        co_return;
    }
    modules::IqRequest req{server_,       session_->host(), session_,
                           std::move(iq), std::nullopt,     std::nullopt};
    try {
        co_await entry->handler(req);
    } catch (const std::exception& e) {
        spdlog::error("pre-auth iq handler for {} failed: {}", req.payload().xmlns(), e.what());
        req.error(StanzaErrorCondition::internal_server_error);
    }
}

// ---- stream management (XEP-0198) -----------------------------------------------------

asio::awaitable<void> ClientConnection::handle_sm(const Element& el) {
    const std::string& name = el.name();
    auto* sm = session_->sm();
    if (name == "enable") {
        // §3: after resource binding, once.
        if (!server_.settings.sm_enabled) {
            session_->send_stream_data(sm_failed("feature-not-implemented"));
        } else if (!session_->bound() || sm) {
            session_->send_stream_data(sm_failed("unexpected-request"));
        } else {
            const std::string_view resume = el.attr("resume");
            auto timeout = server_.settings.sm_resume_timeout;
            // The client may prefer a shorter wait (§5, 'max'), never a longer one.
            if (auto max = parse_sm_count(el.attr("max")); max && *max > 0)
                timeout = std::min(timeout, std::chrono::seconds(*max));
            std::string id;
            if ((resume == "true" || resume == "1") && timeout.count() > 0)
                id = crypto::random_token(24);
            std::string out = "<enabled xmlns=\"" + std::string(ns::sm) + '"';
            if (!id.empty())
                out += " id=\"" + id + "\" resume=\"true\" max=\"" +
                       std::to_string(timeout.count()) + '"';
            out += "/>";
            session_->enable_sm(std::move(id), timeout);
            session_->send_stream_data(std::move(out));
        }
        co_return;
    }
    if (name == "resume") {
        co_await handle_resume(el);
        co_return;
    }
    if (name == "r") {
        if (!sm) {
            session_->send_stream_data(sm_failed("unexpected-request"));
            co_return;
        }
        // What this 'h' counts must be durable before the client hears it is handled.
        session_->after_durable(
            [s = session_.get(), h = sm->handled_in] { s->send_stream_data(sm_ack(h)); });
        co_return;
    }
    if (name == "a") {
        if (!sm) co_return;
        auto h = parse_sm_count(el.attr("h"));
        if (!h) {
            fail(StreamErrorCondition::invalid_xml, "<a/> needs a numeric 'h'", "bad <a/>");
            co_return;
        }
        if (!session_->acknowledge(*h)) {
            // §4: the client acknowledged more than was sent.
            const std::uint32_t sent =
                sm->acked_out + static_cast<std::uint32_t>(sm->unacked.size());
            fail(StreamErrorCondition::undefined_condition,
                 "you acknowledged " + std::to_string(*h) + " stanzas; " + std::to_string(sent) +
                     " were sent",
                 "handled-count-too-high");
        }
        co_return;
    }
    fail(StreamErrorCondition::unsupported_stanza_type,
         "unknown stream management element <" + name + "/>", "unknown <" + name + "/>");
}

asio::awaitable<void> ClientConnection::handle_resume(const Element& el) {
    // §5: instead of binding, once per stream.
    if (session_->bound() || session_->sm() || resume_tried_) {
        session_->send_stream_data(sm_failed("unexpected-request"));
        co_return;
    }
    resume_tried_ = true;
    auto h = parse_sm_count(el.attr("h"));
    const std::string previd(el.attr("previd"));
    if (!h || previd.empty()) {
        session_->send_stream_data(sm_failed("bad-request"));
        co_return;
    }
    auto old = server_.resumptions->claim(previd, session_->username(), &session_->host());
    if (!old) {
        session_->send_stream_data(sm_failed("item-not-found"));
        co_return;
    }
    session_->hold_output(true);
    std::optional<ClientSession::Handover> handover;
    try {
        handover = co_await asio::co_spawn(old->executor(), old->hand_over(*h, session_),
                                           asio::use_awaitable);
    } catch (const std::exception& e) {
        spdlog::error("c2s {} resume failed: {}", transport_->remote_string(), e.what());
    }
    if (!handover) {
        session_->hold_output(false);
        session_->send_stream_data(sm_failed("item-not-found"));
        co_return;
    }
    const std::uint32_t handled = handover->sm->handled_in;
    const std::string id = handover->sm->id;
    // The old stream's stanzas are durable before the client hears they were handled.
    co_await durable();
    std::string resumed = "<resumed xmlns=\"" + std::string(ns::sm) + "\" previd=\"";
    xml::escape(previd, resumed);
    resumed += "\" h=\"" + std::to_string(handled) + "\"/>";
    session_->adopt(std::move(*handover), std::move(resumed));
    server_.resumptions->add(id, session_);
    spdlog::info("c2s {} resumed {}", transport_->remote_string(), session_->jid().str());
}

asio::awaitable<void> ClientConnection::durable() {
    struct Wait {
        explicit Wait(asio::any_io_executor ex)
            : timer(ex, asio::steady_timer::time_point::max()) {}
        asio::steady_timer timer;
        bool done = false;
    };
    auto w = std::make_shared<Wait>(transport_->executor());
    session_->after_durable([w] {
        w->done = true;
        w->timer.cancel();
    });
    while (!w->done) co_await w->timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

void ClientConnection::request_ack(bool now) {
    auto* sm = session_->sm();
    if (!sm || sm->requested || sm->unacked.empty() || closing_) return;
    if (!now && sm->since_request < server_.settings.sm_request_after) return;
    sm->requested = true;
    sm->since_request = 0;
    session_->send_stream_data("<r xmlns=\"" + std::string(ns::sm) + "\"/>");
}

bool ClientConnection::resumable_end() const {
    const auto* sm = session_->sm();
    return sm && !sm->id.empty() && !stream_ended_ && !session_->closing() &&
           !server_.shutting_down;
}

void ClientConnection::release() {
    released_ = true;
    if (close_reason_.empty()) close_reason_ = "resumed on another connection";
    closing_ = true;
    closing_at_ = Clock::now();
    transport_->close();
}

// ---- output ----------------------------------------------------------------------------

void ClientConnection::output_ready() {
    if (writing_ || !transport_->is_open() || !transport_->ready()) return;
    writing_ = true;
    spawn_logged(transport_->executor(), write_loop(shared_from_this()), "c2s writer");
}

asio::awaitable<void> ClientConnection::write_loop(std::shared_ptr<ClientConnection> self) {
    (void)self;  // keeps the connection alive while bytes are in flight
    using Batches = net::BufferPool<std::vector<OutUnit>, 1024>;
    // Yield once, so that everything queued by the handlers running now (a burst of
    // deliveries, a reply and a push) goes out in one write.
    co_await asio::post(transport_->executor(), asio::use_awaitable);
    std::vector<OutUnit> batch = Batches::take(32);
    while (transport_->is_open()) {
        session_->take_output(batch, kMaxWrite);
        if (batch.empty()) break;
        if (spdlog::should_log(spdlog::level::trace))
            for (const auto& u : batch)
                spdlog::trace("c2s {} >>> {}", transport_->remote_string(),
                              u.kind == OutUnit::Kind::keepalive ? " " : u.bytes());
        bool ok = co_await transport_->write(batch);
        ++writes_;  // tick() turns this into last_write_: no clock read per burst
        if (released_) {
            // Resumed elsewhere meanwhile: what was written or not is the session's now.
            session_->written(batch, false);
            break;
        }
        session_->written(batch, ok);
        if (ok) request_ack(false);
        if (!ok) {
            if (close_reason_.empty()) close_reason_ = "write failed";
            closing_ = true;
            closing_at_ = Clock::now();
            transport_->close();
            break;
        }
    }
    Batches::give(std::move(batch));
    writing_ = false;
    if (drain_waiter_) drain_waiter_->cancel();
    if (closing_ && session_->output_empty()) transport_->close();
}

asio::awaitable<void> ClientConnection::drain(Clock::duration limit) {
    const auto deadline = Clock::now() + limit;
    while (transport_->is_open() && (writing_ || !session_->output_empty())) {
        if (!writing_) {
            output_ready();
            if (!writing_) break;  // nothing can be written now
        }
        asio::steady_timer t(transport_->executor(), deadline);
        drain_waiter_ = &t;
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        drain_waiter_ = nullptr;
        if (!ec) break;  // the deadline passed: the peer does not read
    }
}

void ClientConnection::end_stream(StreamErrorCondition cond, std::string_view text) {
    if (closing_) return;
    stream_ended_ = true;
    if (close_reason_.empty()) close_reason_ = text.empty() ? "closed" : std::string(text);
    closing_ = true;
    closing_at_ = Clock::now();
    if (!transport_->is_open()) return;
    if (!transport_->ready()) {
        // A TLS handshake is under way: no stream error can be written until it
        // completes, which a silent peer never lets happen.
        transport_->close();
        return;
    }
    // RFC 6120 §4.9.1.2: a stream error goes inside our own stream, so open it first if
    // the client's header never got an answer. Everything is queued before any write.
    if (!header_sent_) open_our_stream();
    session_->drop_bulk_output();
    if (cond != StreamErrorCondition::none)
        session_->send_stream_data(
            stream_error_xml(cond, text, transport_->stream_prefix_declaration()));
    session_->send_stream_data(transport_->close_stream());
    session_->seal();
    // Contacts learn at once that this resource is gone, not when the last bytes are out.
    session_->leave();
    output_ready();
}

void ClientConnection::abort(std::string_view reason) {
    stream_ended_ = true;
    if (close_reason_.empty()) close_reason_ = reason;
    closing_ = true;
    closing_at_ = Clock::now();
    session_->leave();
    transport_->close();
}

void ClientConnection::tick(Clock::time_point now) {
    const Settings& s = server_.settings;
    if (closing_) {
        // The peer does not read what is left, or a write is stuck: give up on it.
        if (now - closing_at_ > s.close_timeout) transport_->close();
        return;
    }
    // Any input counts as life, whitespace keepalives (RFC 6120 §4.6.1) included, though
    // they make no stream event.
    if (transport_->bytes_read() != bytes_seen_) {
        bytes_seen_ = transport_->bytes_read();
        last_read_ = now;
    }
    if (writes_ != writes_seen_) {
        writes_seen_ = writes_;
        last_write_ = now;
    }
    if (!session_->bound()) {
        if (now - created_ > s.preauth_timeout)
            fail(StreamErrorCondition::connection_timeout, "no authentication in time",
                 "authentication timeout");
        return;
    }
    if (s.idle_timeout.count() > 0 && now - last_read_ > s.idle_timeout) {
        if (resumable_end()) {
            // A silent phone: the session waits for it to resume rather than ending.
            if (close_reason_.empty()) close_reason_ = "idle timeout";
            closing_ = true;
            closing_at_ = now;
            transport_->close();
            return;
        }
        fail(StreamErrorCondition::connection_timeout, "idle for too long", "idle timeout");
        return;
    }
    request_ack(true);
    if (s.parser_release_after.count() > 0 && now - last_read_ >= s.parser_release_after) {
        transport_->release_idle_memory();
    }
    if (s.keepalive_interval.count() > 0 && !writing_ && now - last_write_ > s.keepalive_interval) {
        last_write_ = now;
        session_->send_keepalive();
    }
}

}  // namespace hongyan::c2s
