#include "tools/bench/client_connection.hpp"

namespace hongyan::bench {

namespace {

client::ConnectOptions options_for(const Target& target) {
    client::ConnectOptions o;
    o.domain = target.domain;
    o.host = target.host.to_string();
    o.port = target.port_for_tls_mode();
    o.tls = target.tls;
    o.hash = target.hash;
    o.trust.insecure = true;  // servers under test have self-signed certificates
    return o;
}

// The bench counts failures by "step: condition"; a stream error reads as the element.
Outcome outcome(const client::Error& e, const char* step = nullptr) {
    std::string condition =
        e.kind == client::ErrorKind::stream ? "stream error <" + e.condition + "/>" : e.condition;
    return Outcome::failure(step ? step : e.step, std::move(condition), e.text);
}

Outcome outcome(const client::Result<void>& r, const char* step = nullptr) {
    return r ? Outcome{} : outcome(r.error(), step);
}

}  // namespace

ClientConnection::ClientConnection(asio::any_io_executor ex, asio::ssl::context& tls_context,
                                   const Target& target)
    : stream_(std::move(ex), tls_context, options_for(target)) {}

asio::awaitable<Outcome> ClientConnection::log_in(asio::ip::address_v4 source,
                                                  const std::string& user,
                                                  const std::string& password,
                                                  const std::string& resource,
                                                  SaltedPasswordCache* cache) {
    auto r = co_await stream_.connect(asio::ip::address(source));
    if (r) r = co_await stream_.authenticate(user, password, cache);
    if (!r) co_return outcome(r);
    auto bound = co_await stream_.bind(resource);
    co_return bound ? Outcome{} : outcome(bound.error());
}

asio::awaitable<Outcome> ClientConnection::register_account(asio::ip::address_v4 source,
                                                            const std::string& user,
                                                            const std::string& password,
                                                            bool& existed) {
    existed = false;
    auto r = co_await stream_.connect(asio::ip::address(source));
    if (!r) co_return outcome(r);
    auto reg = co_await stream_.register_account(user, password);
    if (!reg) co_return outcome(reg.error());
    existed = *reg;
    co_return Outcome{};
}

asio::awaitable<Outcome> ClientConnection::send(std::string data, const char* step) {
    co_return outcome(co_await stream_.write(std::move(data)), step);
}

asio::awaitable<Outcome> ClientConnection::receive(const char* step, xml::Element& out) {
    auto r = co_await stream_.read();
    if (!r) {
        out = xml::Element();
        co_return outcome(r.error(), step);
    }
    out = std::move(*r);
    co_return Outcome{};
}

asio::awaitable<Outcome> ClientConnection::close_stream(double seconds) {
    co_return outcome(co_await stream_.close_stream(seconds));
}

asio::awaitable<Outcome> ClientConnection::wait_for_end() {
    co_return outcome(co_await stream_.wait_for_end());
}

}  // namespace hongyan::bench
