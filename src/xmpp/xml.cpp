#include "xmpp/xml.hpp"

#include "xmpp/namespaces.hpp"

namespace hongyan::xml {

namespace {
template <bool Attribute>
void escape_impl(std::string_view in, std::string& out) {
    out.reserve(out.size() + in.size());
    for (char c : in) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            // XML 1.0 §2.11: a literal CR is read back as LF, so it travels as a reference.
            case '\r':
                out += "&#13;";
                break;
            case '\t':
                if (Attribute)
                    out += "&#9;";
                else
                    out += c;
                break;
            case '\n':
                if (Attribute)
                    out += "&#10;";
                else
                    out += c;
                break;
            default: {
                auto u = static_cast<unsigned char>(c);
                // XML 1.0 §2.2: of the C0 controls only tab, LF and CR are characters.
                if (u < 0x20) break;
                out += c;
            }
        }
    }
}
}  // namespace

void escape(std::string_view in, std::string& out) {
    escape_impl<false>(in, out);
}
void escape_attr(std::string_view in, std::string& out) {
    escape_impl<true>(in, out);
}

std::string escape(std::string_view in) {
    std::string out;
    escape(in, out);
    return out;
}

namespace {
// Static strings behind pointers that own nothing: copying them touches no counter.
struct KnownNamespaces {
    std::vector<std::unique_ptr<const std::string>> strings;
    std::vector<Namespace> pointers;
    KnownNamespaces() {
        for (std::string_view uri : ns::all) {
            strings.push_back(std::make_unique<const std::string>(uri));
            pointers.emplace_back(std::shared_ptr<void>(), strings.back().get());
        }
    }
};
const KnownNamespaces& known_namespaces() {
    static const KnownNamespaces k;
    return k;
}
}  // namespace

Namespace Element::make_namespace(std::string_view uri) {
    if (uri.empty()) return nullptr;
    for (const auto& n : known_namespaces().pointers)
        if (n->size() == uri.size() && *n == uri) return n;
    return std::make_shared<const std::string>(uri);
}

const std::string& Element::empty_namespace() {
    static const std::string empty;
    return empty;
}

Element::Element(const Element& other)
    : name_(other.name_), xmlns_(other.xmlns_), attrs_(other.attrs_) {
    nodes_.reserve(other.nodes_.size());
    for (const auto& n : other.nodes_) {
        if (n.element)
            nodes_.push_back(Node{std::make_unique<Element>(*n.element), {}});
        else
            nodes_.push_back(Node{nullptr, n.text});
    }
}

Element& Element::operator=(const Element& other) {
    if (this != &other) {
        Element copy(other);
        *this = std::move(copy);
    }
    return *this;
}

std::string_view Element::attr(std::string_view name) const {
    for (const auto& a : attrs_)
        if (a.ns.empty() && a.name == name) return a.value;
    return {};
}

bool Element::has_attr(std::string_view name) const {
    for (const auto& a : attrs_)
        if (a.ns.empty() && a.name == name) return true;
    return false;
}

Element& Element::set_attr(std::string_view name, std::string_view value) {
    for (auto& a : attrs_) {
        if (a.ns.empty() && a.name == name) {
            a.value = value;
            return *this;
        }
    }
    attrs_.push_back(Attribute{std::string(name), std::string(value), {}});
    return *this;
}

void Element::remove_attr(std::string_view name) {
    std::erase_if(attrs_, [&](const Attribute& a) { return a.ns.empty() && a.name == name; });
}

void Element::add_qualified_attr(std::string name, std::string value, std::string ns) {
    attrs_.push_back(Attribute{std::move(name), std::move(value), std::move(ns)});
}

Element& Element::add_child(Element child) {
    nodes_.push_back(Node{std::make_unique<Element>(std::move(child)), {}});
    return *nodes_.back().element;
}

Element& Element::add_child(std::string name, std::string xmlns) {
    return add_child(Element(std::move(name), std::move(xmlns)));
}

Element& Element::add_text(std::string_view text) {
    if (text.empty()) return *this;
    if (!nodes_.empty() && !nodes_.back().element)
        nodes_.back().text.append(text);
    else
        nodes_.push_back(Node{nullptr, std::string(text)});
    return *this;
}

const Element* Element::child(std::string_view name, std::string_view xmlns) const {
    for (const auto& n : nodes_)
        if (n.element && n.element->is(name, xmlns)) return n.element.get();
    return nullptr;
}

Element* Element::child(std::string_view name, std::string_view xmlns) {
    for (auto& n : nodes_)
        if (n.element && n.element->is(name, xmlns)) return n.element.get();
    return nullptr;
}

const Element* Element::first_child() const {
    for (const auto& n : nodes_)
        if (n.element) return n.element.get();
    return nullptr;
}

std::vector<const Element*> Element::children() const {
    std::vector<const Element*> out;
    for (const auto& n : nodes_)
        if (n.element) out.push_back(n.element.get());
    return out;
}

std::string Element::text() const {
    std::string out;
    for (const auto& n : nodes_)
        if (!n.element) out += n.text;
    return out;
}

std::string Element::child_text(std::string_view name, std::string_view xmlns) const {
    const Element* c = child(name, xmlns);
    return c ? c->text() : std::string();
}

void Element::replace_namespace(std::string_view from, std::string_view to) {
    const Namespace target = make_namespace(to);
    std::vector<Element*> todo{this};
    while (!todo.empty()) {
        Element* e = todo.back();
        todo.pop_back();
        if (e->xmlns() == from) e->xmlns_ = target;
        for (auto& n : e->nodes_)
            if (n.element) todo.push_back(n.element.get());
    }
}

void Element::serialize(std::string& out, std::string_view parent_ns) const {
    out += '<';
    out += name_;
    const std::string& ns = xmlns();
    if (ns != parent_ns) {
        out += " xmlns=\"";
        escape_attr(ns, out);
        out += '"';
    }
    int prefix_no = 0;
    for (const auto& a : attrs_) {
        out += ' ';
        if (!a.ns.empty() && a.name.rfind("xml:", 0) != 0) {
            // A namespaced attribute other than xml:*: declare a private prefix for it.
            std::string prefix = "a" + std::to_string(prefix_no++);
            out += "xmlns:" + prefix + "=\"";
            escape_attr(a.ns, out);
            out += "\" " + prefix + ':';
        }
        out += a.name;
        out += "=\"";
        escape_attr(a.value, out);
        out += '"';
    }
    if (nodes_.empty()) {
        out += "/>";
        return;
    }
    out += '>';
    for (const auto& n : nodes_) {
        if (n.element)
            n.element->serialize(out, ns);
        else
            escape(n.text, out);
    }
    out += "</";
    out += name_;
    out += '>';
}

std::string Element::to_string(std::string_view parent_ns) const {
    std::string out;
    serialize(out, parent_ns);
    return out;
}

}  // namespace hongyan::xml
