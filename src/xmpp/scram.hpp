// SCRAM (RFC 5802, RFC 7677) for both ends, without channel binding for now.
//
// The server keeps only salt, iteration count, StoredKey and ServerKey per hash, so a
// login costs a few HMACs and no PBKDF2.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "xmpp/crypto.hpp"

namespace hongyan::sasl {

// RFC 6120 §6.5 failure conditions.
enum class Failure {
    aborted,
    account_disabled,
    credentials_expired,
    encryption_required,
    incorrect_encoding,
    invalid_authzid,
    invalid_mechanism,
    malformed_request,
    mechanism_too_weak,
    not_authorized,
    temporary_auth_failure,
};
std::string_view to_string(Failure f);

struct ScramKeys {
    std::string stored_key;
    std::string server_key;
};

struct ScramCredentials {
    std::string salt;
    int iterations = 0;
    ScramKeys sha1;
    ScramKeys sha256;
    const ScramKeys& keys(crypto::Hash h) const { return h == crypto::Hash::sha1 ? sha1 : sha256; }
};

// SASLprep (RFC 4013) of a password, as RFC 5802 §2.2 Normalize() asks; falls back to the
// raw bytes when the string has characters SASLprep refuses, as common clients do.
std::string normalize_password(std::string_view password);
ScramKeys derive_keys(crypto::Hash h, std::string_view password, std::string_view salt,
                      int iterations);
ScramCredentials make_credentials(std::string_view password, int iterations);
// True when `password` matches (used by PLAIN): derives and compares StoredKey.
bool check_password(const ScramCredentials& creds, std::string_view password);

class ScramServer {
  public:
    explicit ScramServer(crypto::Hash h) : hash_(h) {}

    // Parses client-first-message; on success returns the username (saslname decoded and
    // SASLprep'd; the caller applies nodeprep for the JID).
    std::variant<std::string, Failure> client_first(std::string_view msg);
    // Builds server-first-message for the given credentials. `nonce` is for test vectors.
    std::string server_first(const std::string& salt, int iterations, ScramKeys keys,
                             std::string nonce = {});
    // Verifies client-final-message; on success returns server-final-message (v=...).
    std::variant<std::string, Failure> client_final(std::string_view msg);
    // The authorization identity of client-first-message (decoded), empty if none.
    const std::string& authzid() const { return authzid_; }

  private:
    crypto::Hash hash_;
    std::string authzid_;
    std::string gs2_header_;
    std::string client_first_bare_;
    std::string client_nonce_;
    std::string nonce_;
    std::string server_first_;
    ScramKeys keys_;
};

class ScramClient {
  public:
    ScramClient(crypto::Hash h, std::string user, std::string password, std::string nonce = {});
    std::string client_first();
    // Returns client-final-message, or nullopt if server-first is malformed or unsafe.
    std::optional<std::string> client_final(std::string_view server_first);
    // Checks the server signature in server-final-message.
    bool verify_server_final(std::string_view server_final) const;
    // SaltedPassword after client_final() (clients may cache it).
    const std::string& salted_password() const { return salted_; }
    // Offers a SaltedPassword cached from an earlier login with the same password. RFC 5802
    // §5.1: it depends only on password, salt and iteration count, so client_final() uses it
    // instead of running PBKDF2 when the server's salt and count are `salt` and `iterations`.
    void reuse_salted_password(std::string salt, int iterations, std::string salted);

  private:
    crypto::Hash hash_;
    std::string user_, password_, nonce_;
    std::string client_first_bare_;
    std::string salted_;
    std::string server_signature_;
    std::string reuse_salt_, reuse_salted_;
    int reuse_iterations_ = 0;
};

// Parses "n,,..." style attribute lists: the value of attribute `key` at `pos`.
std::optional<std::string_view> scram_attr(std::string_view msg, char key);

}  // namespace hongyan::sasl
