#include "server/sasl/sasl_server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/im/im.hpp"
#include "server/run_on.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/crypto.hpp"
#include "xmpp/jid.hpp"

namespace hongyan::sasl {

namespace asio = boost::asio;

namespace {
// Unknown users are answered exactly like real ones, with a salt derived from the name
// (the same every time), so an exchange does not reveal which accounts exist.
std::string fake_salt(const std::string& user) {
    static const std::string secret = crypto::random_bytes(32);
    return crypto::hmac(crypto::Hash::sha256, secret, user).substr(0, 16);
}
}  // namespace

asio::awaitable<ScramCredentials> hash_new_password(ServerContext& server, std::string password) {
    co_return co_await run_on(
        server.hashing->get_executor(),
        [password = std::move(password), it = server.settings.scram_iterations] {
            return make_credentials(password, it);
        });
}

SaslServer::SaslServer(ServerContext& server, Host& host, std::string ip, std::string peer,
                       bool secure)
    : server_(server), host_(host), ip_(std::move(ip)), peer_(std::move(peer)), secure_(secure) {}

std::string SaslServer::account() const {
    return username_ + "@" + host_.domain;
}

SaslServer::~SaslServer() = default;

std::vector<std::string> SaslServer::mechanisms() const {
    std::vector<std::string> out;
    for (const auto& m : server_.settings.mechanisms)
        if (m != "PLAIN" || secure_) out.push_back(m);
    return out;
}

Step SaslServer::fail(Failure f, std::string_view why) {
    spdlog::info("c2s {} auth failed for '{}' via {}: {}", peer_, username_, mechanism_, why);
    if (f == Failure::not_authorized) {
        server_.auth_failures_ip.add(ip_);
        if (!username_.empty()) server_.auth_failures_account.add(account());
    }
    Step s;
    s.kind = Step::Kind::failure;
    s.failure = f;
    s.text = f == Failure::not_authorized ? "wrong username or password" : std::string(why);
    scram_.reset();
    mechanism_.clear();
    if (f != Failure::aborted && ++failures_ >= server_.settings.max_auth_attempts)
        s.end_stream = true;
    return s;
}

Step SaslServer::succeed(std::string additional) {
    server_.auth_failures_account.clear(account());
    spdlog::info("c2s {} authenticated as {}@{} via {}", peer_, username_, host_.domain,
                 mechanism_);
    used_ = mechanism_;
    scram_.reset();
    mechanism_.clear();
    Step s;
    s.kind = Step::Kind::success;
    s.data = std::move(additional);
    return s;
}

Step SaslServer::abort() {
    Step s;
    s.kind = Step::Kind::failure;
    s.failure = Failure::aborted;
    scram_.reset();
    mechanism_.clear();
    return s;
}

bool SaslServer::authzid_ok(std::string_view authzid) const {
    if (authzid.empty()) return true;
    auto j = Jid::parse(authzid);
    return j && j->is_bare() && j->local() == username_ && j->domain() == host_.domain;
}

asio::awaitable<Step> SaslServer::start(std::string_view mechanism, std::string_view initial,
                                        bool has_initial) {
    Step s;
    if (in_progress()) {
        s.failure = Failure::aborted;
        s.text = "a new exchange started before the last one ended";
        scram_.reset();
        mechanism_.clear();
        co_return s;
    }
    auto offered = server_.settings.mechanisms;
    if (std::find(offered.begin(), offered.end(), mechanism) == offered.end()) {
        s.failure = Failure::invalid_mechanism;
        s.text = "offered: see <mechanisms/> in the stream features";
        co_return s;
    }
    if (mechanism == "PLAIN" && !secure_) {
        s.failure = Failure::encryption_required;
        s.text = "PLAIN is only allowed over TLS";
        co_return s;
    }
    if (server_.auth_failures_ip.exceeded(ip_)) {
        s.failure = Failure::temporary_auth_failure;
        s.text = "too many failed logins from your address; try again later";
        co_return s;
    }
    mechanism_ = mechanism;
    username_.clear();
    if (!has_initial) {
        // No initial response (RFC 6120 §6.4.2): ask for it with an empty challenge.
        s.kind = Step::Kind::challenge;
        co_return s;
    }
    co_return co_await step(initial);
}

asio::awaitable<Step> SaslServer::respond(std::string_view response) {
    co_return co_await step(response);
}

asio::awaitable<Step> SaslServer::step(std::string_view b64) {
    std::string data;
    if (b64 != "=") {
        auto decoded = crypto::base64_decode(b64);
        if (!decoded) co_return fail(Failure::incorrect_encoding, "bad base64");
        data = std::move(*decoded);
    }
    if (mechanism_ == "PLAIN") co_return co_await plain(data);
    co_return co_await scram(data);
}

asio::awaitable<SaslServer::Identified> SaslServer::identify(std::string_view name,
                                                             std::string_view authzid) {
    Identified out;
    auto user = jid::nodeprep(name);
    if (!user) {
        out.failure = fail(Failure::not_authorized, "invalid username");
        co_return out;
    }
    username_ = *user;
    if (!authzid_ok(authzid)) {
        out.failure = fail(Failure::invalid_authzid, "authzid differs from the user");
        co_return out;
    }
    if (server_.auth_failures_account.exceeded(account())) {
        out.failure = fail(Failure::temporary_auth_failure,
                           "too many failed logins for this account; try again later");
        co_return out;
    }
    try {
        // A job of the user's (docs/architecture.md, "Ordering"), on the IM workers that
        // also bind and unbind the session: a login's database work stays on one set of
        // threads.
        out.creds = co_await host_.im->sequencer().run(
            {username_}, [&store = host_.storage->accounts(), user = username_] {
                return store.credentials(user);
            });
    } catch (const std::exception& e) {
        spdlog::error("storage error during login: {}", e.what());
        out.failure = fail(Failure::temporary_auth_failure, "storage unavailable");
    }
    co_return out;
}

asio::awaitable<Step> SaslServer::plain(const std::string& data) {
    // RFC 4616: [authzid] NUL authcid NUL passwd
    auto n1 = data.find('\0');
    auto n2 = n1 == std::string::npos ? n1 : data.find('\0', n1 + 1);
    if (n2 == std::string::npos)
        co_return fail(Failure::malformed_request, "malformed PLAIN message");
    std::string authzid = data.substr(0, n1);
    std::string password = data.substr(n2 + 1);
    auto who = co_await identify(data.substr(n1 + 1, n2 - n1 - 1), authzid);
    if (who.failure) co_return *who.failure;
    auto& creds = who.creds;
    // The same PBKDF2 for an unknown account as for a real one: the time taken does not
    // tell which accounts exist.
    const bool known = creds.has_value();
    if (!known) {
        creds.emplace();
        creds->salt = fake_salt(username_);
        creds->iterations = server_.settings.scram_iterations;
        creds->sha256.stored_key = crypto::random_bytes(32);
    }
    bool ok = co_await run_on(server_.hashing->get_executor(),
                              [c = *creds, password] { return check_password(c, password); });
    if (!ok || !known) co_return fail(Failure::not_authorized, "wrong username or password");
    co_return succeed({});
}

asio::awaitable<Step> SaslServer::scram(const std::string& data) {
    const crypto::Hash hash =
        mechanism_ == "SCRAM-SHA-1" ? crypto::Hash::sha1 : crypto::Hash::sha256;
    if (scram_) {
        auto final_result = scram_->client_final(data);
        if (auto* f = std::get_if<Failure>(&final_result))
            co_return fail(*f, *f == Failure::not_authorized ? "wrong password or unknown user"
                                                             : "bad client-final-message");
        co_return succeed(std::get<std::string>(final_result));
    }
    scram_ = std::make_unique<ScramServer>(hash);
    auto first = scram_->client_first(data);
    if (auto* f = std::get_if<Failure>(&first)) co_return fail(*f, "bad client-first-message");
    auto who = co_await identify(std::get<std::string>(first), scram_->authzid());
    if (who.failure) co_return *who.failure;
    const auto& creds = who.creds;
    Step s;
    s.kind = Step::Kind::challenge;
    if (creds)
        s.data = scram_->server_first(creds->salt, creds->iterations, creds->keys(hash));
    else
        s.data = scram_->server_first(fake_salt(username_), server_.settings.scram_iterations, {});
    co_return s;
}

}  // namespace hongyan::sasl
