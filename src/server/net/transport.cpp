#include "server/net/transport.hpp"

#include <openssl/err.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace hongyan::net {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
thread_local std::array<char, kReadBufferSize> t_read_buffer;
}

Transport::Transport(tcp::socket socket) : socket_(std::move(socket)) {
    boost::system::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    if (!ec) {
        remote_ = ep.address();
        if (remote_.is_v6() && remote_.to_v6().is_v4_mapped())
            remote_ = asio::ip::make_address_v4(asio::ip::v4_mapped, remote_.to_v6());
        remote_port_ = ep.port();
    }
    socket_.non_blocking(true, ec);
    socket_.set_option(tcp::no_delay(true), ec);
}

Transport::~Transport() {
    close();
    if (ssl_) SSL_free(ssl_);
}

std::string Transport::remote_string() const {
    return (remote_.is_v6() ? "[" + remote_.to_string() + "]" : remote_.to_string()) + ":" +
           std::to_string(remote_port_);
}

std::string Transport::tls_description() const {
    if (!ssl_) return "plain";
    return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

void Transport::close() {
    if (!open_) return;
    open_ = false;
    boost::system::error_code ec;
    if (ssl_ && !tls_broken_ && SSL_is_init_finished(ssl_)) {
        // Best effort close_notify; the socket is non-blocking so this never waits.
        SSL_set_quiet_shutdown(ssl_, 0);
        SSL_shutdown(ssl_);
        ERR_clear_error();
    }
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
}

asio::awaitable<bool> Transport::wait_for_tls(int rc) {
    int err = SSL_get_error(ssl_, rc);
    tcp::socket::wait_type wait;
    if (err == SSL_ERROR_WANT_READ) {
        wait = tcp::socket::wait_read;
    } else if (err == SSL_ERROR_WANT_WRITE) {
        wait = tcp::socket::wait_write;
    } else {
        // A clean close_notify is not a failure; anything else leaves the TLS state unusable.
        if (err != SSL_ERROR_ZERO_RETURN) tls_broken_ = true;
        ERR_clear_error();
        co_return false;
    }
    auto [ec] = co_await socket_.async_wait(wait, asio::as_tuple(asio::use_awaitable));
    co_return !ec;
}

asio::awaitable<std::string_view> Transport::read() {
    auto& buf = t_read_buffer;
    while (open_) {
        if (!ssl_) {
            boost::system::error_code ec;
            std::size_t n = socket_.read_some(asio::buffer(buf), ec);
            if (!ec && n > 0) co_return std::string_view(buf.data(), n);
            if (ec != asio::error::would_block && ec != asio::error::try_again)
                co_return std::string_view{};
            auto [wec] = co_await socket_.async_wait(tcp::socket::wait_read,
                                                     asio::as_tuple(asio::use_awaitable));
            if (wec) co_return std::string_view{};
            continue;
        }
        ERR_clear_error();
        int n = SSL_read(ssl_, buf.data(), static_cast<int>(buf.size()));
        if (n > 0) co_return std::string_view(buf.data(), static_cast<std::size_t>(n));
        bool go_on = co_await wait_for_tls(n);
        if (!go_on) co_return std::string_view{};
    }
    co_return std::string_view{};
}

asio::awaitable<bool> Transport::write(std::string_view data) {
    while (open_ && !data.empty()) {
        if (!ssl_) {
            boost::system::error_code ec;
            std::size_t n = socket_.write_some(asio::buffer(data.data(), data.size()), ec);
            if (!ec) {
                data.remove_prefix(n);
                continue;
            }
            if (ec != asio::error::would_block && ec != asio::error::try_again) co_return false;
            auto [wec] = co_await socket_.async_wait(tcp::socket::wait_write,
                                                     asio::as_tuple(asio::use_awaitable));
            if (wec) co_return false;
            continue;
        }
        ERR_clear_error();
        int n = SSL_write(ssl_, data.data(),
                          static_cast<int>(std::min<std::size_t>(data.size(), 1 << 30)));
        if (n > 0) {
            data.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        bool go_on = co_await wait_for_tls(n);
        if (!go_on) co_return false;
    }
    co_return open_;
}

asio::awaitable<bool> Transport::start_tls(SSL_CTX* ctx) {
    if (ssl_ || !open_) co_return false;
    ssl_ = SSL_new(ctx);
    if (!ssl_) co_return false;
    SSL_set_fd(ssl_, static_cast<int>(socket_.native_handle()));
    while (open_) {
        ERR_clear_error();
        int rc = SSL_accept(ssl_);
        if (rc == 1) co_return true;
        bool go_on = co_await wait_for_tls(rc);
        if (!go_on) co_return false;
    }
    co_return false;
}

}  // namespace hongyan::net
