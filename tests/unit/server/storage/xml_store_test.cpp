// XmlStore on every backend, for both of its uses (vCards, private XML).
#include "server/storage/xml_store.hpp"

#include <stdexcept>

#include "server/storage/storage_error.hpp"

#include "backend_test.hpp"

namespace hongyan::storage::testing {
namespace {

class XmlStoreTest : public BackendTest {};

TEST_P(XmlStoreTest, SetGetReplaceAndEmptyRemoves) {
    add_account("alice");
    for (XmlStore* s : {&db().xml_store("vcards"), &db().xml_store("private_xml")}) {
        EXPECT_FALSE(s->get("alice", "k"));
        s->set("alice", "k", "<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>");
        s->set("alice", "other", "<x/>");
        EXPECT_EQ(s->get("alice", "k"), "<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>");
        s->set("alice", "k", "<vCard xmlns='vcard-temp'/>");
        EXPECT_EQ(s->get("alice", "k"), "<vCard xmlns='vcard-temp'/>");
        s->set("alice", "k", "");
        EXPECT_FALSE(s->get("alice", "k"));
        EXPECT_EQ(s->get("alice", "other"), "<x/>");
    }
}

TEST_P(XmlStoreTest, TheTwoStoresAreSeparate) {
    add_account("alice");
    db().xml_store("vcards").set("alice", "", "<vCard xmlns='vcard-temp'/>");
    EXPECT_FALSE(db().xml_store("private_xml").get("alice", ""));
}

TEST_P(XmlStoreTest, TheModulesDeclareTheirTables) {
    // The fixture opened the backend with every module's schema (modules::schema()): the
    // vcard and private modules' tables exist, and a name no module declared does not.
    add_account("alice");
    db().xml_store("vcards").set("alice", "vcard", "<vCard xmlns='vcard-temp'/>");
    EXPECT_THROW(db().xml_store("nobody_declared").set("alice", "k", "<x/>"), StorageError);
    EXPECT_THROW(db().xml_store("no spaces; please"), std::invalid_argument);
}

TEST_P(XmlStoreTest, AnAccountsDataGoesWithIt) {
    add_account("alice");
    db().xml_store("vcards").set("alice", "vcard", "<vCard xmlns='vcard-temp'/>");
    ASSERT_TRUE(db().accounts().remove("alice"));
    add_account("alice");
    EXPECT_FALSE(db().xml_store("vcards").get("alice", "vcard"));
}

TEST_P(XmlStoreTest, ModuleMigrationsRunOnceEachAndANewerSchemaIsRefused) {
    const std::string once = "CREATE TABLE created_once (x INTEGER)";  // fails if run again
    BackendOptions o = options();
    o.schema.push_back({"test", {xml_store_migration(GetParam(), "test_one"), once}});
    reopen(o);
    add_account("alice");
    db().xml_store("test_one").set("alice", "k", "<one/>");
    reopen(o);  // nothing new to run
    o.schema.back().migrations.push_back(xml_store_migration(GetParam(), "test_two"));
    reopen(o);  // only the third
    EXPECT_EQ(db().xml_store("test_one").get("alice", "k"), "<one/>");
    db().xml_store("test_two").set("alice", "k", "<two/>");
    // A database a newer hongyand migrated is refused, not half understood.
    o.schema.back().migrations.pop_back();
    EXPECT_THROW(reopen(o), StorageError);
}

HONGYAN_ON_EVERY_BACKEND(XmlStoreTest);

}  // namespace
}  // namespace hongyan::storage::testing
