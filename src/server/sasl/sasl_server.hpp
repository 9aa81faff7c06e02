// The server side of SASL (RFC 4422) for this server's accounts: the mechanisms offered
// on a connection, PLAIN (RFC 4616) and SCRAM-SHA-1/-256 (RFC 5802, RFC 7677), the
// authorization identity check, and the limits on failed logins per IP address, per
// account and per exchange. It knows nothing of how the steps travel: a c2s stream wraps
// them in <auth/>, <challenge/>, <success/> (RFC 6120 §6.4); SASL2 or a server-to-server
// stream can wrap the same steps differently.
//
// Password hashing (PBKDF2, for PLAIN and for unknown users) runs on the hashing pool,
// never on an I/O thread or the storage thread, and PLAIN does the same work whether or
// not the account exists.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xmpp/scram.hpp"

namespace hongyan {
struct ServerContext;
struct Host;
}  // namespace hongyan

namespace hongyan::sasl {

// One step's outcome.
struct Step {
    enum class Kind { challenge, success, failure };
    Kind kind = Kind::failure;
    std::string data;  // challenge, or additional data with success (decoded)
    Failure failure = Failure::not_authorized;
    std::string text;         // for the failure
    bool end_stream = false;  // too many failed attempts on this stream (RFC 6120 §6.4.5)
};

// SCRAM credentials for a new password (registration, password change), computed on the
// hashing pool: a large auth.scram_iterations never stalls storage or message delivery.
boost::asio::awaitable<ScramCredentials> hash_new_password(ServerContext& server,
                                                           std::string password);

class SaslServer {
  public:
    // `secure`: the connection is encrypted (PLAIN is only offered then).
    // `host`: the domain whose accounts the stream authenticates against.
    SaslServer(ServerContext& server, Host& host, std::string ip, std::string peer, bool secure);
    ~SaslServer();

    // The mechanisms offered on this connection, in order of preference.
    std::vector<std::string> mechanisms() const;
    // <auth mechanism='...'>: `initial` is the base64 initial response, "=" for an empty
    // one; `has_initial` false when the client sent none (RFC 6120 §6.4.2).
    boost::asio::awaitable<Step> start(std::string_view mechanism, std::string_view initial,
                                       bool has_initial);
    // <response/> to our challenge.
    boost::asio::awaitable<Step> respond(std::string_view response);
    // <abort/> (RFC 6120 §6.4.4).
    Step abort();
    bool in_progress() const { return !mechanism_.empty(); }
    // After success: the account (nodeprepped local part) and the mechanism used.
    const std::string& username() const { return username_; }
    const std::string& mechanism_used() const { return used_; }

  private:
    boost::asio::awaitable<Step> step(std::string_view b64);
    boost::asio::awaitable<Step> plain(const std::string& message);
    boost::asio::awaitable<Step> scram(const std::string& message);
    // The client named its account: checks what applies to every mechanism (the name,
    // the authzid, the per-account limit) and loads the credentials (none: no account).
    struct Identified {
        std::optional<Step> failure;
        std::optional<ScramCredentials> creds;
    };
    boost::asio::awaitable<Identified> identify(std::string_view name, std::string_view authzid);
    Step fail(Failure f, std::string_view why);
    Step succeed(std::string additional);
    // RFC 6120 §6.3.8: an authorization identity, if given, is the user's own bare JID.
    bool authzid_ok(std::string_view authzid) const;

    // The key of the per-account failure limit: the bare JID being tried.
    std::string account() const;
    ServerContext& server_;
    Host& host_;
    std::string ip_, peer_;
    bool secure_;
    std::string mechanism_;  // exchange in progress
    std::string used_;
    std::string username_;
    std::unique_ptr<ScramServer> scram_;
    int failures_ = 0;
};

}  // namespace hongyan::sasl
