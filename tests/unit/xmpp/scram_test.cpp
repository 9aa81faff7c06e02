// SCRAM against the test vectors of RFC 5802 §5 (SHA-1) and RFC 7677 §3 (SHA-256).
#include "xmpp/scram.hpp"

#include <gtest/gtest.h>

#include "xmpp/crypto.hpp"

using namespace hongyan;
using crypto::Hash;

namespace {
struct Vector {
    Hash hash;
    std::string client_nonce, server_nonce_suffix, salt_b64, client_final, server_final;
};

const Vector kRfc5802{
    Hash::sha1,
    "fyko+d2lbbFgONRv9qkxdawL",
    "3rfcNHYJY1ZVvWVs7j",
    "QSXCR+Q6sek8bf92",
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="};
const Vector kRfc7677{Hash::sha256,
                      "rOprNGfwEbeRWgbNEkqO",
                      "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
                      "W22ZaJ0SNY7soEsUEjb6gQ==",
                      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="
                      "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                      "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="};

void check_vector(const Vector& v) {
    // Client side.
    sasl::ScramClient client(v.hash, "user", "pencil", v.client_nonce);
    EXPECT_EQ(client.client_first(), "n,,n=user,r=" + v.client_nonce);
    std::string server_first =
        "r=" + v.client_nonce + v.server_nonce_suffix + ",s=" + v.salt_b64 + ",i=4096";
    auto client_final = client.client_final(server_first);
    ASSERT_TRUE(client_final);
    EXPECT_EQ(*client_final, v.client_final);
    EXPECT_TRUE(client.verify_server_final(v.server_final));
    EXPECT_FALSE(client.verify_server_final("v=AAAA"));

    // Server side, holding only the derived keys.
    auto salt = crypto::base64_decode(v.salt_b64);
    ASSERT_TRUE(salt);
    sasl::ScramKeys keys = sasl::derive_keys(v.hash, "pencil", *salt, 4096);
    sasl::ScramServer server(v.hash);
    auto user = server.client_first("n,,n=user,r=" + v.client_nonce);
    ASSERT_TRUE(std::holds_alternative<std::string>(user));
    EXPECT_EQ(std::get<std::string>(user), "user");
    EXPECT_EQ(server.server_first(*salt, 4096, keys, v.server_nonce_suffix), server_first);
    auto result = server.client_final(v.client_final);
    ASSERT_TRUE(std::holds_alternative<std::string>(result));
    EXPECT_EQ(std::get<std::string>(result), v.server_final);
}
}  // namespace

TEST(Scram, Rfc5802TestVector) {
    check_vector(kRfc5802);
}
TEST(Scram, Rfc7677TestVector) {
    check_vector(kRfc7677);
}

TEST(Scram, WrongPasswordIsNotAuthorized) {
    auto creds = sasl::make_credentials("right password", 4096);
    sasl::ScramClient client(Hash::sha256, "alice", "wrong password");
    sasl::ScramServer server(Hash::sha256);
    ASSERT_TRUE(std::holds_alternative<std::string>(server.client_first(client.client_first())));
    auto cf = client.client_final(server.server_first(creds.salt, creds.iterations, creds.sha256));
    ASSERT_TRUE(cf);
    auto r = server.client_final(*cf);
    ASSERT_TRUE(std::holds_alternative<sasl::Failure>(r));
    EXPECT_EQ(std::get<sasl::Failure>(r), sasl::Failure::not_authorized);
}

TEST(Scram, RoundTripBothHashes) {
    auto creds = sasl::make_credentials("s3cret", 4096);
    for (Hash h : {Hash::sha1, Hash::sha256}) {
        sasl::ScramClient client(h, "bob", "s3cret");
        sasl::ScramServer server(h);
        ASSERT_TRUE(
            std::holds_alternative<std::string>(server.client_first(client.client_first())));
        auto cf =
            client.client_final(server.server_first(creds.salt, creds.iterations, creds.keys(h)));
        ASSERT_TRUE(cf);
        auto r = server.client_final(*cf);
        ASSERT_TRUE(std::holds_alternative<std::string>(r));
        EXPECT_TRUE(client.verify_server_final(std::get<std::string>(r)));
    }
    EXPECT_TRUE(sasl::check_password(creds, "s3cret"));
    EXPECT_FALSE(sasl::check_password(creds, "s3cret "));
}

TEST(Scram, MalformedMessages) {
    sasl::ScramServer s(Hash::sha256);
    auto failure = [](auto v) {
        return std::holds_alternative<sasl::Failure>(v) ? std::get<sasl::Failure>(v)
                                                        : sasl::Failure::aborted;
    };
    EXPECT_EQ(failure(s.client_first("")), sasl::Failure::malformed_request);
    EXPECT_EQ(failure(s.client_first("x,,n=a,r=b")), sasl::Failure::malformed_request);
    EXPECT_EQ(failure(s.client_first("p=tls-unique,,n=a,r=b")), sasl::Failure::malformed_request);
    EXPECT_EQ(failure(s.client_first("n,,n=a")), sasl::Failure::malformed_request);
    EXPECT_EQ(failure(s.client_first("n,,n=a=x,r=b")), sasl::Failure::malformed_request);
    EXPECT_EQ(failure(s.client_first("n,a=mallory,n=alice,r=b")), sasl::Failure::invalid_authzid);
    // Saslname escapes are decoded.
    auto ok = s.client_first("n,,n=a=2Cb=3Dc,r=nonce");
    ASSERT_TRUE(std::holds_alternative<std::string>(ok));
    EXPECT_EQ(std::get<std::string>(ok), "a,b=c");
}

TEST(Scram, FinalMessageMustMatchNonceAndBinding) {
    auto creds = sasl::make_credentials("pw", 4096);
    sasl::ScramClient client(Hash::sha1, "u", "pw");
    sasl::ScramServer server(Hash::sha1);
    (void)server.client_first(client.client_first());
    auto sf = server.server_first(creds.salt, creds.iterations, creds.sha1);
    auto cf = client.client_final(sf);
    ASSERT_TRUE(cf);
    std::string tampered = *cf;
    tampered.replace(tampered.find("c=biws"), 6, "c=eSws");  // "y,," instead of "n,,"
    EXPECT_TRUE(std::holds_alternative<sasl::Failure>(server.client_final(tampered)));
}

TEST(Base64, RoundTripAndStrictness) {
    for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"})
        EXPECT_EQ(*crypto::base64_decode(crypto::base64_encode(s)), s);
    EXPECT_EQ(crypto::base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_FALSE(crypto::base64_decode("Zm9v!mFy"));
    EXPECT_FALSE(crypto::base64_decode("Zm9"));
    EXPECT_FALSE(crypto::base64_decode("Z==="));
    EXPECT_FALSE(crypto::base64_decode("Zg==Zg=="));
}
