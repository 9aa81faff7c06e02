// The fixture of every store test: each test runs once per backend compiled in
// (storage::backend_names()), on a fresh database of its own (PostgreSQL: a database
// of its own on the throwaway test server, pg_test_server.hpp). A store test file per store
// interface; a new backend passes them all before it is used.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "pg_test_server.hpp"
#include "server/modules/module.hpp"
#include "server/storage/backend.hpp"

namespace hongyan::storage::testing {

class BackendTest : public ::testing::TestWithParam<std::string_view> {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("hongyan-store-test-" + std::to_string(std::random_device{}()));
        if (GetParam() == "postgresql") pg_url_ = pg_create_database();
        db_ = open_backend(GetParam(), options());
    }
    // Where the test's database is, with every module's tables.
    BackendOptions options() const {
        BackendOptions o;
        o.sqlite_file = dir_ / "hongyan.db";
        o.postgresql.url = pg_url_;
        o.postgresql.pool_size = 2;
        o.busy_timeout_ms = 1000;
        o.schema = modules::schema(GetParam());
        return o;
    }
    // Closes the database and opens it again with `o`.
    void reopen(const BackendOptions& o) {
        db_.reset();
        db_ = open_backend(GetParam(), o);
    }
    void TearDown() override {
        db_.reset();
        std::filesystem::remove_all(dir_);
        if (!pg_url_.empty()) pg_drop_database(pg_url_);
    }
    Backend& db() { return *db_; }
    // An account with throwaway credentials (most stores hold rows of an account).
    void add_account(const std::string& user) {
        sasl::ScramCredentials c;
        c.salt = "salt-" + user;
        c.iterations = 4096;
        c.sha1 = {"stored1-" + user, "server1-" + user};
        c.sha256 = {"stored256-" + user, "server256-" + user};
        ASSERT_TRUE(db().accounts().create(user, c));
    }

  private:
    std::filesystem::path dir_;
    std::string pg_url_;  // the test's own database, on the postgresql backend
    std::unique_ptr<Backend> db_;
};

inline std::string backend_name(const ::testing::TestParamInfo<std::string_view>& info) {
    return std::string(info.param);
}

}  // namespace hongyan::storage::testing

#define HONGYAN_ON_EVERY_BACKEND(Suite)                                                \
    INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                          \
                             ::testing::ValuesIn(::hongyan::storage::backend_names()), \
                             ::hongyan::storage::testing::backend_name)
