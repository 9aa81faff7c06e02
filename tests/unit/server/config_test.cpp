// Configuration: defaults, TOML files, --set overrides, and clear errors naming the key.
#include "server/config/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using hongyan::config::Config;
using hongyan::config::ConfigError;

namespace {
std::filesystem::path write_file(const std::string& name, const std::string& text) {
    auto p = std::filesystem::temp_directory_path() / ("hongyan_config_test_" + name + ".toml");
    std::ofstream(p) << text;
    return p;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST(Config, Defaults) {
    Config c;
    EXPECT_EQ(c.string("server.domain"), "localhost");
    EXPECT_EQ(c.integer("c2s.port"), 5222);
    EXPECT_EQ(c.integer("c2s.tls_port"), 5223);
    EXPECT_TRUE(c.boolean("c2s.require_tls"));
    EXPECT_EQ(c.integer("limits.max_stanza_size"), 262144);
    EXPECT_EQ(c.string("register.policy"), "localhost");
    EXPECT_EQ(c.database_path(), std::filesystem::path("data") / "hongyan.db");
}

TEST(Config, FileThenOverrides) {
    auto f =
        write_file("ok",
                   "[server]\ndomain = \"example.org\"\n[c2s]\nport = 6222\nrequire_tls = false\n"
                   "[auth]\nmechanisms = [\"SCRAM-SHA-256\"]\n");
    auto c = Config::load(f, {"c2s.port=7222", "log.level=debug"});
    EXPECT_EQ(c.string("server.domain"), "example.org");
    EXPECT_EQ(c.integer("c2s.port"), 7222);
    EXPECT_FALSE(c.boolean("c2s.require_tls"));
    EXPECT_EQ(c.list("auth.mechanisms"), std::vector<std::string>{"SCRAM-SHA-256"});
    EXPECT_EQ(c.string("log.level"), "debug");
}

TEST(Config, OverrideParsing) {
    auto c =
        Config::load(std::nullopt, {"c2s.require_tls=no", "auth.mechanisms=SCRAM-SHA-1,PLAIN"});
    EXPECT_FALSE(c.boolean("c2s.require_tls"));
    EXPECT_EQ(c.list("auth.mechanisms"), (std::vector<std::string>{"SCRAM-SHA-1", "PLAIN"}));
}

TEST(Config, ErrorsNameTheKeyAndTheExpectation) {
    EXPECT_NE(error_of([] {
                  Config::load(std::nullopt, {"c2s.port=abc"});
              }).find("'c2s.port' expects an integer from 0 to 65535"),
              std::string::npos);
    EXPECT_NE(error_of([] { Config::load(std::nullopt, {"c2s.port=70000"}); }).find("got 70000"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  Config::load(std::nullopt, {"c2s.prot=1"});
              }).find("did you mean 'c2s.port'"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  Config::load(std::nullopt, {"register.policy=maybe"});
              }).find("one of: open, localhost, closed"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  Config::load(std::nullopt, {"c2s.require_tls=perhaps"});
              }).find("true or false"),
              std::string::npos);
    EXPECT_NE(error_of([] { Config::load(std::nullopt, {"noequals"}); }).find("expected key=value"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  Config::load(std::nullopt, {"auth.mechanisms=DIGEST-MD5"});
              }).find("'DIGEST-MD5'"),
              std::string::npos);
}

TEST(Config, FileErrors) {
    auto typo = write_file("typo", "[c2s]\nprot = 1\n");
    auto msg = error_of([&] { Config::load(typo, {}); });
    EXPECT_NE(msg.find(typo.string()), std::string::npos);
    EXPECT_NE(msg.find("unknown configuration key 'c2s.prot'"), std::string::npos);
    auto wrong_type = write_file("type", "[c2s]\nport = \"5222\"\n");
    EXPECT_NE(
        error_of([&] { Config::load(wrong_type, {}); }).find("key 'c2s.port' expects an integer"),
        std::string::npos);
    auto syntax = write_file("syntax", "[c2s\nport = 1\n");
    EXPECT_NE(error_of([&] { Config::load(syntax, {}); }).find(syntax.string() + ":1:"),
              std::string::npos);
}

TEST(Config, DumpRoundTrips) {
    auto c = Config::load(std::nullopt, {"server.domain=example.net", "c2s.port=1234"});
    auto f = write_file("dump", c.dump());
    auto d = Config::load(f, {});
    EXPECT_EQ(d.string("server.domain"), "example.net");
    EXPECT_EQ(d.integer("c2s.port"), 1234);
    EXPECT_EQ(d.dump(), c.dump());
}
