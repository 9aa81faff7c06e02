// JID parsing and normalisation (RFC 7622 §3 and the examples of its §3.5).
#include "xmpp/jid.hpp"

#include <gtest/gtest.h>
#include <stringprep.h>

#include <cstring>

using hongyan::Jid;

namespace {
std::string norm(std::string_view s) {
    auto j = Jid::parse(s);
    return j ? j->str() : "<invalid>";
}
}  // namespace

TEST(Jid, Parts) {
    auto j = Jid::parse("juliet@example.com/foo");
    ASSERT_TRUE(j);
    EXPECT_EQ(j->local(), "juliet");
    EXPECT_EQ(j->domain(), "example.com");
    EXPECT_EQ(j->resource(), "foo");
    EXPECT_EQ(j->bare_str(), "juliet@example.com");
    EXPECT_FALSE(j->is_bare());
    EXPECT_TRUE(j->bare().is_bare());
}

TEST(Jid, ValidExamplesOfRfc7622) {
    // RFC 7622 §3.5 "Examples": valid JIDs.
    EXPECT_EQ(norm("juliet@example.com"), "juliet@example.com");
    EXPECT_EQ(norm("juliet@example.com/foo"), "juliet@example.com/foo");
    EXPECT_EQ(norm("juliet@example.com/foo bar"), "juliet@example.com/foo bar");
    EXPECT_EQ(norm("juliet@example.com/foo@bar"), "juliet@example.com/foo@bar");
    EXPECT_EQ(norm("foo\\20bar@example.com"), "foo\\20bar@example.com");
    EXPECT_EQ(norm("fussball@example.com"), "fussball@example.com");
    EXPECT_EQ(norm("π@example.com"), "π@example.com");
    EXPECT_EQ(norm("example.com"), "example.com");
    EXPECT_EQ(norm("example.com/foobar"), "example.com/foobar");
    EXPECT_EQ(norm("a.example.com/b@example.net"), "a.example.com/b@example.net");
}

TEST(Jid, Normalisation) {
    EXPECT_EQ(norm("Juliet@Example.COM/Balcony"),
              "juliet@example.com/Balcony");  // resource keeps case
    EXPECT_EQ(norm("ΣΑΣ@example.com"), "σασ@example.com");
    EXPECT_EQ(norm("juliet@example.com."), "juliet@example.com");  // §3.2 trailing dot
    EXPECT_EQ(norm("x@127.0.0.1"), "x@127.0.0.1");
    EXPECT_EQ(norm("x@[::1]"), "x@[::1]");
}

TEST(Jid, InvalidExamplesOfRfc7622) {
    // RFC 7622 §3.5: invalid JIDs.
    EXPECT_FALSE(Jid::parse("\"juliet\"@example.com"));
    EXPECT_FALSE(Jid::parse("foo bar@example.com"));
    EXPECT_FALSE(Jid::parse("@example.com/"));
    EXPECT_FALSE(Jid::parse("@example.com"));
    EXPECT_FALSE(Jid::parse("juliet@"));
    EXPECT_FALSE(Jid::parse("juliet@example.com/"));
    EXPECT_FALSE(Jid::parse(""));
    EXPECT_FALSE(Jid::parse("/resource"));
    EXPECT_FALSE(Jid::parse("a@b@c"));
    EXPECT_FALSE(Jid::parse("juliet@exa mple.com"));
    EXPECT_FALSE(Jid::parse(std::string("a\0b@example.com", 15)));
}

TEST(Jid, LengthLimits) {
    // §3.3-3.4: each part 1..1023 octets.
    EXPECT_TRUE(Jid::parse(std::string(1023, 'a') + "@example.com"));
    EXPECT_FALSE(Jid::parse(std::string(1024, 'a') + "@example.com"));
    EXPECT_TRUE(Jid::parse("a@example.com/" + std::string(1023, 'r')));
    EXPECT_FALSE(Jid::parse("a@example.com/" + std::string(1024, 'r')));
}

TEST(Jid, PrepFunctions) {
    EXPECT_EQ(*hongyan::jid::nodeprep("Alice"), "alice");
    EXPECT_FALSE(hongyan::jid::nodeprep("al:ice"));
    EXPECT_FALSE(hongyan::jid::nodeprep("a/b"));
    EXPECT_FALSE(hongyan::jid::nodeprep(""));
    EXPECT_EQ(*hongyan::jid::resourceprep("Phone 1"), "Phone 1");
    EXPECT_EQ(*hongyan::jid::nameprep("LOCALHOST"), "localhost");
}

// The ASCII fast path must agree with libidn's stringprep for every ASCII character, in
// every profile (RFC 6122 Appendix A/B, RFC 3491).
namespace {
std::optional<std::string> libidn(std::string in, const Stringprep_profile* profile) {
    in.resize(in.size() * 4 + 16);
    if (stringprep(in.data(), in.size(), Stringprep_profile_flags(0), profile) != STRINGPREP_OK)
        return std::nullopt;
    in.resize(std::strlen(in.c_str()));
    return in;
}
}  // namespace

TEST(Jid, AsciiFastPathMatchesLibidn) {
    for (int c = 1; c < 0x80; ++c) {
        std::string s = std::string("aB") + static_cast<char>(c) + "z";
        EXPECT_EQ(hongyan::jid::nodeprep(s), libidn(s, stringprep_xmpp_nodeprep)) << c;
        EXPECT_EQ(hongyan::jid::resourceprep(s), libidn(s, stringprep_xmpp_resourceprep)) << c;
    }
    for (int c = 'A'; c <= 'Z'; ++c) {
        std::string s = std::string("ex") + static_cast<char>(c) + ".org";
        EXPECT_EQ(hongyan::jid::nameprep(s), libidn(s, stringprep_nameprep)) << c;
    }
}
