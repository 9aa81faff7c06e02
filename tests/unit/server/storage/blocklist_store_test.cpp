// BlocklistStore on every backend.
#include "server/storage/blocklist_store.hpp"

#include "backend_test.hpp"

namespace hongyan::storage::testing {
namespace {

class BlocklistStoreTest : public BackendTest {};

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

TEST_P(BlocklistStoreTest, AddRemoveAndRemoveAll) {
    add_account("alice");
    add_account("bob");
    auto& b = db().blocklists();
    EXPECT_TRUE(b.load("alice").empty());
    b.add("alice", {"spam@example.org", "example.net", "carol@localhost/phone"});
    b.add("alice", {"spam@example.org"});  // again: still one entry
    b.add("bob", {"alice@localhost"});
    EXPECT_EQ(
        sorted(b.load("alice")),
        (std::vector<std::string>{"carol@localhost/phone", "example.net", "spam@example.org"}));
    b.remove("alice", {"example.net", "not-there@localhost"});
    EXPECT_EQ(sorted(b.load("alice")),
              (std::vector<std::string>{"carol@localhost/phone", "spam@example.org"}));
    b.remove("alice", {});  // an empty list removes every entry
    EXPECT_TRUE(b.load("alice").empty());
    EXPECT_EQ(b.load("bob"), (std::vector<std::string>{"alice@localhost"}));
}

HONGYAN_ON_EVERY_BACKEND(BlocklistStoreTest);

}  // namespace
}  // namespace hongyan::storage::testing
