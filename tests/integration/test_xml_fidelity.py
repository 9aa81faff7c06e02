"""What one client sends is what the other receives (RFC 6120 §8.4 extended content,
§11 XML usage): namespaces, prefixes, attributes, escaping, xml:lang, CDATA and
character references survive the server's parse and re-serialisation."""

import xml.etree.ElementTree as ET

import pytest

from xmpp_raw import NS_CLIENT, q, to_str

XML_NS = "http://www.w3.org/XML/1998/namespace"


@pytest.fixture
def pair(server):
    alice = server.login("alice", "alice-password", resource="a")
    bob = server.login("bob", "bob-password", resource="b")
    return alice, bob


def relay(pair, inner, attrs="", mid="x1"):
    alice, bob = pair
    alice.send(f"<message to='bob@localhost/b' id='{mid}' {attrs}>{inner}</message>")
    return bob.wait_for(lambda e: e.get("id") == mid)


def test_escaped_text_and_attributes(pair):
    """RFC 6120 §11.1: predefined entities in text and attributes round-trip."""
    m = relay(pair, "<body>a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; ]]&gt; e</body>"
                    "<x xmlns='urn:example' v='1 &lt; 2 &amp;&amp; &quot;q&quot; &apos;s&apos;'/>")
    assert m.findtext(q(NS_CLIENT, "body")) == "a <b> & \"c\" 'd' ]]> e"
    assert m.find("{urn:example}x").get("v") == "1 < 2 && \"q\" 's'"


def test_character_references(pair):
    """Numeric character references arrive as the characters they name."""
    m = relay(pair, "<body>&#x9E3F;&#38593;&#x1F600;&#9;</body>")
    assert m.findtext(q(NS_CLIENT, "body")) == "鸿雁😀\t"


def test_cdata(pair):
    """CDATA sections are allowed XML (RFC 6120 §11.1 does not restrict them); their
    content arrives as text."""
    m = relay(pair, "<body><![CDATA[<not a tag> & stuff]]></body>")
    assert m.findtext(q(NS_CLIENT, "body")) == "<not a tag> & stuff"


def test_whitespace_in_text_preserved(pair):
    """Spaces, tabs and newlines in text arrive unchanged."""
    body = "  line one\n\tline two  \n"
    m = relay(pair, f"<body>{body}</body>")
    assert m.findtext(q(NS_CLIENT, "body")) == body


def test_carriage_return_in_text_preserved(pair):
    """XML 1.0 §2.11: a parser turns a literal CR (or CR LF) into LF, so a CR received as
    &#13; must be re-serialised as a character reference to reach the recipient."""
    m = relay(pair, "<body>a&#13;b&#13;\nc</body>")
    assert m.findtext(q(NS_CLIENT, "body")) == "a\rb\r\nc"


def test_whitespace_in_attribute_preserved(pair):
    """XML 1.0 §3.3.3: a parser normalises literal tab/LF/CR in attribute values to
    spaces, so &#9; &#10; &#13; received must be re-serialised as references."""
    m = relay(pair, "<x xmlns='urn:example' v='a&#9;b&#10;c&#13;d'/>")
    assert m.find("{urn:example}x").get("v") == "a\tb\nc\rd"


def test_namespaces_and_prefixes(pair):
    """RFC 6120 §8.4: extended content in other namespaces, declared by default or with
    a prefix, nested and switching back, keeps its namespaces."""
    m = relay(pair,
              "<x xmlns='urn:a'><y xmlns='urn:b'><z/></y><w/></x>"
              "<p:one xmlns:p='urn:p'><p:two/><three/></p:one>"
              "<q:attr xmlns:q='urn:q' xmlns:r='urn:r' r:flag='yes' plain='no'/>")
    assert m.find("{urn:a}x/{urn:b}y/{urn:b}z") is not None, to_str(m)
    assert m.find("{urn:a}x/{urn:a}w") is not None, to_str(m)
    assert m.find("{urn:p}one/{urn:p}two") is not None, to_str(m)
    # An unprefixed child of a prefixed element is in the inherited default (jabber:client).
    assert m.find(f"{{urn:p}}one/{q(NS_CLIENT, 'three')}") is not None, to_str(m)
    attr = m.find("{urn:q}attr")
    assert attr.get("{urn:r}flag") == "yes" and attr.get("plain") == "no", to_str(m)


def test_xml_lang(pair):
    """RFC 6120 §8.1.5: xml:lang on the stanza and on children is kept."""
    m = relay(pair, "<body>hallo</body><body xml:lang='fr'>salut</body>", attrs="xml:lang='de'")
    assert m.get(f"{{{XML_NS}}}lang") == "de", to_str(m)
    bodies = m.findall(q(NS_CLIENT, "body"))
    assert [b.get(f"{{{XML_NS}}}lang") for b in bodies] == [None, "fr"]


def test_stanza_prefixed_client_namespace(pair):
    """RFC 6120 §4.8.3 / §11.2: a stanza written with an explicit prefix bound to
    jabber:client is the same stanza."""
    alice, bob = pair
    alice.send("<c:message xmlns:c='jabber:client' to='bob@localhost/b' id='pf'>"
               "<c:body>prefixed</c:body></c:message>")
    m = bob.wait_for(lambda e: e.get("id") == "pf")
    assert m.tag == q(NS_CLIENT, "message") and m.findtext(q(NS_CLIENT, "body")) == "prefixed"


def test_empty_and_self_closing(pair):
    m = relay(pair, "<body></body><x xmlns='urn:e'></x><y xmlns='urn:e'/>")
    assert (m.findtext(q(NS_CLIENT, "body")) or "") == ""
    assert m.find("{urn:e}x") is not None and m.find("{urn:e}y") is not None


def test_output_is_well_formed_for_other_parsers(pair):
    """The delivered bytes parse as XML on their own once wrapped in the stream's
    namespace declarations (guards against serialiser slips)."""
    alice, bob = pair
    mark = len(bob.raw)
    relay(pair, "<body>&lt;&amp;&gt;</body><x xmlns='urn:a' a='&quot;'><y xmlns='urn:b'/></x>")
    chunk = bob.raw[mark:].decode()
    ET.fromstring("<w xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
                  + chunk + "</w>")
