// Thin wrappers over OpenSSL for the hashes, MACs and encodings SASL needs.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hongyan::crypto {

enum class Hash { sha1, sha256 };

std::size_t digest_size(Hash h);
std::string digest(Hash h, std::string_view data);
std::string hmac(Hash h, std::string_view key, std::string_view data);
std::string pbkdf2(Hash h, std::string_view password, std::string_view salt, int iterations);
std::string random_bytes(std::size_t n);
// Random printable token (base64url alphabet) for ids, nonces and resources.
std::string random_token(std::size_t n_chars);

std::string base64_encode(std::string_view data);
// Strict: nullopt on characters outside the alphabet or bad padding.
std::optional<std::string> base64_decode(std::string_view text);

// Constant-time comparison.
bool equal(std::string_view a, std::string_view b);

}  // namespace hongyan::crypto
