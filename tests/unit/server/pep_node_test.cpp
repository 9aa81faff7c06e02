// A PEP node as stored (XEP-0163): items kept to max_items, the configuration form and
// publish-options preconditions (XEP-0223), and the stored document's round trip.
#include "server/modules/pep/node.hpp"

#include "server/modules/pep/bookmarks.hpp"

#include <gtest/gtest.h>

#include "xmpp/xml_stream_parser.hpp"

namespace hongyan::modules::pep {
namespace {

Item item(std::string id) {
    Item i;
    i.id = std::move(id);
    i.stamp_us = 42;
    i.payload = xml::Element("x", "urn:example");
    i.payload.add_text(i.id);
    return i;
}

xml::Element submit(std::string_view fields) {
    return *xml::parse_stanza(
        std::string("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>"
                    "http://jabber.org/protocol/pubsub#publish-options</value></field>") +
            std::string(fields) + "</x>",
        "jabber:client");
}

TEST(PepNode, KeepsTheNewestUpToMaxItemsAndReplacesById) {
    Node n{"urn:example", {}, {}};
    n.config.max_items = "2";
    for (auto id : {"a", "b", "c"}) n.publish(item(id), 1000);
    ASSERT_EQ(n.items.size(), 2u);
    EXPECT_EQ(n.items[0].id, "b");
    n.publish(item("b"), 1000);  // the same id: replaced and now the newest
    EXPECT_EQ(n.items[0].id, "c");
    EXPECT_EQ(n.items[1].id, "b");
    n.config.max_items = "max";
    EXPECT_EQ(n.capacity(7), 7u);
    n.config.persist = false;
    EXPECT_EQ(n.capacity(7), 1u);
}

TEST(PepNode, RoundTripsThroughItsDocument) {
    Node n{"urn:example", {}, {}};
    n.config.access = "roster";
    n.config.groups = {"Friends", "<Family & co>"};
    n.config.send_last = "never";
    n.publish(item("one"), 10);
    auto back = parse(serialize(n));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->name, "urn:example");
    EXPECT_EQ(back->config.access, "roster");
    EXPECT_EQ(back->config.groups, n.config.groups);
    EXPECT_EQ(back->config.send_last, "never");
    ASSERT_EQ(back->items.size(), 1u);
    EXPECT_EQ(back->items[0].stamp_us, 42);
    EXPECT_EQ(back->items[0].payload.xmlns(), "urn:example");
    EXPECT_EQ(back->items[0].payload.text(), "one");
}

TEST(PepNode, PublishOptionsConfigureAndAreChecked) {
    NodeConfig c;
    auto form = submit(
        "<field var='pubsub#access_model'><value>whitelist</value></field>"
        "<field var='pubsub#max_items'><value>max</value></field>"
        "<field var='pubsub#persist_items'><value>true</value></field>"
        "<field var='pubsub#x-unknown'><value>ignored</value></field>");
    EXPECT_FALSE(apply_form(c, form, 100));
    EXPECT_EQ(c.access, "whitelist");
    EXPECT_EQ(c.max_items, "max");
    EXPECT_TRUE(meets(c, form, 100));
    EXPECT_FALSE(meets(NodeConfig{}, form, 100));
    EXPECT_TRUE(apply_form(c,
                           submit("<field var='pubsub#access_model'><value>authorize</value>"
                                  "</field>"),
                           100));
    EXPECT_TRUE(
        apply_form(c, submit("<field var='pubsub#max_items'><value>101</value></field>"), 100));
    EXPECT_EQ(c.access, "whitelist");  // a refused form changes nothing
}

TEST(PepBookmarks, LegacyListBecomesOneConferencePerRoomAndBack) {
    // XEP-0402 §5.3: rooms without a usable JID and URL bookmarks have no item.
    auto storage = *xml::parse_stanza(
        "<storage xmlns='storage:bookmarks'>"
        "<conference jid='tea@rooms.example' name='Tea' autojoin='1'><nick>al</nick></conference>"
        "<conference jid='not a jid' name='x'/><conference jid='tea@rooms.example/nick'/>"
        "<url name='site' url='https://example.org'/></storage>",
        "jabber:client");
    auto rooms = from_legacy(storage);
    ASSERT_EQ(rooms.size(), 1u);
    EXPECT_EQ(rooms[0].first, "tea@rooms.example");
    EXPECT_EQ(rooms[0].second.xmlns(), kBookmarksNode);
    EXPECT_EQ(rooms[0].second.attr("autojoin"), "true");
    EXPECT_EQ(rooms[0].second.child_text("nick", kBookmarksNode), "al");

    Node n{std::string(kBookmarksNode), bookmarks_config(), {}};
    n.publish(Item{rooms[0].first, 1, rooms[0].second}, 10);
    auto back = to_legacy(&n);
    auto confs = back.children();
    ASSERT_EQ(confs.size(), 1u);
    EXPECT_EQ(confs[0]->attr("jid"), "tea@rooms.example");
    EXPECT_EQ(confs[0]->attr("name"), "Tea");
    EXPECT_EQ(confs[0]->attr("autojoin"), "true");
    EXPECT_EQ(confs[0]->child_text("nick", kLegacyBookmarks), "al");
    EXPECT_TRUE(to_legacy(nullptr).children().empty());
}

}  // namespace
}  // namespace hongyan::modules::pep
