// The PostgreSQL server the store tests run the postgresql backend on: the throwaway one
// ctest's fixture started (tests/pg-throwaway.sh, $HONGYAN_TEST_PG_DIR), or, when the test
// binary runs on its own, one it starts itself and stops at exit. Each test gets a database
// of its own.
#pragma once

#include <string>

namespace hongyan::storage::testing {

// A new, empty database on the test server; its URL.
std::string pg_create_database();
// Drops the database `url` names (connections still open to it are ended).
void pg_drop_database(const std::string& url);

}  // namespace hongyan::storage::testing
