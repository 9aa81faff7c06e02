// DirectoryStore on every backend: shared groups, the change feed the server follows,
// last activity and user search.
#include "server/storage/directory_store.hpp"

#include "backend_test.hpp"

namespace hongyan::storage::testing {
namespace {

class DirectoryStoreTest : public BackendTest {};

using Kind = DirectoryEvent::Kind;

std::vector<Kind> kinds(const std::vector<DirectoryEvent>& events) {
    std::vector<Kind> out;
    for (const auto& e : events) out.push_back(e.kind);
    return out;
}

TEST_P(DirectoryStoreTest, GroupsAndMembers) {
    add_account("alice");
    add_account("bob");
    auto& d = db().directory();
    EXPECT_TRUE(d.create_group("staff", "Staff"));
    EXPECT_FALSE(d.create_group("staff", "Again"));
    EXPECT_TRUE(d.add_member("staff", "alice"));
    EXPECT_FALSE(d.add_member("staff", "alice"));
    EXPECT_FALSE(d.add_member("nogroup", "alice"));
    EXPECT_TRUE(d.add_member("staff", "bob"));
    auto groups = d.groups();
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_EQ(groups[0].name, "staff");
    EXPECT_EQ(groups[0].display, "Staff");
    auto members = groups[0].members;
    std::sort(members.begin(), members.end());
    EXPECT_EQ(members, (std::vector<std::string>{"alice", "bob"}));
    EXPECT_TRUE(d.remove_member("staff", "bob"));
    EXPECT_FALSE(d.remove_member("staff", "bob"));
    // A deleted account leaves its groups.
    ASSERT_TRUE(db().accounts().remove("alice"));
    EXPECT_TRUE(d.groups()[0].members.empty());
    EXPECT_TRUE(d.delete_group("staff"));
    EXPECT_FALSE(d.delete_group("staff"));
    EXPECT_TRUE(d.groups().empty());
}

TEST_P(DirectoryStoreTest, TheChangeFeedRecordsEveryChangeInOrder) {
    auto& d = db().directory();
    const auto start = d.last_event();
    add_account("alice");
    ASSERT_TRUE(d.create_group("staff", "Staff"));
    ASSERT_TRUE(d.add_member("staff", "alice"));
    d.note_roster_changed("alice");
    ASSERT_TRUE(d.remove_member("staff", "alice"));
    ASSERT_TRUE(db().accounts().remove("alice"));
    auto events = d.events_since(start, 100);
    ASSERT_FALSE(events.empty());
    for (std::size_t i = 1; i < events.size(); ++i) EXPECT_LT(events[i - 1].seq, events[i].seq);
    EXPECT_EQ(events.front().kind, Kind::account_added);
    EXPECT_EQ(events.front().user, "alice");
    EXPECT_EQ(events.back().kind, Kind::account_removed);
    auto k = kinds(events);
    EXPECT_NE(std::find(k.begin(), k.end(), Kind::member_added), k.end());
    EXPECT_NE(std::find(k.begin(), k.end(), Kind::roster_changed), k.end());
    EXPECT_NE(std::find(k.begin(), k.end(), Kind::member_removed), k.end());
    EXPECT_EQ(d.last_event(), events.back().seq);
    // Paging, and pruning keeps the newest.
    auto first = d.events_since(start, 1);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].seq, events[0].seq);
    d.prune_events(2);
    auto kept = d.events_since(0, 100);
    ASSERT_EQ(kept.size(), 2u);
    EXPECT_EQ(kept.back().seq, events.back().seq);
}

TEST_P(DirectoryStoreTest, LastActivityAndSearch) {
    for (const char* u : {"alice", "Alicia", "bob", "malice"}) add_account(u);
    auto& d = db().directory();
    EXPECT_FALSE(d.last_activity("alice"));
    d.set_last_activity("alice", LastActivity{1700000000, "gone fishing"});
    d.set_last_activity("alice", LastActivity{1700000100, "back soon"});
    auto a = d.last_activity("alice");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->logout, 1700000100);
    EXPECT_EQ(a->status, "back soon");
    EXPECT_EQ(d.search("ALI", 10), (std::vector<std::string>{"Alicia", "alice", "malice"}));
    EXPECT_EQ(d.search("ali", 2).size(), 2u);
    EXPECT_TRUE(d.search("zed", 10).empty());
}

HONGYAN_ON_EVERY_BACKEND(DirectoryStoreTest);

}  // namespace
}  // namespace hongyan::storage::testing
