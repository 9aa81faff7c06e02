#include "server/modules/vcard/photo.hpp"

#include "xmpp/crypto.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/xml_stream_parser.hpp"

namespace hongyan::modules::vcard {

std::optional<std::string> decode_base64(std::string_view text) {
    std::string compact;
    compact.reserve(text.size());
    for (char c : text)
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') compact += c;
    return crypto::base64_decode(compact);
}

std::string sha1_hex(std::string_view data) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : crypto::digest(crypto::Hash::sha1, data)) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string photo_hash(std::string_view vcard_xml) {
    auto v = xml::parse_stanza(vcard_xml, ns::client);
    if (!v) return {};
    const auto* photo = v->child("PHOTO", ns::vcard);
    const auto* bin = photo ? photo->child("BINVAL", ns::vcard) : nullptr;
    if (!bin) return {};
    auto image = decode_base64(bin->text());
    return image && !image->empty() ? sha1_hex(*image) : std::string();
}

std::string with_photo(const std::optional<std::string>& vcard_xml, std::string_view type,
                       std::string_view base64) {
    std::optional<xml::Element> v;
    if (vcard_xml) v = xml::parse_stanza(*vcard_xml, ns::client);
    if (!v || !v->is("vCard", ns::vcard)) v = xml::Element("vCard", std::string(ns::vcard));
    v->remove_children([](const xml::Element& e) { return e.name() == "PHOTO"; });
    auto& photo = v->add_child("PHOTO", std::string(ns::vcard));
    photo.add_child("TYPE", std::string(ns::vcard)).add_text(type);
    photo.add_child("BINVAL", std::string(ns::vcard)).add_text(base64);
    return v->to_string(ns::client);
}

}  // namespace hongyan::modules::vcard
