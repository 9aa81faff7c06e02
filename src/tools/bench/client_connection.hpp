// One client-to-server connection for the load generator: the library's client::Stream
// (the project's one protocol client), with the bench's step names and Outcome values so
// that failures are counted by the step that failed.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ssl.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "hongyan/stream.hpp"
#include "tools/bench/target.hpp"
#include "xmpp/xml.hpp"

namespace hongyan::bench {

namespace asio = boost::asio;

// How a step went. `step` is empty on success; otherwise it names the step that failed
// ("connect", "tls", "sasl", ...) and `condition` is a short, countable reason.
struct Outcome {
    std::string step;
    std::string condition;
    std::string text;

    bool ok() const { return step.empty(); }
    static Outcome failure(std::string step, std::string condition, std::string text = {}) {
        return {std::move(step), std::move(condition), std::move(text)};
    }
    std::string kind() const { return step + ": " + condition; }
    std::string describe() const { return text.empty() ? kind() : kind() + " (" + text + ")"; }
};

// Shared by all connections: without it the load generator would spend more CPU per
// login than the servers it measures.
using client::SaltedPasswordCache;

class ClientConnection {
  public:
    ClientConnection(asio::any_io_executor ex, asio::ssl::context& tls_context,
                     const Target& target);

    asio::any_io_executor executor() { return stream_.executor(); }

    void arm_deadline(double seconds) { stream_.arm_deadline(seconds); }
    void disarm_deadline() { stream_.disarm_deadline(); }

    // Connect from `source`, negotiate TLS as the target asks, log in with SCRAM and bind
    // `resource`: the whole way from nothing to a usable session.
    asio::awaitable<Outcome> log_in(asio::ip::address_v4 source, const std::string& user,
                                    const std::string& password, const std::string& resource,
                                    SaltedPasswordCache* cache);
    // Connect, negotiate TLS and create the account in-band (XEP-0077). `existed` is set
    // when the server answered <conflict/>, which counts as success.
    asio::awaitable<Outcome> register_account(asio::ip::address_v4 source, const std::string& user,
                                              const std::string& password, bool& existed);

    // After log_in(): writes `data` (one or more stanzas, already serialized). At most one
    // send() at a time; it may run beside receive().
    asio::awaitable<Outcome> send(std::string data, const char* step);
    // After log_in(): the next stanza from the server. When the stream ends after
    // request_close(), this succeeds with `out` left without a name.
    asio::awaitable<Outcome> receive(const char* step, xml::Element& out);
    std::uint64_t bytes_received() const { return stream_.bytes_received(); }
    void mark_reads() { stream_.mark_reads(); }
    std::optional<std::chrono::steady_clock::time_point> first_read_at() const {
        return stream_.first_read_at();
    }

    asio::awaitable<Outcome> close_stream(double seconds = 5.0);
    asio::awaitable<Outcome> wait_for_end();
    asio::awaitable<void> request_close(double seconds = 10.0) {
        return stream_.request_close(seconds);
    }
    void abort() { stream_.abort(); }

  private:
    client::Stream stream_;
};

}  // namespace hongyan::bench
