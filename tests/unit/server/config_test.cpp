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

TEST(Config, HostTablesAddDomainsWithTheirOwnSettings) {
    auto f = write_file("hosts",
                        "[server]\ndomain = \"Example.ORG\"\ndata_dir = \"/srv/x\"\n"
                        "[register]\npolicy = \"open\"\n"
                        "[[hosts]]\ndomain = \"example.net\"\nregister.policy = \"closed\"\n"
                        "[hosts.shared_groups]\neveryone = \"Staff\"\n"
                        "[[hosts]]\ndomain = \"third.example\"\n");
    auto c = Config::load(f, {});
    EXPECT_EQ(c.host_domains(),
              (std::vector<std::string>{"example.org", "example.net", "third.example"}));
    auto first = c.for_host("example.org");
    EXPECT_EQ(first.database_path(), std::filesystem::path("/srv/x") / "hongyan.db");
    EXPECT_EQ(first.string("register.policy"), "open");
    auto net = c.for_host("example.net");
    EXPECT_EQ(net.string("server.domain"), "example.net");
    EXPECT_EQ(net.string("register.policy"), "closed");
    EXPECT_EQ(net.string("shared_groups.everyone"), "Staff");
    EXPECT_EQ(net.database_path(),
              std::filesystem::path("/srv/x") / "hosts" / "example.net" / "hongyan.db");
    EXPECT_EQ(net.cert_file(),
              std::filesystem::path("/srv/x") / "hosts" / "example.net" / "tls" / "cert.pem");
    // What a table does not set is the server's.
    EXPECT_EQ(c.for_host("third.example").string("register.policy"), "open");
    EXPECT_NE(error_of([&] { c.for_host("nowhere.example"); }).find("does not host"),
              std::string::npos);
    // The dump shows the tables, and reads back the same.
    auto again = Config::load(write_file("hosts_dump", c.dump()), {});
    EXPECT_EQ(again.host_domains(), c.host_domains());
    EXPECT_EQ(again.for_host("example.net").string("shared_groups.everyone"), "Staff");
}

TEST(Config, HostTableErrors) {
    auto load = [](const std::string& text) {
        return error_of([&] { Config::load(write_file("hosts_bad", text), {}); });
    };
    EXPECT_NE(load("[[hosts]]\nregister.policy = \"open\"\n").find("needs a domain"),
              std::string::npos);
    auto e = load("[[hosts]]\ndomain = \"b.example\"\nc2s.port = 5333\n");
    EXPECT_NE(e.find("'c2s.port' applies to the whole server"), std::string::npos) << e;
    e = load("[[hosts]]\ndomain = \"b.example\"\nregister.policy = \"maybe\"\n");
    EXPECT_NE(e.find("register.policy"), std::string::npos) << e;
    e = load("[[hosts]]\ndomain = \"LOCALHOST\"\n");
    EXPECT_NE(e.find("hosted twice"), std::string::npos) << e;
    EXPECT_NE(load("hosts = \"x\"\n").find("[[hosts]]"), std::string::npos);
}
