// XML element tree and serialisation shared by server and client.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hongyan::xml {

// Appends `in` to `out` with the five XML special characters escaped and characters that
// XML 1.0 forbids (C0 controls other than tab, LF and CR) dropped, so that no string from
// anywhere can break out of the text node or attribute it is written into.
void escape(std::string_view in, std::string& out);
std::string escape(std::string_view in);
// As escape(), and also writes tab, LF and CR as character references, which attribute
// value normalisation (XML 1.0 §3.3.3) would otherwise turn into spaces.
void escape_attr(std::string_view in, std::string& out);

class Element;

struct Attribute {
    std::string name;  // local name; "xml:lang" for the xml namespace
    std::string value;
    std::string ns;  // empty for unqualified attributes (almost all of XMPP)
};

// A child of an element: either an element or a run of character data.
struct Node {
    std::unique_ptr<Element> element;
    std::string text;
    bool is_element() const { return element != nullptr; }
};

// A namespace URI shared by every element in it: a parsed stanza of many children in one
// long namespace holds the URI once, not once per child.
using Namespace = std::shared_ptr<const std::string>;

class Element {
  public:
    Element() = default;
    explicit Element(std::string name, std::string_view xmlns = {})
        : name_(std::move(name)), xmlns_(make_namespace(xmlns)) {}
    Element(std::string name, Namespace xmlns) : name_(std::move(name)), xmlns_(std::move(xmlns)) {}
    Element(const Element& other);
    Element& operator=(const Element& other);
    Element(Element&&) noexcept = default;
    Element& operator=(Element&&) noexcept = default;

    const std::string& name() const { return name_; }
    const std::string& xmlns() const { return xmlns_ ? *xmlns_ : empty_namespace(); }
    const Namespace& xmlns_ptr() const { return xmlns_; }
    void set_xmlns(Namespace ns) { xmlns_ = std::move(ns); }
    // Puts this element and every descendant in namespace `from` into `to` (a stanza from
    // a component stream, jabber:component:accept, becomes jabber:client).
    void replace_namespace(std::string_view from, std::string_view to);
    bool is(std::string_view name, std::string_view xmlns) const {
        return name_ == name && this->xmlns() == xmlns;
    }

    // The namespaces of src/xmpp/namespaces.hpp are interned (no allocation, no reference
    // count: every element in jabber:client points at one static string); others are
    // allocated.
    static Namespace make_namespace(std::string_view uri);

    // Attributes (unqualified unless `ns` is given).
    std::string_view attr(std::string_view name) const;
    bool has_attr(std::string_view name) const;
    Element& set_attr(std::string_view name, std::string_view value);
    void remove_attr(std::string_view name);
    void add_qualified_attr(std::string name, std::string value, std::string ns);
    const std::vector<Attribute>& attributes() const { return attrs_; }

    // Children.
    const std::vector<Node>& nodes() const { return nodes_; }
    Element& add_child(Element child);
    Element& add_child(std::string name, std::string xmlns);
    Element& add_text(std::string_view text);
    void clear_children() { nodes_.clear(); }
    // Removes the child elements `pred` accepts.
    template <class Pred>
    void remove_children(Pred pred) {
        std::erase_if(nodes_, [&](const Node& n) { return n.element && pred(*n.element); });
    }
    const Element* child(std::string_view name, std::string_view xmlns) const;
    Element* child(std::string_view name, std::string_view xmlns);
    // First child element in any namespace.
    const Element* first_child() const;
    std::vector<const Element*> children() const;
    // The concatenated character data directly inside this element.
    std::string text() const;
    // The text of the named child, empty when absent.
    std::string child_text(std::string_view name, std::string_view xmlns) const;

    // Serialises with namespace declarations only where the namespace differs from the
    // parent's (`parent_ns`; for stanzas on a client stream that is "jabber:client").
    void serialize(std::string& out, std::string_view parent_ns = {}) const;
    std::string to_string(std::string_view parent_ns = {}) const;

  private:
    static const std::string& empty_namespace();

    std::string name_;
    Namespace xmlns_;
    std::vector<Attribute> attrs_;
    std::vector<Node> nodes_;
};

}  // namespace hongyan::xml
