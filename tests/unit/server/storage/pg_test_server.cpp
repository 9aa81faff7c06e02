#include "pg_test_server.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>

#include "server/storage/postgresql/connection.hpp"

namespace hongyan::storage::testing {

namespace {

const std::string kScript = std::string(HONGYAN_SOURCE_DIR) + "/tests/pg-throwaway.sh";

// A server this process started, stopped when the process ends.
struct OwnServer {
    std::string dir;
    ~OwnServer() {
        if (!dir.empty()) std::system((kScript + " stop " + dir + " >/dev/null 2>&1").c_str());
    }
};

std::string read_url(const std::string& dir) {
    std::ifstream in(dir + "/url");
    std::string url;
    std::getline(in, url);
    return url;
}

const std::string& admin_url() {
    static OwnServer own;
    static const std::string url = [] {
        if (const char* dir = std::getenv("HONGYAN_TEST_PG_DIR")) {
            auto u = read_url(dir);
            if (!u.empty()) return u;
        }
        own.dir = "/tmp/hongyan-pg-" + std::to_string(std::random_device{}());
        if (std::system((kScript + " start " + own.dir + " >/dev/null").c_str()) != 0)
            throw std::runtime_error("could not start a PostgreSQL server with " + kScript);
        return read_url(own.dir);
    }();
    return url;
}

postgresql::ConnectOptions options(const std::string& url) {
    postgresql::ConnectOptions o;
    o.url = url;
    return o;
}

// The URL's database name ("postgresql:///NAME?...").
std::string with_database(const std::string& url, const std::string& name) {
    auto start = url.find(":///") + 4;
    auto end = url.find('?', start);
    return url.substr(0, start) + name + url.substr(end);
}

}  // namespace

std::string pg_create_database() {
    const std::string name = "test_" + std::to_string(std::random_device{}()) + "_" +
                             std::to_string(std::random_device{}());
    postgresql::Connection c(options(admin_url()));
    c.exec("CREATE DATABASE " + name);
    return with_database(admin_url(), name);
}

void pg_drop_database(const std::string& url) {
    auto start = url.find(":///") + 4;
    auto name = url.substr(start, url.find('?', start) - start);
    postgresql::Connection c(options(admin_url()));
    c.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
}

}  // namespace hongyan::storage::testing
