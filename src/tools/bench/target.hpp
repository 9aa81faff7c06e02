// What hongyan-bench talks to and as whom: shared by every scenario.
#pragma once

#include <boost/asio/ip/address_v4.hpp>

#include <cstdint>
#include <string>

#include "hongyan/stream.hpp"
#include "xmpp/crypto.hpp"

namespace hongyan::bench {

using client::TlsMode;

struct Target {
    boost::asio::ip::address_v4 host = boost::asio::ip::address_v4::loopback();
    std::uint16_t port = 5222;      // plain port: STARTTLS or no TLS at all
    std::uint16_t tls_port = 5223;  // direct TLS (XEP-0368)
    std::string domain = "localhost";
    TlsMode tls = TlsMode::starttls;
    crypto::Hash hash = crypto::Hash::sha1;
    int sources = 4;        // client sockets bind to 127.0.0.1 .. 127.0.0.<sources>
    double timeout = 30.0;  // seconds one connection may take to log in (or register)

    std::string mechanism() const {
        return hash == crypto::Hash::sha1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256";
    }
    std::uint16_t port_for_tls_mode() const { return tls == TlsMode::direct ? tls_port : port; }
    // Source address for connection number `i`, so that load from one machine looks like
    // load from many addresses (per-address limits, and more ephemeral ports).
    boost::asio::ip::address_v4 source(std::uint64_t i) const {
        return boost::asio::ip::address_v4(0x7f000001u + static_cast<std::uint32_t>(i % sources));
    }
};

struct Accounts {
    int users = 100;
    std::string prefix = "bench";
    std::string password = "benchpass123";

    std::string user(std::uint64_t i) const { return prefix + std::to_string(i % users); }
};

}  // namespace hongyan::bench
