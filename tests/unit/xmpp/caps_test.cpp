// XEP-0115 Entity Capabilities: the verification string, against the XEP's own examples.
#include "xmpp/caps.hpp"

#include <gtest/gtest.h>

#include "xmpp/xml_stream_parser.hpp"

namespace hongyan::caps {
namespace {

xml::Element query(const char* inner) {
    return *xml::parse_stanza(
        std::string("<query xmlns='http://jabber.org/protocol/disco#info'>") + inner + "</query>",
        "jabber:client");
}

TEST(Caps, SimpleExample) {
    // §5.2
    auto q = query(
        "<identity category='client' name='Exodus 0.9.1' type='pc'/>"
        "<feature var='http://jabber.org/protocol/caps'/>"
        "<feature var='http://jabber.org/protocol/disco#info'/>"
        "<feature var='http://jabber.org/protocol/disco#items'/>"
        "<feature var='http://jabber.org/protocol/muc'/>");
    EXPECT_EQ(ver(q, "sha-1"), "QgayPKawpkPSDYmwT/WM94uAlu0=");
}

TEST(Caps, ComplexExampleWithLanguagesAndAForm) {
    // §5.3: identities in two languages and an extended form (XEP-0128), given out of order.
    auto q = query(
        "<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>"
        "<identity xml:lang='el' category='client' name='\xce\xa8 0.11' type='pc'/>"
        "<feature var='http://jabber.org/protocol/disco#items'/>"
        "<feature var='http://jabber.org/protocol/caps'/>"
        "<feature var='http://jabber.org/protocol/disco#info'/>"
        "<feature var='http://jabber.org/protocol/muc'/>"
        "<x xmlns='jabber:x:data' type='result'>"
        "<field var='FORM_TYPE' "
        "type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>"
        "<field var='ip_version'><value>ipv4</value><value>ipv6</value></field>"
        "<field var='os'><value>Mac</value></field>"
        "<field var='os_version'><value>10.5.1</value></field>"
        "<field var='software'><value>Psi</value></field>"
        "<field var='software_version'><value>0.11</value></field>"
        "</x>");
    EXPECT_EQ(ver(q, "sha-1"), "q07IKJEyjvHSyhy//CH0CxmKi8w=");
}

TEST(Caps, OnlyHashesItComputes) {
    auto q = query("<feature var='urn:example'/>");
    EXPECT_TRUE(ver(q, "sha-256"));
    EXPECT_FALSE(ver(q, "md5"));
}

}  // namespace
}  // namespace hongyan::caps
