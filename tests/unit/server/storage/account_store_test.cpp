// AccountStore on every backend: accounts with their SCRAM keys, never a password.
#include "server/storage/account_store.hpp"

#include "backend_test.hpp"

namespace hongyan::storage::testing {
namespace {

class AccountStoreTest : public BackendTest {};

TEST_P(AccountStoreTest, CreateReadReplaceRemove) {
    auto& a = db().accounts();
    EXPECT_FALSE(a.exists("alice"));
    EXPECT_FALSE(a.credentials("alice"));
    add_account("alice");
    add_account("bob");
    EXPECT_TRUE(a.exists("alice"));
    auto c = a.credentials("alice");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->salt, "salt-alice");
    EXPECT_EQ(c->iterations, 4096);
    EXPECT_EQ(c->sha1.stored_key, "stored1-alice");
    EXPECT_EQ(c->sha256.server_key, "server256-alice");
    // A second account of the same name is refused and changes nothing.
    sasl::ScramCredentials other = *c;
    other.salt = "other";
    EXPECT_FALSE(a.create("alice", other));
    EXPECT_EQ(a.credentials("alice")->salt, "salt-alice");
    EXPECT_TRUE(a.set_credentials("alice", other));
    EXPECT_EQ(a.credentials("alice")->salt, "other");
    EXPECT_FALSE(a.set_credentials("nobody", other));
    EXPECT_EQ(a.count(), 2u);
    auto names = a.list();
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"alice", "bob"}));
    EXPECT_TRUE(a.remove("alice"));
    EXPECT_FALSE(a.remove("alice"));
    EXPECT_FALSE(a.exists("alice"));
    EXPECT_EQ(a.count(), 1u);
}

TEST_P(AccountStoreTest, KeysAreBinarySafe) {
    sasl::ScramCredentials c;
    c.salt = std::string("\0\x01\xff salt", 8);
    c.iterations = 10000;
    c.sha1 = {std::string("\0\0\x80", 3), std::string(20, '\xfe')};
    c.sha256 = {std::string(32, '\0'), std::string(32, '\x7f')};
    ASSERT_TRUE(db().accounts().create("carol", c));
    auto back = db().accounts().credentials("carol");
    ASSERT_TRUE(back);
    EXPECT_EQ(back->salt, c.salt);
    EXPECT_EQ(back->sha1.stored_key, c.sha1.stored_key);
    EXPECT_EQ(back->sha1.server_key, c.sha1.server_key);
    EXPECT_EQ(back->sha256.stored_key, c.sha256.stored_key);
    EXPECT_EQ(back->sha256.server_key, c.sha256.server_key);
}

TEST_P(AccountStoreTest, ATransactionThatThrowsWritesNothing) {
    EXPECT_THROW(db().transaction([&] {
        add_account("dave");
        throw std::runtime_error("changed my mind");
    }),
                 std::runtime_error);
    EXPECT_FALSE(db().accounts().exists("dave"));
    db().transaction([&] { add_account("erin"); });
    EXPECT_TRUE(db().accounts().exists("erin"));
}

HONGYAN_ON_EVERY_BACKEND(AccountStoreTest);

}  // namespace
}  // namespace hongyan::storage::testing
