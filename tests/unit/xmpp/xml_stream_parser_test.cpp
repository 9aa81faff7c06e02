// The stream parser: incremental at any byte boundary, every limit, every restricted
// construct of RFC 6120 §11.1, and stream restarts.
#include "xmpp/xml_stream_parser.hpp"

#include <gtest/gtest.h>

#include <vector>

using hongyan::StreamErrorCondition;
using hongyan::xml::Element;
using hongyan::xml::ParserLimits;
using hongyan::xml::XmlStreamParser;
using Event = XmlStreamParser::Event;

namespace {

const std::string kHeader =
    "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

struct Collected {
    std::vector<Event> events;
    std::vector<std::string> stanzas;
    StreamErrorCondition error = StreamErrorCondition::none;
};

Collected drain(XmlStreamParser& p, Event ev, Collected& c) {
    while (ev != Event::need_more) {
        c.events.push_back(ev);
        if (ev == Event::stanza) c.stanzas.push_back(p.stanza().to_string("jabber:client"));
        if (ev == Event::error) {
            c.error = p.error();
            return c;
        }
        if (ev == Event::stream_close) return c;
        ev = p.resume();
    }
    return c;
}

Collected parse_in_chunks(const std::string& data, std::size_t chunk, ParserLimits limits = {}) {
    XmlStreamParser p(limits);
    Collected c;
    for (std::size_t i = 0; i < data.size() && c.error == StreamErrorCondition::none; i += chunk) {
        drain(p, p.feed(data.substr(i, chunk)), c);
        if (!c.events.empty() && c.events.back() == Event::stream_close) break;
    }
    return c;
}

Collected parse(const std::string& data, ParserLimits limits = {}) {
    return parse_in_chunks(data, data.size(), limits);
}

}  // namespace

TEST(XmlStreamParser, HeaderAttributesAndDefaultNamespace) {
    XmlStreamParser p;
    ASSERT_EQ(p.feed(kHeader), Event::stream_open);
    EXPECT_TRUE(p.header().is("stream", "http://etherx.jabber.org/streams"));
    EXPECT_EQ(p.header().attr("to"), "localhost");
    EXPECT_EQ(p.header().attr("version"), "1.0");
    EXPECT_EQ(p.header().attr("xmlns"), "jabber:client");
}

TEST(XmlStreamParser, StanzasAndClose) {
    std::string doc = kHeader +
                      "<message to='a@b'><body>hi &amp; bye</body></message>  <iq id='1' "
                      "type='get'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>";
    auto c = parse(doc);
    ASSERT_EQ(c.error, StreamErrorCondition::none);
    ASSERT_EQ(c.stanzas.size(), 2u);
    EXPECT_EQ(c.stanzas[0], "<message to=\"a@b\"><body>hi &amp; bye</body></message>");
    EXPECT_EQ(c.stanzas[1], "<iq id=\"1\" type=\"get\"><ping xmlns=\"urn:xmpp:ping\"/></iq>");
    EXPECT_EQ(c.events.back(), Event::stream_close);
}

TEST(XmlStreamParser, SameResultAtEveryChunkSize) {
    std::string doc =
        kHeader +
        "<message to='鸿雁@localhost' type='chat'><body>ünïcödé &lt;x&gt; <![CDATA[<raw>]]></body>"
        "<x xmlns='jabber:x:data' type='form'/></message><presence/></stream:stream>";
    auto whole = parse(doc);
    ASSERT_EQ(whole.error, StreamErrorCondition::none);
    ASSERT_EQ(whole.stanzas.size(), 2u);
    for (std::size_t chunk = 1; chunk <= 17; ++chunk) {
        auto c = parse_in_chunks(doc, chunk);
        EXPECT_EQ(c.error, StreamErrorCondition::none) << "chunk " << chunk;
        EXPECT_EQ(c.stanzas, whole.stanzas) << "chunk " << chunk;
    }
}

TEST(XmlStreamParser, RestartAfterStanzaFeedsRemainingBytesToNewStream) {
    // SASL success then an immediately pipelined new stream header (RFC 6120 §6.4.6).
    XmlStreamParser p;
    std::string chunk1 = kHeader;
    ASSERT_EQ(p.feed(chunk1), Event::stream_open);
    ASSERT_EQ(p.resume(), Event::need_more);
    std::string chunk2 =
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>" +
        kHeader;
    ASSERT_EQ(p.feed(chunk2), Event::stanza);
    std::size_t consumed = p.consumed_of_last_chunk();
    EXPECT_EQ(chunk2.substr(consumed), kHeader);
    p.reset();
    EXPECT_EQ(p.feed(chunk2.substr(consumed)), Event::stream_open);
}

TEST(XmlStreamParser, ResumeIsSafeAfterCallerReusesItsBuffer) {
    // The server reads into one buffer per thread and may overwrite it while a stanza is
    // being handled; the parser must have kept its own copy of what it has not parsed.
    XmlStreamParser p;
    std::string buf = kHeader + "<presence/><message><body>x</body></message>";
    ASSERT_EQ(p.feed(buf), Event::stream_open);
    ASSERT_EQ(p.resume(), Event::stanza);
    std::fill(buf.begin(), buf.end(), '#');
    ASSERT_EQ(p.resume(), Event::stanza);
    EXPECT_EQ(p.stanza().name(), "message");
}

TEST(XmlStreamParser, NotWellFormed) {
    EXPECT_EQ(parse(kHeader + "<message><body></message>").error,
              StreamErrorCondition::not_well_formed);
    EXPECT_EQ(parse(kHeader + "<a b='1' b='2'/>").error, StreamErrorCondition::not_well_formed);
    EXPECT_EQ(parse(kHeader + "<foo:bar/>").error,
              StreamErrorCondition::not_well_formed);  // unbound prefix
    EXPECT_EQ(parse(kHeader + "<a>&undefined;</a>").error, StreamErrorCondition::not_well_formed);
    EXPECT_EQ(parse(kHeader + "<a>\xff\xfe</a>").error, StreamErrorCondition::not_well_formed);
}

TEST(XmlStreamParser, RestrictedXml) {
    // RFC 6120 §11.1: no comments, PIs, DTDs or entity declarations.
    EXPECT_EQ(parse("<!DOCTYPE x [<!ENTITY a 'b'>]>" + kHeader).error,
              StreamErrorCondition::restricted_xml);
    EXPECT_EQ(parse(kHeader + "<!-- comment --><presence/>").error,
              StreamErrorCondition::restricted_xml);
    EXPECT_EQ(parse(kHeader + "<presence><!-- c --></presence>").error,
              StreamErrorCondition::restricted_xml);
    EXPECT_EQ(parse(kHeader + "<?php echo 1 ?><presence/>").error,
              StreamErrorCondition::restricted_xml);
    EXPECT_EQ(parse(kHeader + "<presence><?pi x?></presence>").error,
              StreamErrorCondition::restricted_xml);
    // Billion laughs never gets as far as expanding anything.
    std::string laughs =
        "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;'>]>";
    EXPECT_EQ(parse(laughs + kHeader).error, StreamErrorCondition::restricted_xml);
}

TEST(XmlStreamParser, OnlyUtf8) {
    std::string h =
        "<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream xmlns='jabber:client' "
        "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
    EXPECT_EQ(parse(h).error, StreamErrorCondition::unsupported_encoding);
}

TEST(XmlStreamParser, StanzaSizeLimit) {
    ParserLimits limits;
    limits.max_stanza_size = 1024;
    std::string ok = kHeader + "<message><body>" + std::string(900, 'a') + "</body></message>";
    EXPECT_EQ(parse(ok, limits).error, StreamErrorCondition::none);
    std::string big = kHeader + "<message><body>" + std::string(2000, 'a') + "</body></message>";
    EXPECT_EQ(parse(big, limits).error, StreamErrorCondition::policy_violation);
    // Fed one byte at a time the limit holds too, and an unterminated start tag counts.
    EXPECT_EQ(parse_in_chunks(big, 1, limits).error, StreamErrorCondition::policy_violation);
    std::string endless_tag = kHeader + "<message " + std::string(3000, ' ');
    EXPECT_EQ(parse_in_chunks(endless_tag, 100, limits).error,
              StreamErrorCondition::policy_violation);
    // Many small stanzas and whitespace keepalives never add up to the limit.
    std::string many = kHeader;
    for (int i = 0; i < 100; ++i) many += "<presence/>   ";
    auto c = parse_in_chunks(many, 7, limits);
    EXPECT_EQ(c.error, StreamErrorCondition::none);
    EXPECT_EQ(c.stanzas.size(), 100u);
}

TEST(XmlStreamParser, DepthLimit) {
    ParserLimits limits;
    limits.max_depth = 4;
    EXPECT_EQ(parse(kHeader + "<a><b><c><d/></c></b></a>", limits).error,
              StreamErrorCondition::none);
    EXPECT_EQ(parse(kHeader + "<a><b><c><d><e/></d></c></b></a>", limits).error,
              StreamErrorCondition::policy_violation);
}

TEST(XmlStreamParser, AttributeLimit) {
    ParserLimits limits;
    limits.max_attributes = 4;
    EXPECT_EQ(parse(kHeader + "<a a='1' b='2' c='3' d='4'/>", limits).error,
              StreamErrorCondition::none);
    EXPECT_EQ(parse(kHeader + "<a a='1' b='2' c='3' d='4' e='5'/>", limits).error,
              StreamErrorCondition::policy_violation);
}

TEST(XmlStreamParser, ElementLimit) {
    ParserLimits limits;
    limits.max_elements = 5;
    // The stanza itself counts: five elements pass, six do not.
    EXPECT_EQ(parse(kHeader + "<a><b/><b/><b/><b/></a>", limits).error, StreamErrorCondition::none);
    EXPECT_EQ(parse(kHeader + "<a><b/><b/><b/><b/><b/></a>", limits).error,
              StreamErrorCondition::policy_violation);
    // The count is per stanza.
    EXPECT_EQ(parse(kHeader + "<a><b/><b/><b/></a><a><b/><b/><b/></a>", limits).error,
              StreamErrorCondition::none);
}

TEST(XmlStreamParser, ChildrenShareTheirNamespace) {
    // A long namespace on many children is held once, not copied per child.
    const std::string uri = "urn:x:" + std::string(1000, 'n');
    std::string in = kHeader + "<message><x xmlns='" + uri + "'>";
    for (int i = 0; i < 100; ++i) in += "<a/>";
    in += "</x></message>";
    XmlStreamParser p;
    auto ev = p.feed(in);
    ASSERT_EQ(ev, XmlStreamParser::Event::stream_open);
    ASSERT_EQ(p.resume(), XmlStreamParser::Event::stanza);
    const Element& x = *p.stanza().first_child();
    EXPECT_EQ(x.xmlns(), uri);
    auto children = x.children();
    ASSERT_EQ(children.size(), 100u);
    for (const auto* c : children) EXPECT_EQ(c->xmlns_ptr().get(), x.xmlns_ptr().get());
}

TEST(XmlStreamParser, LimitsCanChange) {
    ParserLimits small;
    small.max_stanza_size = 1024;
    XmlStreamParser p(small);
    std::string big = "<message><body>" + std::string(2000, 'a') + "</body></message>";
    ParserLimits large;
    p.set_limits(large);
    ASSERT_EQ(p.feed(kHeader), XmlStreamParser::Event::stream_open);
    EXPECT_EQ(p.resume(), XmlStreamParser::Event::need_more);
    EXPECT_EQ(p.feed(big), XmlStreamParser::Event::stanza);
}

TEST(XmlStreamParser, XmlLangIsKept) {
    auto c = parse(kHeader + "<message xml:lang='de'><body>Hallo</body></message>");
    ASSERT_EQ(c.stanzas.size(), 1u);
    EXPECT_EQ(c.stanzas[0], "<message xml:lang=\"de\"><body>Hallo</body></message>");
}

TEST(XmlStreamParser, SelfClosedStreamHeaderGivesOpenThenClose) {
    XmlStreamParser p;
    ASSERT_EQ(p.feed("<hello xmlns='jabber:client'/>"), Event::stream_open);
    EXPECT_EQ(p.header().name(), "hello");
    EXPECT_EQ(p.resume(), Event::stream_close);
}

TEST(XmlStreamParser, ReleasedParserIsRebuiltWithTheStreamsNamespaces) {
    // A client with its own prefixes: the rebuilt parser must still know them.
    XmlStreamParser p;
    std::string header =
        "<?xml version='1.0'?><s:stream xmlns:s='http://etherx.jabber.org/streams' "
        "xmlns='jabber:client' xmlns:x='urn:example' version='1.0'>";
    ASSERT_EQ(p.feed(header + "<presence/>"), Event::stream_open);
    ASSERT_EQ(p.resume(), Event::stanza);
    ASSERT_EQ(p.resume(), Event::need_more);
    ASSERT_TRUE(p.can_release());
    ASSERT_EQ(p.feed("<mess"), Event::need_more);
    ASSERT_FALSE(p.can_release());  // in the middle of a stanza
    ASSERT_EQ(p.feed("age><x:y/></message>"), Event::stanza);
    ASSERT_EQ(p.resume(), Event::need_more);
    ASSERT_TRUE(p.can_release());
    p.release();
    EXPECT_TRUE(p.released());
    ASSERT_EQ(p.feed("<iq type='get' id='1'><x:q/></iq>"), Event::stanza);
    EXPECT_EQ(p.stanza().name(), "iq");
    EXPECT_EQ(p.stanza().xmlns(), "jabber:client");
    EXPECT_TRUE(p.stanza().child("q", "urn:example"));
    ASSERT_EQ(p.resume(), Event::need_more);
    p.release();
    // Limits still count from the new stanza, and the stream can still end.
    ASSERT_EQ(p.feed("<presence/></s:stream>"), Event::stanza);
    EXPECT_EQ(p.resume(), Event::stream_close);
}

TEST(ParseStanza, OneElementInTheGivenNamespace) {
    auto el = hongyan::xml::parse_stanza(
        "<iq type='result' id='1'><vCard xmlns='vcard-temp'><FN>A &amp; B</FN></vCard></iq>",
        "jabber:client");
    ASSERT_TRUE(el);
    EXPECT_EQ(el->name(), "iq");
    EXPECT_EQ(el->xmlns(), "jabber:client");
    ASSERT_NE(el->child("vCard", "vcard-temp"), nullptr);
    EXPECT_EQ(el->child("vCard", "vcard-temp")->child_text("FN", "vcard-temp"), "A & B");
    EXPECT_FALSE(hongyan::xml::parse_stanza("<iq>", "jabber:client"));
    EXPECT_FALSE(hongyan::xml::parse_stanza("<a/><b/>", "jabber:client"));
    EXPECT_FALSE(hongyan::xml::parse_stanza("not xml", "jabber:client"));
}
