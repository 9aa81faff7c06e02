// XmlStore on every backend, for both of its uses (vCards, private XML).
#include "server/storage/xml_store.hpp"

#include "backend_test.hpp"

namespace hongyan::storage::testing {
namespace {

class XmlStoreTest : public BackendTest {};

TEST_P(XmlStoreTest, SetGetReplaceAndEmptyRemoves) {
    add_account("alice");
    for (XmlStore* s : {&db().vcards(), &db().private_xml()}) {
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
    db().vcards().set("alice", "", "<vCard xmlns='vcard-temp'/>");
    EXPECT_FALSE(db().private_xml().get("alice", ""));
}

HONGYAN_ON_EVERY_BACKEND(XmlStoreTest);

}  // namespace
}  // namespace hongyan::storage::testing
