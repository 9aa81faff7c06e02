#include "server/c2s/c2s_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/router/router.hpp"
#include "server/router/session_registry.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/crypto.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::c2s {

namespace asio = boost::asio;
using xml::Element;

namespace {

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

}  // namespace

C2SSession::C2SSession(ServerContext& server, asio::ip::tcp::socket socket, bool direct_tls,
                       std::string ip)
    : server_(server),
      transport_(std::move(socket)),
      parser_(server.settings.preauth_parser_limits),
      ip_(std::move(ip)),
      direct_tls_(direct_tls) {
    created_ = last_read_ = last_write_ = tokens_at_ = Clock::now();
    read_tokens_ = static_cast<double>(server_.settings.read_rate);
}

C2SSession::~C2SSession() {
    if (counted_) server_.connections.release(ip_);
    finish_written(wbuf_done_, false);
    finish_written(out_done_, false);
}

void C2SSession::finish_written(std::vector<std::function<void(bool)>>& done, bool ok) {
    auto fs = std::move(done);
    done.clear();
    for (auto& f : fs) f(ok);
}

void C2SSession::unbind() {
    if (!bound_ || unbound_) return;
    unbound_ = true;
    if (auto r = server_.registry->remove(jid_, this))
        server_.im->ended(jid_, *r, std::move(directed_), std::move(last_status_));
}

void C2SSession::note_directed(const std::string& to, bool unavailable) {
    auto it = std::find(directed_.begin(), directed_.end(), to);
    if (unavailable) {
        if (it != directed_.end()) directed_.erase(it);
    } else if (it == directed_.end()) {
        directed_.push_back(to);
    }
}

void C2SSession::start() {
    asio::co_spawn(
        transport_.executor(), [self = shared_from_this()] { return self->run(); }, asio::detached);
}

asio::awaitable<void> C2SSession::run() {
    auto self = shared_from_this();
    if (!server_.connections.acquire(ip_)) {
        spdlog::warn("c2s {} refused: too many connections from {}", transport_.remote_string(),
                     ip_);
        close(StreamErrorCondition::policy_violation, "too many connections from your address");
        co_return;
    }
    counted_ = true;
    spdlog::info("c2s {} open ({})", transport_.remote_string(),
                 direct_tls_ ? "direct TLS" : "plain");
    if (direct_tls_) {
        if (!co_await transport_.start_tls(server_.tls)) {
            spdlog::info("c2s {} closed: TLS handshake failed", transport_.remote_string());
            transport_.close();
            co_return;
        }
    }
    while (transport_.is_open() && !closing_) {
        std::string_view data = co_await transport_.read();
        if (data.empty()) {
            if (close_reason_.empty()) close_reason_ = "connection closed by peer";
            break;
        }
        last_read_ = Clock::now();
        if (spdlog::should_log(spdlog::level::trace))
            spdlog::trace("c2s {} <<< {}", transport_.remote_string(), data);
        // The view points into a per-thread buffer: parse it before anything else runs.
        co_await process(data);
        if (server_.settings.read_rate > 0 && !closing_) co_await throttle_reads(data.size());
    }
    closing_ = true;
    unbind();
    // Let queued output (a stream error, say) reach the peer before the socket goes.
    if (transport_.is_open() && (writing_ || !out_.empty())) co_await drain();
    transport_.close();
    spdlog::info("c2s {} closed{}{}: {}", transport_.remote_string(), bound_ ? " " : "",
                 bound_ ? jid_.str() : "", close_reason_.empty() ? "closed" : close_reason_);
}

asio::awaitable<void> C2SSession::throttle_reads(std::size_t n) {
    // Token bucket: rate bytes/s, burst of one second's worth.
    const double rate = static_cast<double>(server_.settings.read_rate);
    auto now = Clock::now();
    read_tokens_ = std::min(
        rate, read_tokens_ + rate * std::chrono::duration<double>(now - tokens_at_).count());
    tokens_at_ = now;
    read_tokens_ -= static_cast<double>(n);
    if (read_tokens_ >= 0) co_return;
    asio::steady_timer t(transport_.executor());
    t.expires_after(std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(-read_tokens_ / rate)));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> C2SSession::process(std::string_view data) {
    // Before binding, a stanza can restart the stream (SASL success), after which the rest
    // of the chunk belongs to the new stream; keep our own copy of such small chunks.
    std::string owned;
    if (!bound_) {
        owned.assign(data);
        data = owned;
    }
    using Event = xml::XmlStreamParser::Event;
    Event ev = parser_.feed(data);
    // (if/else rather than a switch: GCC 12 mis-compiles some co_awaits inside switch cases)
    while (!closing_) {
        if (ev == Event::need_more) co_return;
        if (ev == Event::error) {
            close_reason_ = std::string(to_string(parser_.error())) + ": " + parser_.error_text();
            close(parser_.error(), parser_.error_text());
            co_return;
        }
        if (ev == Event::stream_close) {
            close_reason_ = "stream closed by client";
            close();
            co_return;
        }
        if (ev == Event::stream_open) {
            on_stream_open(parser_.header());
        } else {
            std::size_t consumed = parser_.consumed_of_last_chunk();
            Element stanza = parser_.take_stanza();
            After after = co_await on_stanza(std::move(stanza));
            if (closing_) co_return;
            if (after == After::restart) {
                parser_.reset();
                header_sent_ = false;
                // Bytes after a SASL success belong to the new stream. After STARTTLS,
                // plaintext that followed <starttls/> is dropped (RFC 6120 §5.4.3.3).
                if (authenticated_ && !bound_ && consumed < owned.size()) {
                    std::string rest = owned.substr(consumed);
                    co_await process(rest);
                }
                co_return;
            }
        }
        if (closing_) co_return;
        ev = parser_.resume();
    }
}

void C2SSession::on_stream_open(const Element& header) {
    const Settings& s = server_.settings;
    if (!header.is("stream", ns::streams)) {
        close_reason_ = "bad stream namespace";
        close(StreamErrorCondition::invalid_namespace,
              "the stream element must be <stream:stream/> in http://etherx.jabber.org/streams");
        return;
    }
    if (header.attr("xmlns") != ns::client) {
        close_reason_ = "bad content namespace";
        close(StreamErrorCondition::invalid_namespace,
              "the default namespace must be jabber:client");
        return;
    }
    // RFC 6120 §4.7.5: version 1.0 is required for everything this server speaks.
    std::string_view version = header.attr("version");
    auto dot = version.find('.');
    if (version.empty() || dot == std::string_view::npos || version.substr(0, dot) != "1") {
        close_reason_ = "unsupported version";
        close(StreamErrorCondition::unsupported_version, "version='1.0' is required");
        return;
    }
    std::string_view to = header.attr("to");
    if (!to.empty()) {
        auto domain = jid::nameprep(to);
        if (!domain || *domain != s.domain) {
            close_reason_ = "unknown host " + std::string(to);
            close(StreamErrorCondition::host_unknown, "this server serves " + s.domain);
            return;
        }
    }
    send_stream_header();
    send_features();
}

void C2SSession::send_stream_header() {
    stream_id_ = crypto::random_token(16);
    std::string h =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        "xmlns:stream='http://etherx.jabber.org/streams' id='";
    h += stream_id_;
    h += "' from='";
    xml::escape_attr(server_.settings.domain, h);
    h += "' version='1.0' xml:lang='en'>";
    header_sent_ = true;
    send_raw(h);
}

void C2SSession::send_features() {
    const Settings& s = server_.settings;
    Element features("features", std::string(ns::streams));
    const bool secure = transport_.secure();
    if (!authenticated_) {
        if (!secure && server_.tls) {
            auto& tls = features.add_child("starttls", std::string(ns::tls));
            if (s.require_tls) tls.add_child("required", std::string(ns::tls));
        }
        if (secure || !s.require_tls) {
            auto& mechs = features.add_child("mechanisms", std::string(ns::sasl));
            for (const auto& m : s.mechanisms) {
                if (m == "PLAIN" && !secure) continue;
                mechs.add_child("mechanism", std::string(ns::sasl)).add_text(m);
            }
            for (const auto& f : server_.modules->stream_features(modules::StreamPhase::pre_auth))
                features.add_child(f);
            features.add_child(server_.modules->caps_feature());
        }
    } else {
        features.add_child("bind", std::string(ns::bind));
        for (const auto& f : server_.modules->stream_features(modules::StreamPhase::post_auth))
            features.add_child(f);
        features.add_child(server_.modules->caps_feature());
    }
    // The stream prefix is declared on the header, so write <stream:features> by hand.
    std::string out = "<stream:features>";
    for (const auto* c : features.children()) c->serialize(out, ns::client);
    out += "</stream:features>";
    send_raw(out);
}

asio::awaitable<C2SSession::After> C2SSession::on_stanza(Element el) {
    const Settings& s = server_.settings;
    const bool secure = transport_.secure();

    if (el.xmlns() == ns::tls) {
        if (el.name() == "starttls" && !secure && server_.tls && !authenticated_) {
            After a = co_await handle_starttls();
            co_return a;
        }
        close_reason_ = "unexpected TLS negotiation";
        close(StreamErrorCondition::policy_violation, "STARTTLS is not available now");
        co_return After::nothing;
    }
    if (!authenticated_ && s.require_tls && !secure) {
        // RFC 6120 §5.3.1: TLS is mandatory-to-negotiate here.
        close_reason_ = "stanza before STARTTLS";
        close(StreamErrorCondition::policy_violation, "STARTTLS is required");
        co_return After::nothing;
    }
    if (el.xmlns() == ns::sasl) {
        if (authenticated_) {
            close_reason_ = "SASL after authentication";
            close(StreamErrorCondition::policy_violation, "already authenticated");
            co_return After::nothing;
        }
        After a = co_await handle_sasl(el);
        co_return a;
    }
    if (el.xmlns() != ns::client) {
        close_reason_ = "stanza in namespace " + el.xmlns();
        close(StreamErrorCondition::invalid_namespace, "stanzas must be in jabber:client");
        co_return After::nothing;
    }
    if (el.name() != "message" && el.name() != "presence" && el.name() != "iq") {
        close_reason_ = "unsupported element <" + el.name() + "/>";
        close(StreamErrorCondition::unsupported_stanza_type,
              "unknown top-level element <" + el.name() + "/>");
        co_return After::nothing;
    }
    if (!authenticated_) {
        if (el.name() == "iq") {
            co_await handle_pre_auth_iq(std::move(el));
            co_return After::nothing;
        }
        close_reason_ = "stanza before authentication";
        close(StreamErrorCondition::not_authorized, "authenticate first");
        co_return After::nothing;
    }
    if (!bound_) {
        if (el.name() == "iq" && el.attr("type") == "set" && el.child("bind", ns::bind)) {
            co_await handle_bind(el);
            co_return After::nothing;
        }
        close_reason_ = "stanza before resource binding";
        close(StreamErrorCondition::not_authorized, "bind a resource first");
        co_return After::nothing;
    }
    if (el.name() == "iq" && el.child("bind", ns::bind)) {
        // RFC 6120 §7.7.2.2: only one resource per stream.
        reply_error(el, StanzaErrorCondition::not_allowed, "a resource is already bound");
        co_return After::nothing;
    }
    // RFC 6120 §8.1.2.1: the server stamps the full JID; whatever the client put there
    // (a spoofed address included) is replaced.
    el.set_attr("from", jid_.str());
    auto self = shared_from_this();
    co_await server_.router->route_from_client(self, std::move(el));
    co_return After::nothing;
}

asio::awaitable<C2SSession::After> C2SSession::handle_starttls() {
    send_raw("<proceed xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"/>");
    co_await drain();
    if (!transport_.is_open()) co_return After::nothing;
    if (!co_await transport_.start_tls(server_.tls)) {
        close_reason_ = "TLS handshake failed";
        closing_ = true;
        transport_.close();
        co_return After::nothing;
    }
    spdlog::debug("c2s {} TLS established: {}", transport_.remote_string(),
                  transport_.tls_description());
    co_return After::restart;
}

void C2SSession::sasl_failure(sasl::Failure f, std::string_view text) {
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
    send_raw(out);
    scram_.reset();
    mechanism_.clear();
}

void C2SSession::log_auth_failure(std::string_view why) {
    spdlog::info("c2s {} auth failed for '{}' via {}: {}", transport_.remote_string(), username_,
                 mechanism_, why);
}

asio::awaitable<C2SSession::After> C2SSession::handle_sasl(const Element& el) {
    const Settings& s = server_.settings;
    if (el.name() == "abort") {
        sasl_failure(sasl::Failure::aborted);
        co_return After::nothing;
    }
    if (el.name() == "auth") {
        if (!mechanism_.empty()) {
            sasl_failure(sasl::Failure::aborted,
                         "a new exchange started before the last one ended");
            co_return After::nothing;
        }
        std::string mech(el.attr("mechanism"));
        bool offered =
            std::find(s.mechanisms.begin(), s.mechanisms.end(), mech) != s.mechanisms.end();
        if (!offered) {
            sasl_failure(sasl::Failure::invalid_mechanism,
                         "offered: see <mechanisms/> in the stream features");
            co_return After::nothing;
        }
        if (mech == "PLAIN" && !transport_.secure()) {
            sasl_failure(sasl::Failure::encryption_required, "PLAIN is only allowed over TLS");
            co_return After::nothing;
        }
        if (server_.auth_failures_ip.exceeded(ip_)) {
            sasl_failure(sasl::Failure::temporary_auth_failure,
                         "too many failed logins from your address; try again later");
            co_return After::nothing;
        }
        mechanism_ = mech;
        username_.clear();
        std::string text = el.text();
        if (text.empty()) {
            // No initial response (RFC 6120 §6.4.2): ask for it with an empty challenge.
            send_raw(sasl_element("challenge", {}, true));
            co_return After::nothing;
        }
        After a = co_await sasl_step(mech, text);
        co_return a;
    }
    if (el.name() == "response") {
        if (mechanism_.empty()) {
            close_reason_ = "SASL response without exchange";
            close(StreamErrorCondition::policy_violation, "no SASL exchange in progress");
            co_return After::nothing;
        }
        std::string mech = mechanism_;
        std::string text = el.text();
        After a = co_await sasl_step(mech, text);
        co_return a;
    }
    sasl_failure(sasl::Failure::malformed_request, "unknown SASL element");
    co_return After::nothing;
}

asio::awaitable<C2SSession::After> C2SSession::sasl_step(std::string_view mech,
                                                         std::string_view b64) {
    const Settings& s = server_.settings;
    std::string data;
    if (b64 != "=") {
        auto decoded = crypto::base64_decode(b64);
        if (!decoded) {
            sasl_failure(sasl::Failure::incorrect_encoding, "bad base64");
            co_return After::nothing;
        }
        data = std::move(*decoded);
    }
    auto fail = [&](sasl::Failure f, std::string_view why) -> After {
        log_auth_failure(why);
        if (f == sasl::Failure::not_authorized) {
            server_.auth_failures_ip.add(ip_);
            if (!username_.empty()) server_.auth_failures_account.add(username_);
        }
        sasl_failure(f, f == sasl::Failure::not_authorized ? "wrong username or password" : why);
        if (++auth_failures_ >= s.max_auth_attempts) {
            close_reason_ = "too many failed authentication attempts";
            close(StreamErrorCondition::policy_violation,
                  "too many failed authentication attempts");
        }
        return After::nothing;
    };
    auto succeed = [&](std::string_view additional) -> After {
        send_raw(sasl_element("success", additional, !additional.empty()));
        authenticated_ = true;
        parser_.set_limits(s.parser_limits);
        server_.auth_failures_account.clear(username_);
        spdlog::info("c2s {} authenticated as {}@{} via {}", transport_.remote_string(), username_,
                     s.domain, mechanism_);
        scram_.reset();
        mechanism_.clear();
        return After::restart;
    };

    if (mech == "PLAIN") {
        // RFC 4616: [authzid] NUL authcid NUL passwd
        auto n1 = data.find('\0');
        auto n2 = n1 == std::string::npos ? n1 : data.find('\0', n1 + 1);
        if (n2 == std::string::npos)
            co_return fail(sasl::Failure::malformed_request, "malformed PLAIN message");
        std::string authzid = data.substr(0, n1);
        auto user = jid::nodeprep(data.substr(n1 + 1, n2 - n1 - 1));
        std::string password = data.substr(n2 + 1);
        if (!user) co_return fail(sasl::Failure::not_authorized, "invalid username");
        username_ = *user;
        if (!authzid.empty() && authzid != username_ + "@" + s.domain)
            co_return fail(sasl::Failure::invalid_authzid, "authzid differs from the user");
        if (server_.auth_failures_account.exceeded(username_))
            co_return fail(sasl::Failure::temporary_auth_failure,
                           "too many failed logins for this account; try again later");
        bool ok = false;
        try {
            ok = co_await server_.storage->run(
                [&store = server_.storage->accounts(), user = username_, password] {
                    auto creds = store.credentials(user);
                    return creds && sasl::check_password(*creds, password);
                });
        } catch (const std::exception& e) {
            spdlog::error("storage error during login: {}", e.what());
            co_return fail(sasl::Failure::temporary_auth_failure, "storage unavailable");
        }
        if (!ok) co_return fail(sasl::Failure::not_authorized, "wrong username or password");
        co_return succeed({});
    }

    const crypto::Hash hash = mech == "SCRAM-SHA-1" ? crypto::Hash::sha1 : crypto::Hash::sha256;
    if (!scram_) {
        scram_ = std::make_unique<sasl::ScramServer>(hash);
        auto first = scram_->client_first(data);
        if (auto* f = std::get_if<sasl::Failure>(&first))
            co_return fail(*f, "bad client-first-message");
        auto user = jid::nodeprep(std::get<std::string>(first));
        if (!user) co_return fail(sasl::Failure::not_authorized, "invalid username");
        username_ = *user;
        if (server_.auth_failures_account.exceeded(username_))
            co_return fail(sasl::Failure::temporary_auth_failure,
                           "too many failed logins for this account; try again later");
        std::optional<sasl::ScramCredentials> creds;
        try {
            creds = co_await server_.storage->run(
                [&store = server_.storage->accounts(), user = username_] {
                    return store.credentials(user);
                });
        } catch (const std::exception& e) {
            spdlog::error("storage error during login: {}", e.what());
            co_return fail(sasl::Failure::temporary_auth_failure, "storage unavailable");
        }
        if (closing_) co_return After::nothing;
        if (creds) {
            send_raw(sasl_element(
                "challenge",
                scram_->server_first(creds->salt, creds->iterations, creds->keys(hash)), true));
        } else {
            // Unknown user: answer exactly like for a real one (a salt derived from the
            // name), so the exchange does not reveal which accounts exist.
            static const std::string secret = crypto::random_bytes(32);
            std::string salt = crypto::hmac(crypto::Hash::sha256, secret, username_).substr(0, 16);
            send_raw(sasl_element("challenge", scram_->server_first(salt, s.scram_iterations, {}),
                                  true));
        }
        co_return After::nothing;
    }
    auto final_result = scram_->client_final(data);
    if (auto* f = std::get_if<sasl::Failure>(&final_result))
        co_return fail(*f, *f == sasl::Failure::not_authorized ? "wrong password or unknown user"
                                                               : "bad client-final-message");
    co_return succeed(std::get<std::string>(final_result));
}

asio::awaitable<void> C2SSession::handle_bind(const Element& iq) {
    const Element* bind = iq.child("bind", ns::bind);
    std::string requested = bind->child_text("resource", ns::bind);
    std::string resource;
    if (!requested.empty()) {
        auto r = jid::resourceprep(requested);
        if (!r) {
            // RFC 6120 §7.7.2.1
            reply_error(iq, StanzaErrorCondition::bad_request, "invalid resource");
            co_return;
        }
        resource = *r;
    } else {
        resource = "hongyan-" + crypto::random_token(10);
    }
    auto full = Jid::make(username_, server_.settings.domain, resource);
    if (!full) {
        reply_error(iq, StanzaErrorCondition::bad_request, "invalid JID");
        co_return;
    }
    // The user's roster and blocklist are in memory before the first stanza is routed.
    co_await server_.im->bound(*full);
    if (closing_) {
        server_.im->ended(*full, {}, {}, {});  // releases what bound() took
        co_return;
    }
    jid_ = *full;
    bound_ = true;
    // RFC 6120 §7.7.2.2: the newer session wins; the old one gets <conflict/>.
    if (auto replaced = server_.registry->add(jid_, shared_from_this())) {
        server_.im->ended(jid_, *replaced, {}, {});
        auto old = replaced->session;
        asio::post(old->executor(), [old] {
            old->close_reason_ = "replaced by a new session with the same resource";
            old->bound_ = false;  // its registry entry now belongs to the new session
            old->close(StreamErrorCondition::conflict, "replaced by a new connection");
        });
    }
    Element result("iq", std::string(ns::client));
    result.set_attr("type", "result");
    result.set_attr("id", iq.attr("id"));
    result.add_child("bind", std::string(ns::bind))
        .add_child("jid", std::string(ns::bind))
        .add_text(jid_.str());
    send(result);
    spdlog::info("c2s {} bound {}", transport_.remote_string(), jid_.str());
}

asio::awaitable<void> C2SSession::handle_pre_auth_iq(Element iq) {
    std::string_view type = iq.attr("type");
    const Element* payload = iq.first_child();
    const modules::ModuleHost::Entry* entry = nullptr;
    if (payload && (type == "get" || type == "set")) {
        entry =
            server_.modules->find_iq(type == "get" ? modules::IqType::get : modules::IqType::set,
                                     modules::IqTarget::host, payload->xmlns());
    }
    if (!entry || !entry->pre_auth) {
        close_reason_ = "iq before authentication";
        close(StreamErrorCondition::not_authorized, "authenticate first");
        co_return;
    }
    modules::IqRequest req{server_, shared_from_this(), std::move(iq), std::nullopt, std::nullopt};
    co_await entry->handler(req);
}

void C2SSession::reply_error(const Element& request, StanzaErrorCondition c, std::string text) {
    // Before binding the client has no address to answer from, and an unbound 'from' is
    // the client's own claim: the reply carries neither.
    Element reply = make_error_reply(request, StanzaError{c, std::move(text), {}});
    reply.remove_attr("from");
    send(reply);
}

void C2SSession::send(const Element& stanza) {
    std::string bytes;
    stanza.serialize(bytes, ns::client);
    send_raw(bytes);
}

void C2SSession::send_raw(std::string_view bytes) {
    if (!transport_.is_open()) return;
    // Only what is already queued counts: one large answer (a big roster, the presence of
    // thousands of contacts at login) may pass; a client that does not read soon hits it.
    if (out_.size() > server_.settings.max_outbound_queue) {
        // The client does not read: drop the connection rather than buffer without bound.
        spdlog::warn("c2s {} outbound queue over {} bytes; disconnecting",
                     transport_.remote_string(), server_.settings.max_outbound_queue);
        close_reason_ = "outbound queue full";
        closing_ = true;
        unbind();
        transport_.close();
        return;
    }
    if (spdlog::should_log(spdlog::level::trace))
        spdlog::trace("c2s {} >>> {}", transport_.remote_string(), bytes);
    out_.append(bytes);
    flush();
}

void C2SSession::send_raw_tracked(std::string_view bytes, std::function<void(bool)> done) {
    send_raw(bytes);
    if (!transport_.is_open() || closing_) {
        done(false);
        return;
    }
    out_done_.push_back(std::move(done));
}

void C2SSession::flush() {
    if (writing_ || out_.empty() || !transport_.is_open()) return;
    writing_ = true;
    asio::co_spawn(transport_.executor(), write_loop(shared_from_this()), asio::detached);
}

asio::awaitable<void> C2SSession::write_loop(std::shared_ptr<C2SSession> self) {
    (void)self;  // keeps the session alive while bytes are in flight
    // Yield once, so that everything queued by the handlers running now (a burst of
    // deliveries, a reply and a push) goes out in one write.
    co_await asio::post(transport_.executor(), asio::use_awaitable);
    while (!out_.empty() && transport_.is_open()) {
        std::swap(out_, wbuf_);
        std::swap(out_done_, wbuf_done_);
        bool ok = co_await transport_.write(wbuf_);
        finish_written(wbuf_done_, ok);
        last_write_ = Clock::now();
        wbuf_.clear();
        // Keep no large buffers on idle connections.
        if (wbuf_.capacity() > 4096) std::string().swap(wbuf_);
        if (!ok) {
            if (close_reason_.empty()) close_reason_ = "write failed";
            closing_ = true;
            transport_.close();
            break;
        }
    }
    if (out_.capacity() > 4096 && out_.empty()) std::string().swap(out_);
    writing_ = false;
    if (drain_waiter_) drain_waiter_->cancel();
    if (closing_ && out_.empty()) transport_.close();
}

asio::awaitable<void> C2SSession::drain() {
    while ((writing_ || !out_.empty()) && transport_.is_open()) {
        if (!writing_) flush();
        asio::steady_timer t(transport_.executor(), std::chrono::seconds(30));
        drain_waiter_ = &t;
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        drain_waiter_ = nullptr;
        if (!ec) break;  // timed out: the peer does not read
    }
}

void C2SSession::close(StreamErrorCondition cond, std::string_view text) {
    if (closing_) return;
    if (!transport_.is_open()) {
        closing_ = true;
        return;
    }
    // RFC 6120 §4.9.1.2: a stream error goes inside our own stream, so open it first if
    // the client's header never got an answer. Everything is queued before any write.
    if (!header_sent_) send_stream_header();
    std::string out;
    if (cond != StreamErrorCondition::none) out += stream_error_xml(cond, text);
    out += "</stream:stream>";
    send_raw(out);
    closing_ = true;
    unbind();
    if (!writing_) transport_.close();
}

void C2SSession::tick(Clock::time_point now) {
    if (closing_) return;
    const Settings& s = server_.settings;
    if (!bound_) {
        if (now - created_ > s.preauth_timeout) {
            close_reason_ = "authentication timeout";
            close(StreamErrorCondition::connection_timeout, "no authentication in time");
        }
        return;
    }
    if (s.idle_timeout.count() > 0 && now - last_read_ > s.idle_timeout) {
        close_reason_ = "idle timeout";
        close(StreamErrorCondition::connection_timeout, "idle for too long");
        return;
    }
    if (s.parser_release_after.count() > 0 && now - last_read_ >= s.parser_release_after &&
        parser_.can_release())
        parser_.release();
    if (s.keepalive_interval.count() > 0 && !writing_ && now - last_write_ > s.keepalive_interval) {
        last_write_ = now;
        send_raw(" ");  // RFC 6120 §4.6.1 whitespace keepalive
    }
}

}  // namespace hongyan::c2s
