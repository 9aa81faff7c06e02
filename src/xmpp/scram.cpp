#include "xmpp/scram.hpp"

#include <stringprep.h>

#include <cstring>

namespace hongyan::sasl {

using crypto::Hash;

std::string_view to_string(Failure f) {
    switch (f) {
        case Failure::aborted:
            return "aborted";
        case Failure::account_disabled:
            return "account-disabled";
        case Failure::credentials_expired:
            return "credentials-expired";
        case Failure::encryption_required:
            return "encryption-required";
        case Failure::incorrect_encoding:
            return "incorrect-encoding";
        case Failure::invalid_authzid:
            return "invalid-authzid";
        case Failure::invalid_mechanism:
            return "invalid-mechanism";
        case Failure::malformed_request:
            return "malformed-request";
        case Failure::mechanism_too_weak:
            return "mechanism-too-weak";
        case Failure::not_authorized:
            return "not-authorized";
        case Failure::temporary_auth_failure:
            return "temporary-auth-failure";
    }
    return "not-authorized";
}

namespace {

std::optional<std::string> saslprep(std::string_view in) {
    if (in.size() > 1024 || std::memchr(in.data(), '\0', in.size())) return std::nullopt;
    std::string buf(in);
    buf.resize(in.size() * 4 + 16);
    // Unassigned code points are allowed: these are queries (RFC 4013 §2.5 / RFC 3454 §7).
    int rc = stringprep(buf.data(), buf.size(), Stringprep_profile_flags(0), stringprep_saslprep);
    if (rc != STRINGPREP_OK) return std::nullopt;
    buf.resize(std::strlen(buf.c_str()));
    return buf;
}

// RFC 5802 §5.1: in saslname "=2C" is ',' and "=3D" is '='; any other '=' is invalid.
std::optional<std::string> decode_saslname(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == ',') return std::nullopt;
        if (in[i] == '=') {
            if (in.substr(i, 3) == "=2C")
                out += ',';
            else if (in.substr(i, 3) == "=3D")
                out += '=';
            else
                return std::nullopt;
            i += 2;
        } else {
            out += in[i];
        }
    }
    return out;
}

std::string encode_saslname(std::string_view in) {
    std::string out;
    for (char c : in) {
        if (c == ',')
            out += "=2C";
        else if (c == '=')
            out += "=3D";
        else
            out += c;
    }
    return out;
}

std::string xor_strings(std::string_view a, std::string_view b) {
    std::string out(a);
    for (std::size_t i = 0; i < out.size() && i < b.size(); ++i) out[i] ^= b[i];
    return out;
}

bool printable_nonce(std::string_view n) {
    if (n.empty()) return false;
    for (unsigned char c : n)
        if (c < 0x21 || c > 0x7e || c == ',') return false;
    return true;
}

}  // namespace

std::optional<std::string_view> scram_attr(std::string_view msg, char key) {
    std::size_t pos = 0;
    while (pos <= msg.size()) {
        std::size_t end = msg.find(',', pos);
        if (end == std::string_view::npos) end = msg.size();
        std::string_view part = msg.substr(pos, end - pos);
        if (part.size() >= 2 && part[0] == key && part[1] == '=') return part.substr(2);
        pos = end + 1;
    }
    return std::nullopt;
}

std::string normalize_password(std::string_view password) {
    auto p = saslprep(password);
    return p ? *p : std::string(password);
}

ScramKeys derive_keys(Hash h, std::string_view password, std::string_view salt, int iterations) {
    std::string salted = crypto::pbkdf2(h, normalize_password(password), salt, iterations);
    std::string client_key = crypto::hmac(h, salted, "Client Key");
    return ScramKeys{crypto::digest(h, client_key), crypto::hmac(h, salted, "Server Key")};
}

ScramCredentials make_credentials(std::string_view password, int iterations) {
    ScramCredentials c;
    c.salt = crypto::random_bytes(16);
    c.iterations = iterations;
    c.sha1 = derive_keys(Hash::sha1, password, c.salt, iterations);
    c.sha256 = derive_keys(Hash::sha256, password, c.salt, iterations);
    return c;
}

bool check_password(const ScramCredentials& creds, std::string_view password) {
    if (creds.sha256.stored_key.empty()) return false;
    ScramKeys k = derive_keys(Hash::sha256, password, creds.salt, creds.iterations);
    return crypto::equal(k.stored_key, creds.sha256.stored_key);
}

std::variant<std::string, Failure> ScramServer::client_first(std::string_view msg) {
    // gs2-header = gs2-cbind-flag "," [ authzid ] ","  (RFC 5802 §7)
    if (msg.size() < 3) return Failure::malformed_request;
    std::size_t c1 = msg.find(',');
    if (c1 == std::string_view::npos) return Failure::malformed_request;
    std::string_view flag = msg.substr(0, c1);
    if (flag != "n" && flag != "y") {
        // "p=..." asks for channel binding, which this server does not offer.
        return Failure::malformed_request;
    }
    std::size_t c2 = msg.find(',', c1 + 1);
    if (c2 == std::string_view::npos) return Failure::malformed_request;
    std::string_view authzid = msg.substr(c1 + 1, c2 - c1 - 1);
    gs2_header_ = std::string(msg.substr(0, c2 + 1));
    client_first_bare_ = std::string(msg.substr(c2 + 1));
    std::string_view bare = client_first_bare_;
    if (bare.substr(0, 2) == "m=") return Failure::malformed_request;  // extensions: none known
    if (bare.substr(0, 2) != "n=") return Failure::malformed_request;
    std::size_t c3 = bare.find(',');
    if (c3 == std::string_view::npos) return Failure::malformed_request;
    auto user = decode_saslname(bare.substr(2, c3 - 2));
    if (!user || user->empty()) return Failure::malformed_request;
    auto nonce = scram_attr(bare.substr(c3 + 1), 'r');
    if (!nonce || !printable_nonce(*nonce)) return Failure::malformed_request;
    client_nonce_ = std::string(*nonce);
    auto prepped = saslprep(*user);
    if (!prepped || prepped->empty()) return Failure::malformed_request;
    if (!authzid.empty()) {
        // An authzid other than the user's own JID is an attempt to act as someone else.
        if (authzid.substr(0, 2) != "a=") return Failure::malformed_request;
        auto az = decode_saslname(authzid.substr(2));
        if (!az) return Failure::malformed_request;
        auto at = az->find('@');
        if (az->substr(0, at) != *prepped) return Failure::invalid_authzid;
        // The domain is the caller's to check: it knows which domain it serves.
        authzid_ = *az;
    }
    return *prepped;
}

std::string ScramServer::server_first(const std::string& salt, int iterations, ScramKeys keys,
                                      std::string nonce) {
    keys_ = std::move(keys);
    if (nonce.empty()) nonce = crypto::random_token(24);
    nonce_ = client_nonce_ + nonce;
    server_first_ =
        "r=" + nonce_ + ",s=" + crypto::base64_encode(salt) + ",i=" + std::to_string(iterations);
    return server_first_;
}

std::variant<std::string, Failure> ScramServer::client_final(std::string_view msg) {
    // client-final-message-without-proof "," proof, where proof is the last attribute.
    std::size_t p = msg.rfind(",p=");
    if (p == std::string_view::npos) return Failure::malformed_request;
    std::string_view without_proof = msg.substr(0, p);
    auto proof_b64 = msg.substr(p + 3);
    auto cb = scram_attr(without_proof, 'c');
    auto r = scram_attr(without_proof, 'r');
    if (!cb || !r || without_proof.substr(0, 2) != "c=") return Failure::malformed_request;
    auto cb_data = crypto::base64_decode(*cb);
    if (!cb_data || *cb_data != gs2_header_) return Failure::malformed_request;
    if (*r != nonce_) return Failure::malformed_request;
    auto proof = crypto::base64_decode(proof_b64);
    if (!proof || proof->size() != crypto::digest_size(hash_)) return Failure::malformed_request;
    if (keys_.stored_key.empty()) return Failure::not_authorized;  // unknown user
    std::string auth_message =
        client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
    std::string client_signature = crypto::hmac(hash_, keys_.stored_key, auth_message);
    std::string client_key = xor_strings(*proof, client_signature);
    if (!crypto::equal(crypto::digest(hash_, client_key), keys_.stored_key))
        return Failure::not_authorized;
    std::string server_signature = crypto::hmac(hash_, keys_.server_key, auth_message);
    return "v=" + crypto::base64_encode(server_signature);
}

ScramClient::ScramClient(Hash h, std::string user, std::string password, std::string nonce)
    : hash_(h), user_(std::move(user)), password_(std::move(password)), nonce_(std::move(nonce)) {
    if (nonce_.empty()) nonce_ = crypto::random_token(24);
}

std::string ScramClient::client_first() {
    client_first_bare_ = "n=" + encode_saslname(user_) + ",r=" + nonce_;
    return "n,," + client_first_bare_;
}

std::optional<std::string> ScramClient::client_final(std::string_view server_first) {
    auto r = scram_attr(server_first, 'r');
    auto s = scram_attr(server_first, 's');
    auto i = scram_attr(server_first, 'i');
    if (!r || !s || !i) return std::nullopt;
    if (r->substr(0, nonce_.size()) != nonce_ || r->size() <= nonce_.size()) return std::nullopt;
    auto salt = crypto::base64_decode(*s);
    if (!salt) return std::nullopt;
    int iterations = 0;
    try {
        iterations = std::stoi(std::string(*i));
    } catch (...) {
        return std::nullopt;
    }
    if (iterations < 1 || iterations > 10'000'000) return std::nullopt;
    if (!reuse_salted_.empty() && *salt == reuse_salt_ && iterations == reuse_iterations_)
        salted_ = reuse_salted_;
    else
        salted_ = crypto::pbkdf2(hash_, normalize_password(password_), *salt, iterations);
    std::string client_key = crypto::hmac(hash_, salted_, "Client Key");
    std::string stored_key = crypto::digest(hash_, client_key);
    std::string without_proof = "c=biws,r=" + std::string(*r);
    std::string auth_message =
        client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
    std::string signature = crypto::hmac(hash_, stored_key, auth_message);
    std::string server_key = crypto::hmac(hash_, salted_, "Server Key");
    server_signature_ = crypto::hmac(hash_, server_key, auth_message);
    return without_proof + ",p=" + crypto::base64_encode(xor_strings(client_key, signature));
}

void ScramClient::reuse_salted_password(std::string salt, int iterations, std::string salted) {
    reuse_salt_ = std::move(salt);
    reuse_iterations_ = iterations;
    reuse_salted_ = std::move(salted);
}

bool ScramClient::verify_server_final(std::string_view server_final) const {
    auto v = scram_attr(server_final, 'v');
    if (!v) return false;
    auto sig = crypto::base64_decode(*v);
    return sig && crypto::equal(*sig, server_signature_);
}

}  // namespace hongyan::sasl
