// Bytes in and out of one client socket, in the clear or over TLS.
//
// Memory per idle connection is kept small on purpose: reads land in one buffer per thread
// (the caller must consume the returned view before its next co_await), and TLS runs
// OpenSSL directly on the non-blocking socket with SSL_MODE_RELEASE_BUFFERS, instead of
// Asio's ssl::stream, which keeps two 17 KiB buffers per connection.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string>
#include <string_view>

namespace hongyan::net {

class Transport {
  public:
    explicit Transport(boost::asio::ip::tcp::socket socket);
    ~Transport();
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    // The next bytes received, in a per-thread buffer valid until the caller's next
    // suspension. Empty when the peer closed the connection or it failed.
    boost::asio::awaitable<std::string_view> read();
    // Writes all of `data`; false when the connection failed.
    boost::asio::awaitable<bool> write(std::string_view data);
    // Server side of a TLS handshake on this socket; false on failure.
    boost::asio::awaitable<bool> start_tls(SSL_CTX* ctx);

    bool secure() const { return ssl_ != nullptr; }
    bool is_open() const { return open_; }
    void close();

    const boost::asio::ip::address& remote_address() const { return remote_; }
    std::string remote_string() const;
    boost::asio::any_io_executor executor() { return socket_.get_executor(); }
    // TLS protocol and cipher in use, for logs.
    std::string tls_description() const;

  private:
    // After an OpenSSL call returned `rc` <= 0: waits for the socket readiness it asked for.
    // False when the TLS connection failed or ended.
    boost::asio::awaitable<bool> wait_for_tls(int rc);

    boost::asio::ip::tcp::socket socket_;
    boost::asio::ip::address remote_;
    unsigned short remote_port_ = 0;
    SSL* ssl_ = nullptr;
    bool tls_broken_ = false;  // after a fatal TLS error no close_notify may be sent
    bool open_ = true;
};

// Size of the per-thread read buffer.
inline constexpr std::size_t kReadBufferSize = 16 * 1024;

}  // namespace hongyan::net
