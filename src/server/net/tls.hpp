// TLS server context and the self-signed certificate made on first start.
#pragma once

#include <openssl/ssl.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hongyan::net {

struct SslCtxDeleter {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

// Loads cert and key; throws std::runtime_error saying what is wrong.
SslCtxPtr make_server_context(const std::filesystem::path& cert, const std::filesystem::path& key,
                              const std::string& min_version);

// RFC 6066 §3 (SNI): a handshake on `ctx` that names one of `hosts` continues with that
// host's context (its certificate); any other name, or none, keeps `ctx`. `hosts` must
// outlive `ctx`'s use.
using ServerNames = std::vector<std::pair<std::string, SSL_CTX*>>;
void select_by_server_name(SSL_CTX* ctx, const ServerNames* hosts);

// Writes a self-signed certificate (EC P-256, SAN DNS:domain, valid ten years) and its key.
void generate_self_signed(const std::string& domain, const std::filesystem::path& cert,
                          const std::filesystem::path& key);

// The last OpenSSL error as text (and clears the queue).
std::string openssl_error();

}  // namespace hongyan::net
