// Copying a database between backends (storage/copy.hpp: hongyanctl db migrate, backup,
// restore), for every pair of backends: what the stores read from the copy is what they
// wrote to the original, every table verifies, and the copy works on afterwards (triggers
// on again, generated ids after the copied ones).
#include "server/storage/copy.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <tuple>

#include "pg_test_server.hpp"
#include "server/modules/module.hpp"

namespace hongyan::storage::testing {
namespace {

using Pair = std::tuple<std::string_view, std::string_view>;  // source, target backend

struct Recorder final : CopyProgress {
    std::vector<std::pair<std::string, std::int64_t>> started;  // step, total
    std::int64_t last = -1;
    void start(const std::string& what, std::int64_t total) override {
        started.emplace_back(what, total);
    }
    void advance(std::int64_t done) override { last = done; }
    void finish() override {}
};

class CopyTest : public ::testing::TestWithParam<Pair> {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("hongyan-copy-test-" + std::to_string(std::random_device{}()));
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override {
        opened_.clear();
        std::filesystem::remove_all(dir_);
        for (const auto& url : pg_urls_) pg_drop_database(url);
    }
    // A new, empty database on backend `name`.
    Backend& fresh(std::string_view name) {
        BackendOptions o;
        o.sqlite_file = dir_ / ("db" + std::to_string(opened_.size()) + ".sqlite");
        if (name == "postgresql") o.postgresql.url = pg_urls_.emplace_back(pg_create_database());
        o.postgresql.pool_size = 2;
        o.schema = modules::schema(name);
        return *opened_.emplace_back(open_backend(name, o));
    }
    std::filesystem::path file(const std::string& name) const { return dir_ / name; }

    std::filesystem::path dir_;
    std::vector<std::string> pg_urls_;
    std::vector<std::unique_ptr<Backend>> opened_;
};

sasl::ScramCredentials credentials(const std::string& user) {
    sasl::ScramCredentials c;
    // Every byte value, so that blobs travel as bytes and not as text.
    for (int i = 0; i < 256; ++i) c.salt += static_cast<char>(i);
    c.salt += user;
    c.iterations = 4096;
    c.sha1 = {"stored1-" + user, std::string("\0server1-", 9) + user};
    c.sha256 = {"stored256-" + user, "server256-" + user};
    return c;
}

// Something in every store, with text that needs care (quotes, tabs, newlines,
// backslashes, non-ASCII).
void fill(Backend& db) {
    for (const auto* u : {"alice", "bob", "carol"})
        ASSERT_TRUE(db.accounts().create(u, credentials(u)));
    RosterItem bob;
    bob.jid = "bob@localhost";
    bob.name = "Bob \"the\" ☃\tbuilder\\";
    bob.groups = {"Friends", "Ärzte"};
    bob.sub = SubState{true, true, false, false, false};
    bob.listed = true;
    bob.ver = 7;
    db.rosters().put("alice", bob);
    RosterItem dave;
    dave.jid = "dave@example.org";
    dave.sub = SubState{false, false, true, false, false};
    dave.request = "<presence type='subscribe'>\n<status>let me in</status></presence>";
    dave.ver = 8;
    db.rosters().put("alice", dave);
    for (int i = 0; i < 1203; ++i)  // more than one batch and one FETCH
        ASSERT_TRUE(db.offline().add("bob",
                                     "<message id='m" + std::to_string(i) + "'><body>héllo\r\n" +
                                         std::to_string(i) + "</body></message>",
                                     5000));
    db.blocklists().add("carol", {"spam@example.net", "troll@example.net"});
    db.xml_store("vcards").set("alice", "", "<vCard xmlns='vcard-temp'><FN>Alice 😀</FN></vCard>");
    db.xml_store("private_xml").set("bob", "storage:bookmarks", "<storage/>");
    ASSERT_TRUE(db.directory().create_group("staff", "Staff 员工"));
    ASSERT_TRUE(db.directory().add_member("staff", "alice"));
    ASSERT_TRUE(db.directory().add_member("staff", "carol"));
    db.directory().set_last_activity("carol", LastActivity{1700000000, "gone fishing"});
    db.directory().note_roster_changed("alice");
}

// Everything fill() wrote, as the stores read it back.
void expect_same(Backend& a, Backend& b) {
    auto users = a.accounts().list();
    EXPECT_EQ(users, b.accounts().list());
    for (const auto& u : users) {
        auto ca = a.accounts().credentials(u), cb = b.accounts().credentials(u);
        ASSERT_TRUE(ca && cb);
        EXPECT_EQ(ca->salt, cb->salt);
        EXPECT_EQ(ca->iterations, cb->iterations);
        EXPECT_EQ(ca->sha1.server_key, cb->sha1.server_key);
        EXPECT_EQ(ca->sha256.stored_key, cb->sha256.stored_key);
        auto ra = a.rosters().load(u), rb = b.rosters().load(u);
        auto by_jid = [](const RosterItem& x, const RosterItem& y) { return x.jid < y.jid; };
        std::sort(ra.begin(), ra.end(), by_jid);
        std::sort(rb.begin(), rb.end(), by_jid);
        ASSERT_EQ(ra.size(), rb.size());
        for (std::size_t i = 0; i < ra.size(); ++i) {
            EXPECT_EQ(ra[i].jid, rb[i].jid);
            EXPECT_EQ(ra[i].name, rb[i].name);
            EXPECT_EQ(ra[i].groups, rb[i].groups);
            EXPECT_EQ(ra[i].sub, rb[i].sub);
            EXPECT_EQ(ra[i].ver, rb[i].ver);
            EXPECT_EQ(ra[i].request, rb[i].request);
        }
        auto oa = a.offline().load(u), ob = b.offline().load(u);
        ASSERT_EQ(oa.size(), ob.size());
        for (std::size_t i = 0; i < oa.size(); ++i) {
            EXPECT_EQ(oa[i].id, ob[i].id);
            EXPECT_EQ(oa[i].stanza, ob[i].stanza);
        }
        EXPECT_EQ(a.blocklists().load(u), b.blocklists().load(u));
        EXPECT_EQ(a.xml_store("vcards").get(u, ""), b.xml_store("vcards").get(u, ""));
        EXPECT_EQ(a.xml_store("private_xml").get(u, "storage:bookmarks"),
                  b.xml_store("private_xml").get(u, "storage:bookmarks"));
        auto la = a.directory().last_activity(u), lb = b.directory().last_activity(u);
        EXPECT_EQ(la.has_value(), lb.has_value());
        if (la && lb) EXPECT_EQ(la->status, lb->status);
    }
    auto ga = a.directory().groups(), gb = b.directory().groups();
    ASSERT_EQ(ga.size(), gb.size());
    for (std::size_t i = 0; i < ga.size(); ++i) {
        EXPECT_EQ(ga[i].name, gb[i].name);
        EXPECT_EQ(ga[i].display, gb[i].display);
        EXPECT_EQ(ga[i].members, gb[i].members);
    }
    auto ea = a.directory().events_since(0, 1000), eb = b.directory().events_since(0, 1000);
    ASSERT_EQ(ea.size(), eb.size());  // the copy's triggers did not add any
    for (std::size_t i = 0; i < ea.size(); ++i) {
        EXPECT_EQ(ea[i].seq, eb[i].seq);
        EXPECT_EQ(ea[i].kind, eb[i].kind);
        EXPECT_EQ(ea[i].user, eb[i].user);
        EXPECT_EQ(ea[i].group, eb[i].group);
    }
}

void expect_all_ok(const std::vector<TableCheck>& checks) {
    EXPECT_FALSE(checks.empty());
    for (const auto& c : checks) EXPECT_TRUE(c.ok()) << c.table;
}

std::int64_t rows_of(const std::vector<TableCheck>& checks, const std::string& table) {
    for (const auto& c : checks)
        if (c.table == table) return c.source_rows;
    return -1;
}

TEST_P(CopyTest, EveryStoreReadsTheSameFromTheCopy) {
    auto [from_name, to_name] = GetParam();
    Backend& from = fresh(from_name);
    fill(from);
    Backend& to = fresh(to_name);
    Recorder progress;
    auto checks = copy_database(from, to, progress);
    expect_all_ok(checks);
    EXPECT_EQ(rows_of(checks, "accounts"), 3);
    EXPECT_EQ(rows_of(checks, "offline_messages"), 1203);
    EXPECT_EQ(rows_of(checks, "roster_items"), 2);
    // Progress: a step per table with its size, then a verification step per table.
    EXPECT_NE(std::find(progress.started.begin(), progress.started.end(),
                        std::pair<std::string, std::int64_t>("copy offline_messages", 1203)),
              progress.started.end());
    EXPECT_EQ(progress.started.size(), 2 * checks.size());
    expect_same(from, to);
    // Checksums do not depend on the backend: the same rows sum the same on both.
    for (const auto& c : checks) EXPECT_EQ(c.source_sum, c.target_sum) << c.table;
}

TEST_P(CopyTest, TheCopyWorksOnAfterwards) {
    auto [from_name, to_name] = GetParam();
    Backend& from = fresh(from_name);
    fill(from);
    Backend& to = fresh(to_name);
    Recorder progress;
    copy_database(from, to, progress);
    // Generated ids continue after the copied ones.
    const auto copied = to.offline().load("bob");
    ASSERT_TRUE(to.offline().add("bob", "<message id='new'/>", 5000));
    const auto after = to.offline().load("bob");
    ASSERT_EQ(after.size(), copied.size() + 1);
    EXPECT_GT(after.back().id, copied.back().id);
    // The triggers are on again: a new account is in the directory feed, after the
    // copied events.
    const auto last = to.directory().last_event();
    ASSERT_TRUE(to.accounts().create("erin", credentials("erin")));
    auto events = to.directory().events_since(last, 10);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, DirectoryEvent::Kind::account_added);
    EXPECT_EQ(events[0].user, "erin");
    EXPECT_GT(events[0].seq, last);
}

TEST_P(CopyTest, ATargetWithDataIsRefusedAndLeftAlone) {
    auto [from_name, to_name] = GetParam();
    Backend& from = fresh(from_name);
    fill(from);
    Backend& to = fresh(to_name);
    ASSERT_TRUE(to.accounts().create("zed", credentials("zed")));
    Recorder progress;
    try {
        copy_database(from, to, progress);
        FAIL() << "copied into a database with data";
    } catch (const CopyError& e) {
        EXPECT_NE(std::string(e.what()).find("not empty"), std::string::npos) << e.what();
    }
    EXPECT_EQ(to.accounts().list(), std::vector<std::string>{"zed"});
}

TEST_P(CopyTest, BackupAndRestoreRoundTrip) {
    auto [from_name, to_name] = GetParam();
    Backend& from = fresh(from_name);
    fill(from);
    const auto backup_file = file("backup.sqlite");
    Recorder progress;
    expect_all_ok(backup(from, backup_file, modules::schema("sqlite"), progress));
    // One self-contained file, not a WAL database (which would need its -wal beside it).
    EXPECT_FALSE(std::filesystem::exists(backup_file.string() + "-wal"));
    EXPECT_THROW(backup(from, backup_file, modules::schema("sqlite"), progress), CopyError);
    const auto size = std::filesystem::file_size(backup_file);
    Backend& to = fresh(to_name);
    auto checks = restore(backup_file, to, modules::schema("sqlite"), progress);
    expect_all_ok(checks);
    EXPECT_EQ(rows_of(checks, "offline_messages"), 1203);
    expect_same(from, to);
    EXPECT_EQ(std::filesystem::file_size(backup_file), size);  // restore reads only
}

TEST(CopyErrors, RestoreRefusesFilesThatAreNotBackups) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("hongyan-copy-test-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    BackendOptions o;
    o.sqlite_file = dir / "target.sqlite";
    o.schema = modules::schema("sqlite");
    auto target = open_backend("sqlite", o);
    Recorder progress;
    EXPECT_THROW(restore(dir / "missing", *target, o.schema, progress), CopyError);
    {
        std::ofstream(dir / "text")
            << "not a database at all, but long enough to look like one" << std::string(600, 'x');
    }
    EXPECT_THROW(restore(dir / "text", *target, o.schema, progress), CopyError);
    sqlite3* other = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "other.sqlite").c_str(), &other), SQLITE_OK);
    sqlite3_exec(other, "CREATE TABLE t (a INTEGER)", nullptr, nullptr, nullptr);
    sqlite3_close(other);
    EXPECT_THROW(restore(dir / "other.sqlite", *target, o.schema, progress), CopyError);
    EXPECT_TRUE(target->accounts().list().empty());
    target.reset();
    std::filesystem::remove_all(dir);
}

std::vector<Pair> pairs() {
    std::vector<Pair> out;
    for (auto a : backend_names())
        for (auto b : backend_names()) out.emplace_back(a, b);
    return out;
}

INSTANTIATE_TEST_SUITE_P(Backends, CopyTest, ::testing::ValuesIn(pairs()),
                         [](const ::testing::TestParamInfo<Pair>& info) {
                             return std::string(std::get<0>(info.param)) + "_to_" +
                                    std::string(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace hongyan::storage::testing
