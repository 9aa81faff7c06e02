#include "server/net/tls.hpp"

#include <algorithm>
#include <cctype>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <stdexcept>

namespace hongyan::net {

std::string openssl_error() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

SslCtxPtr make_server_context(const std::filesystem::path& cert, const std::filesystem::path& key,
                              const std::string& min_version) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) throw std::runtime_error("SSL_CTX_new: " + openssl_error());
    SSL_CTX_set_min_proto_version(ctx.get(),
                                  min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                       SSL_OP_CIPHER_SERVER_PREFERENCE);
    // Idle connections hold no TLS record buffers; partial writes let one SSL_write per
    // batch of stanzas make progress on a full socket.
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // No server-side session cache (it would hold memory per past connection); TLS 1.3
    // clients resume with one stateless ticket instead of the default two.
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx.get(), 1);
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1)
        throw std::runtime_error("cannot load TLS certificate " + cert.string() + ": " +
                                 openssl_error());
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error("cannot load TLS key " + key.string() + ": " + openssl_error());
    if (SSL_CTX_check_private_key(ctx.get()) != 1)
        throw std::runtime_error("TLS key " + key.string() + " does not match certificate " +
                                 cert.string());
    return ctx;
}

void select_by_server_name(SSL_CTX* ctx, const ServerNames* hosts) {
    SSL_CTX_set_tlsext_servername_arg(ctx, const_cast<ServerNames*>(hosts));
    SSL_CTX_set_tlsext_servername_callback(
        ctx, +[](SSL* ssl, int*, void* arg) -> int {
            const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
            if (!name) return SSL_TLSEXT_ERR_NOACK;
            const std::string_view wanted(name);
            for (const auto& [domain, host_ctx] : *static_cast<const ServerNames*>(arg)) {
                if (domain.size() != wanted.size() ||
                    !std::equal(domain.begin(), domain.end(), wanted.begin(), [](char a, char b) {
                        return std::tolower(static_cast<unsigned char>(a)) ==
                               std::tolower(static_cast<unsigned char>(b));
                    }))
                    continue;
                if (host_ctx != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, host_ctx);
                return SSL_TLSEXT_ERR_OK;
            }
            return SSL_TLSEXT_ERR_NOACK;
        });
}

void generate_self_signed(const std::string& domain, const std::filesystem::path& cert_path,
                          const std::filesystem::path& key_path) {
    auto fail = [](const char* what) {
        throw std::runtime_error(std::string(what) + ": " + openssl_error());
    };
    EVP_PKEY* pkey = EVP_EC_gen("P-256");
    if (!pkey) fail("EC key generation");
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_guard(pkey, EVP_PKEY_free);
    X509* x = X509_new();
    if (!x) fail("X509_new");
    std::unique_ptr<X509, decltype(&X509_free)> x_guard(x, X509_free);
    X509_set_version(x, 2);
    // A random positive serial.
    BIGNUM* bn = BN_new();
    BN_rand(bn, 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("Hongyan self-signed"), -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(domain.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    std::string san = "DNS:" + domain + ",DNS:*." + domain;
    for (auto [nid, value] : {std::pair{NID_subject_alt_name, san.c_str()},
                              std::pair{NID_basic_constraints, "critical,CA:FALSE"},
                              std::pair{NID_ext_key_usage, "serverAuth,clientAuth"}}) {
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
        if (!ext) fail("certificate extension");
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (!X509_sign(x, pkey, EVP_sha256())) fail("X509_sign");

    std::filesystem::create_directories(key_path.parent_path().empty() ? "."
                                                                       : key_path.parent_path());
    std::filesystem::create_directories(cert_path.parent_path().empty() ? "."
                                                                        : cert_path.parent_path());
    mode_t old = umask(077);  // the key is readable by its owner only
    FILE* kf = std::fopen(key_path.c_str(), "w");
    umask(old);
    if (!kf) throw std::runtime_error("cannot write " + key_path.string());
    bool ok = PEM_write_PrivateKey(kf, pkey, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    std::fclose(kf);
    if (!ok) fail("writing key");
    FILE* cf = std::fopen(cert_path.c_str(), "w");
    if (!cf) throw std::runtime_error("cannot write " + cert_path.string());
    ok = PEM_write_X509(cf, x) == 1;
    std::fclose(cf);
    if (!ok) fail("writing certificate");
}

}  // namespace hongyan::net
