// RosterStore on every backend: items with every subscription bit, tombstones, and a
// deleted account's removal from other rosters.
#include "server/storage/roster_store.hpp"

#include "backend_test.hpp"

namespace hongyan::storage::testing {
namespace {

class RosterStoreTest : public BackendTest {};

RosterItem item(std::string jid, std::int64_t ver) {
    RosterItem i;
    i.jid = std::move(jid);
    i.ver = ver;
    return i;
}

const RosterItem* find(const std::vector<RosterItem>& items, const std::string& jid) {
    for (const auto& i : items)
        if (i.jid == jid) return &i;
    return nullptr;
}

TEST_P(RosterStoreTest, ItemsRoundTripWithEveryField) {
    add_account("alice");
    auto& r = db().rosters();
    EXPECT_TRUE(r.load("alice").empty());
    RosterItem bob = item("bob@localhost", 1);
    bob.name = "Bob ☃";
    bob.groups = {"Friends", "Work"};
    bob.sub = SubState{true, false, false, true, true};
    bob.listed = true;
    bob.request = "<presence type='subscribe'/>";
    r.put("alice", bob);
    RosterItem carol = item("carol@example.org", 2);
    carol.listed = false;
    r.put("alice", carol);
    auto items = r.load("alice");
    ASSERT_EQ(items.size(), 2u);
    const auto* b = find(items, "bob@localhost");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->name, "Bob ☃");
    auto groups = b->groups;
    std::sort(groups.begin(), groups.end());
    EXPECT_EQ(groups, (std::vector<std::string>{"Friends", "Work"}));
    EXPECT_EQ(b->sub, bob.sub);
    EXPECT_EQ(b->ver, 1);
    EXPECT_EQ(b->request, bob.request);
    EXPECT_FALSE(find(items, "carol@example.org")->listed);
    // put() replaces the item for that JID.
    bob.groups = {};
    bob.ver = 3;
    bob.removed = true;
    r.put("alice", bob);
    items = r.load("alice");
    ASSERT_EQ(items.size(), 2u);
    b = find(items, "bob@localhost");
    EXPECT_TRUE(b->removed);
    EXPECT_TRUE(b->groups.empty());
    EXPECT_EQ(b->ver, 3);
}

TEST_P(RosterStoreTest, ForgettingTombstones) {
    add_account("alice");
    auto& r = db().rosters();
    for (int v = 1; v <= 4; ++v) {
        auto i = item("c" + std::to_string(v) + "@localhost", v);
        i.removed = v <= 3;
        r.put("alice", i);
    }
    EXPECT_EQ(r.forgotten_below("alice"), 0);
    r.forget_removed("alice", 3);
    EXPECT_EQ(r.forgotten_below("alice"), 3);
    auto items = r.load("alice");
    EXPECT_EQ(find(items, "c1@localhost"), nullptr);
    EXPECT_EQ(find(items, "c2@localhost"), nullptr);
    EXPECT_NE(find(items, "c3@localhost"), nullptr);  // version 3 is not below 3
    EXPECT_NE(find(items, "c4@localhost"), nullptr);  // not removed
}

TEST_P(RosterStoreTest, RemoveContactLeavesATombstoneInEveryRosterThatHadIt) {
    add_account("alice");
    add_account("bob");
    add_account("carol");
    auto& r = db().rosters();
    r.put("alice", item("dave@localhost", 5));
    r.put("bob", item("dave@localhost", 1));
    r.put("carol", item("erin@localhost", 1));
    auto users = r.remove_contact("dave@localhost");
    std::sort(users.begin(), users.end());
    EXPECT_EQ(users, (std::vector<std::string>{"alice", "bob"}));
    const auto alice = r.load("alice");
    const auto* a = find(alice, "dave@localhost");
    ASSERT_NE(a, nullptr);
    EXPECT_TRUE(a->removed);
    EXPECT_GT(a->ver, 5);  // at the next version of that roster
    EXPECT_FALSE(find(r.load("carol"), "erin@localhost")->removed);
}

TEST_P(RosterStoreTest, ADeletedAccountTakesItsRosterWithIt) {
    add_account("alice");
    db().rosters().put("alice", item("bob@localhost", 1));
    ASSERT_TRUE(db().accounts().remove("alice"));
    add_account("alice");
    EXPECT_TRUE(db().rosters().load("alice").empty());
}

HONGYAN_ON_EVERY_BACKEND(RosterStoreTest);

}  // namespace
}  // namespace hongyan::storage::testing
