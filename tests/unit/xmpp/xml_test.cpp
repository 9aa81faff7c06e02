// Element tree and serialisation (escaping must be airtight: any string stays data).
#include "xmpp/xml.hpp"

#include <gtest/gtest.h>

#include "xmpp/xml_stream_parser.hpp"

using hongyan::xml::Element;
using hongyan::xml::escape;

TEST(XmlEscape, EscapesAllFiveSpecialCharacters) {
    EXPECT_EQ(escape("<a href=\"x\">'&'</a>"),
              "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;");
}

TEST(XmlEscape, DropsControlCharactersXmlForbids) {
    // XML 1.0 §2.2: only tab, LF and CR of the C0 range are characters; §2.11: a literal CR
    // would be read back as LF, so it is written as a reference.
    EXPECT_EQ(escape(std::string("a\x01"
                                 "b\tc\nd\re\x1f",
                                 10)),
              "ab\tc\nd&#13;e");
    EXPECT_EQ(escape(std::string("\0x", 2)), "x");
}

TEST(XmlEscape, AttributeWhitespaceSurvivesNormalisation) {
    // XML 1.0 §3.3.3: a parser turns literal tab/LF/CR in attribute values into spaces.
    std::string out;
    hongyan::xml::escape_attr("a\tb\nc\rd", out);
    EXPECT_EQ(out, "a&#9;b&#10;c&#13;d");
}

TEST(XmlEscape, KeepsUtf8) {
    EXPECT_EQ(escape("鸿雁 ü"), "鸿雁 ü");
}

TEST(XmlSerialize, AttributeValuesCannotBreakOut) {
    Element e("message", "jabber:client");
    e.set_attr("to", "x' onload='evil\"><inject/>");
    e.add_child("body", "jabber:client").add_text("</body></message><iq type='set'/>");
    std::string s = e.to_string("jabber:client");
    EXPECT_EQ(s,
              "<message to=\"x&apos; "
              "onload=&apos;evil&quot;&gt;&lt;inject/&gt;\"><body>&lt;/body&gt;&lt;/"
              "message&gt;&lt;iq type=&apos;set&apos;/&gt;</body></message>");
    // Parsing it back gives exactly the original data.
    hongyan::xml::XmlStreamParser p;
    std::string doc =
        "<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:client'>" + s;
    ASSERT_EQ(p.feed(doc), hongyan::xml::XmlStreamParser::Event::stream_open);
    ASSERT_EQ(p.resume(), hongyan::xml::XmlStreamParser::Event::stanza);
    EXPECT_EQ(p.stanza().attr("to"), "x' onload='evil\"><inject/>");
    EXPECT_EQ(p.stanza().child_text("body", "jabber:client"), "</body></message><iq type='set'/>");
}

TEST(XmlSerialize, DeclaresNamespaceOnlyWhereItChanges) {
    Element iq("iq", "jabber:client");
    iq.set_attr("type", "get");
    iq.add_child("query", "urn:xmpp:ping").add_child("x", "urn:xmpp:ping");
    EXPECT_EQ(iq.to_string("jabber:client"),
              "<iq type=\"get\"><query xmlns=\"urn:xmpp:ping\"><x/></query></iq>");
    EXPECT_EQ(iq.to_string(),
              "<iq xmlns=\"jabber:client\" type=\"get\"><query "
              "xmlns=\"urn:xmpp:ping\"><x/></query></iq>");
}

TEST(XmlElement, CopyIsDeep) {
    Element a("a", "ns");
    a.add_child("b", "ns").add_text("one");
    Element b = a;
    b.child("b", "ns")->add_text("two");
    EXPECT_EQ(a.child_text("b", "ns"), "one");
    EXPECT_EQ(b.child_text("b", "ns"), "onetwo");
}

TEST(XmlElement, AttributesSetReplaceRemove) {
    Element a("a");
    a.set_attr("x", "1").set_attr("x", "2");
    EXPECT_EQ(a.attr("x"), "2");
    EXPECT_EQ(a.attributes().size(), 1u);
    a.remove_attr("x");
    EXPECT_FALSE(a.has_attr("x"));
    EXPECT_EQ(a.attr("missing"), "");
}
