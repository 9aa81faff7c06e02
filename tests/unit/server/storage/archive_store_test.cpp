// ArchiveStore on every backend: the queries XEP-0313 §4 needs (by conversation, by time,
// by stanza-id) with XEP-0059 paging both ways, and deletion.
#include "server/storage/archive_store.hpp"

#include <algorithm>

#include "backend_test.hpp"
#include "server/storage/storage_error.hpp"

namespace hongyan::storage::testing {
namespace {

class ArchiveStoreTest : public BackendTest {
  protected:
    // Message n of a test archive: with bob or carol by turns, one second apart.
    static ArchivedMessage message(int n, const std::string& with = "") {
        ArchivedMessage m;
        m.id = "id-" + std::to_string(n);
        m.time_us = 1'700'000'000'000'000 + std::int64_t{n} * 1'000'000;
        m.with = !with.empty() ? with : n % 2 ? "bob@localhost" : "carol@example.org";
        m.with_resource = n % 4 == 1 ? "phone" : "desktop";
        m.outgoing = n % 3 == 0;
        m.stanza = "<message xmlns='jabber:client' id='m" + std::to_string(n) + "'><body>hé ☃ " +
                   std::to_string(n) + "</body></message>";
        return m;
    }
    void fill(const std::string& user, int n) {
        for (int i = 0; i < n; ++i) db().archive().add(user, message(i));
    }
    static std::vector<std::string> ids(const ArchivePage& p) {
        std::vector<std::string> out;
        for (const auto& m : p.items) out.push_back(m.id);
        return out;
    }
};

TEST_P(ArchiveStoreTest, MessagesComeBackWithEveryFieldInArchiveOrder) {
    add_account("alice");
    auto& a = db().archive();
    EXPECT_EQ(a.count("alice"), 0u);
    EXPECT_FALSE(a.first("alice"));
    std::vector<std::int64_t> seqs;
    for (int i = 0; i < 5; ++i) seqs.push_back(a.add("alice", message(i)));
    EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));
    EXPECT_EQ(a.count("alice"), 5u);
    ArchiveQuery q;
    auto page = a.query("alice", q);
    ASSERT_EQ(page.items.size(), 5u);
    EXPECT_TRUE(page.complete);
    for (int i = 0; i < 5; ++i) {
        const auto want = message(i);
        const auto& got = page.items[static_cast<std::size_t>(i)];
        EXPECT_EQ(got.seq, seqs[static_cast<std::size_t>(i)]);
        EXPECT_EQ(got.id, want.id);
        EXPECT_EQ(got.time_us, want.time_us);
        EXPECT_EQ(got.with, want.with);
        EXPECT_EQ(got.with_resource, want.with_resource);
        EXPECT_EQ(got.outgoing, want.outgoing);
        EXPECT_EQ(got.stanza, want.stanza);
    }
    EXPECT_EQ(a.first("alice")->id, "id-0");
    EXPECT_EQ(a.last("alice")->id, "id-4");
}

TEST_P(ArchiveStoreTest, PagesForwardAndBackwardAndSayWhenTheyAreComplete) {
    add_account("alice");
    fill("alice", 7);
    auto& a = db().archive();
    // XEP-0059 §2.2: forward from the start, then after the last of each page.
    ArchiveQuery q;
    q.max = 3;
    auto p1 = a.query("alice", q);
    EXPECT_EQ(ids(p1), (std::vector<std::string>{"id-0", "id-1", "id-2"}));
    EXPECT_FALSE(p1.complete);
    q.after_seq = p1.items.back().seq;
    auto p2 = a.query("alice", q);
    EXPECT_EQ(ids(p2), (std::vector<std::string>{"id-3", "id-4", "id-5"}));
    EXPECT_FALSE(p2.complete);
    q.after_seq = p2.items.back().seq;
    auto p3 = a.query("alice", q);
    EXPECT_EQ(ids(p3), (std::vector<std::string>{"id-6"}));
    EXPECT_TRUE(p3.complete);
    // §2.5: the last page (an empty <before/>), still oldest first, then the one before.
    ArchiveQuery back;
    back.max = 3;
    back.backward = true;
    auto b1 = a.query("alice", back);
    EXPECT_EQ(ids(b1), (std::vector<std::string>{"id-4", "id-5", "id-6"}));
    EXPECT_FALSE(b1.complete);
    back.before_seq = b1.items.front().seq;
    auto b2 = a.query("alice", back);
    EXPECT_EQ(ids(b2), (std::vector<std::string>{"id-1", "id-2", "id-3"}));
    back.before_seq = b2.items.front().seq;
    auto b3 = a.query("alice", back);
    EXPECT_EQ(ids(b3), (std::vector<std::string>{"id-0"}));
    EXPECT_TRUE(b3.complete);
    // A page that fits exactly is complete too.
    ArchiveQuery all;
    all.max = 7;
    EXPECT_TRUE(a.query("alice", all).complete);
    all.max = 0;  // §2.6 (count only): no items, and not complete when there are some
    auto none = a.query("alice", all);
    EXPECT_TRUE(none.items.empty());
    EXPECT_FALSE(none.complete);
}

TEST_P(ArchiveStoreTest, FiltersByConversationTimeAndIds) {
    add_account("alice");
    add_account("zed");
    fill("alice", 10);
    db().archive().add("zed", message(100, "bob@localhost"));
    auto& a = db().archive();
    // XEP-0313 §4.1.1: a bare JID matches every resource of it, a full JID that one only.
    ArchiveQuery q;
    q.with = "bob@localhost";
    EXPECT_EQ(ids(a.query("alice", q)),
              (std::vector<std::string>{"id-1", "id-3", "id-5", "id-7", "id-9"}));
    q.with_resource = "phone";
    EXPECT_EQ(ids(a.query("alice", q)), (std::vector<std::string>{"id-1", "id-5", "id-9"}));
    // §4.1.2: start and end are inclusive.
    ArchiveQuery t;
    t.start_us = message(2).time_us;
    t.end_us = message(4).time_us;
    EXPECT_EQ(ids(a.query("alice", t)), (std::vector<std::string>{"id-2", "id-3", "id-4"}));
    t.with = "carol@example.org";
    EXPECT_EQ(ids(a.query("alice", t)), (std::vector<std::string>{"id-2", "id-4"}));
    // The last page of a time range, and ranges outside the archive.
    ArchiveQuery last;
    last.start_us = message(2).time_us;
    last.end_us = message(6).time_us;
    last.backward = true;
    last.max = 2;
    EXPECT_EQ(ids(a.query("alice", last)), (std::vector<std::string>{"id-5", "id-6"}));
    ArchiveQuery after_all;
    after_all.start_us = message(11).time_us;
    EXPECT_TRUE(a.query("alice", after_all).items.empty());
    ArchiveQuery before_all;
    before_all.end_us = message(0).time_us - 1;
    EXPECT_TRUE(a.query("alice", before_all).items.empty());
    // urn:xmpp:mam:2#extended: by stanza-id; ids of others' archives match nothing.
    ArchiveQuery by_id;
    by_id.ids = {"id-8", "id-3", "id-100", "nope"};
    EXPECT_EQ(ids(a.query("alice", by_id)), (std::vector<std::string>{"id-3", "id-8"}));
    // find(): the position of an id, for after-id / before-id and RSM.
    EXPECT_EQ(a.find("alice", "id-3"), a.query("alice", by_id).items.front().seq);
    EXPECT_FALSE(a.find("alice", "id-100"));
    EXPECT_TRUE(a.find("zed", "id-100"));
}

TEST_P(ArchiveStoreTest, AStanzaIdIsUniqueInOneArchiveOnly) {
    add_account("alice");
    add_account("bob");
    db().archive().add("alice", message(1));
    EXPECT_THROW(db().archive().add("alice", message(1)), StorageError);
    EXPECT_NO_THROW(db().archive().add("bob", message(1)));
    EXPECT_EQ(db().archive().count("alice"), 1u);
}

TEST_P(ArchiveStoreTest, RetentionClearAndAccountDeletion) {
    add_account("alice");
    add_account("bob");
    fill("alice", 6);
    fill("bob", 6);
    auto& a = db().archive();
    // mam.retention: everything before message 3's time goes, oldest first, in batches.
    const auto cutoff = message(3).time_us;
    EXPECT_EQ(a.remove_before(cutoff, 4), 4u);
    EXPECT_EQ(a.remove_before(cutoff, 4), 2u);
    EXPECT_EQ(a.remove_before(cutoff, 4), 0u);
    EXPECT_EQ(a.first("alice")->id, "id-3");
    EXPECT_EQ(a.first("bob")->id, "id-3");
    EXPECT_EQ(a.clear("bob"), 3u);
    EXPECT_EQ(a.count("bob"), 0u);
    // The archive goes with its account.
    EXPECT_TRUE(db().accounts().remove("alice"));
    EXPECT_EQ(a.count("alice"), 0u);
}

TEST_P(ArchiveStoreTest, LatestTimeIsTheLastArchivedOfAnyUser) {
    add_account("alice");
    add_account("bob");
    auto& a = db().archive();
    EXPECT_EQ(a.latest_time(), 0);
    fill("alice", 3);
    a.add("bob", message(7));
    EXPECT_EQ(a.latest_time(), message(7).time_us);
    EXPECT_EQ(a.clear("bob"), 1u);
    EXPECT_EQ(a.latest_time(), message(2).time_us);
}

TEST_P(ArchiveStoreTest, ALongConversationPagesFromItsEnd) {
    add_account("alice");
    db().transaction([&] {
        for (int i = 0; i < 3000; ++i)
            db().archive().add("alice", message(i, i % 10 ? "bob@localhost" : "dave@localhost"));
    });
    ArchiveQuery q;
    q.with = "dave@localhost";
    q.backward = true;
    q.max = 5;
    auto page = db().archive().query("alice", q);
    EXPECT_EQ(ids(page),
              (std::vector<std::string>{"id-2950", "id-2960", "id-2970", "id-2980", "id-2990"}));
    EXPECT_FALSE(page.complete);
    EXPECT_EQ(db().archive().count("alice"), 3000u);
}

HONGYAN_ON_EVERY_BACKEND(ArchiveStoreTest);

}  // namespace
}  // namespace hongyan::storage::testing
