// OfflineStore on every backend: arrival order, the per-user limit, pages, deletion.
#include "server/storage/offline_store.hpp"

#include "backend_test.hpp"

namespace hongyan::storage::testing {
namespace {

class OfflineStoreTest : public BackendTest {};

std::vector<std::string> stanzas(const std::vector<OfflineMessage>& m) {
    std::vector<std::string> out;
    for (const auto& x : m) out.push_back(x.stanza);
    return out;
}

TEST_P(OfflineStoreTest, KeepsArrivalOrderUpToTheLimit) {
    add_account("bob");
    auto& o = db().offline();
    EXPECT_EQ(o.count("bob"), 0u);
    EXPECT_TRUE(o.add("bob", "<message id='1'/>", 3));
    EXPECT_TRUE(o.add("bob", "<message id='2'/>", 3));
    EXPECT_TRUE(o.add("bob", "<message id='3'/>", 3));
    EXPECT_FALSE(o.add("bob", "<message id='4'/>", 3));
    EXPECT_EQ(o.count("bob"), 3u);
    EXPECT_EQ(
        stanzas(o.load("bob")),
        (std::vector<std::string>{"<message id='1'/>", "<message id='2'/>", "<message id='3'/>"}));
}

TEST_P(OfflineStoreTest, PagesAndDeletion) {
    add_account("bob");
    add_account("carol");
    auto& o = db().offline();
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE(o.add("bob", "m" + std::to_string(i), 100));
    ASSERT_TRUE(o.add("carol", "other", 100));
    auto first = o.load_after("bob", 0, 2);
    ASSERT_EQ(stanzas(first), (std::vector<std::string>{"m1", "m2"}));
    EXPECT_LT(first[0].id, first[1].id);
    auto next = o.load_after("bob", first[1].id, 10);
    EXPECT_EQ(stanzas(next), (std::vector<std::string>{"m3", "m4", "m5"}));
    o.remove("bob", {first[0].id, first[1].id, next[1].id});
    EXPECT_EQ(stanzas(o.load("bob")), (std::vector<std::string>{"m3", "m5"}));
    o.remove("bob", {next[0].id});  // removing again what is gone is no error
    o.remove("bob", {next[0].id});
    EXPECT_EQ(o.count("bob"), 1u);
    EXPECT_EQ(stanzas(o.load("carol")), (std::vector<std::string>{"other"}));
    // Another user's ids delete nothing of carol's.
    o.remove("bob", {o.load("carol")[0].id});
    EXPECT_EQ(o.count("carol"), 1u);
}

HONGYAN_ON_EVERY_BACKEND(OfflineStoreTest);

}  // namespace
}  // namespace hongyan::storage::testing
