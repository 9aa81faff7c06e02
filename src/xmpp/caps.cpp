#include "xmpp/caps.hpp"

#include <algorithm>
#include <vector>

#include "xmpp/crypto.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::caps {

namespace {
std::string lang_of(const xml::Element& e) {
    for (const auto& a : e.attributes())
        if (a.name == "xml:lang") return a.value;
    return {};
}
}  // namespace

std::string input_string(const xml::Element& query) {
    std::vector<std::string> ids, features;
    // A form: its FORM_TYPE, then "var<value<..." per field, fields sorted by var.
    std::vector<std::pair<std::string, std::string>> forms;
    for (const auto* c : query.children()) {
        if (c->is("identity", ns::disco_info)) {
            ids.push_back(std::string(c->attr("category")) + "/" + std::string(c->attr("type")) +
                          "/" + lang_of(*c) + "/" + std::string(c->attr("name")));
        } else if (c->is("feature", ns::disco_info)) {
            features.emplace_back(c->attr("var"));
        } else if (c->is("x", ns::data_forms)) {
            std::string form_type;
            std::vector<std::string> fields;
            for (const auto* f : c->children()) {
                if (f->name() != "field") continue;
                std::vector<std::string> values;
                for (const auto* v : f->children())
                    if (v->name() == "value") values.push_back(v->text());
                if (f->attr("var") == "FORM_TYPE") {
                    if (!values.empty()) form_type = values.front();
                    continue;
                }
                std::sort(values.begin(), values.end());
                std::string s = std::string(f->attr("var")) + "<";
                for (const auto& v : values) s += v + "<";
                fields.push_back(std::move(s));
            }
            if (form_type.empty()) continue;  // §5.4 3.6: forms without FORM_TYPE are ignored
            std::sort(fields.begin(), fields.end());
            std::string s;
            for (const auto& f : fields) s += f;
            forms.emplace_back(std::move(form_type), std::move(s));
        }
    }
    std::sort(ids.begin(), ids.end());
    std::sort(features.begin(), features.end());
    std::sort(forms.begin(), forms.end());
    std::string out;
    for (const auto& i : ids) out += i + "<";
    for (const auto& f : features) out += f + "<";
    for (const auto& [type, fields] : forms) out += type + "<" + fields;
    return out;
}

std::optional<std::string> ver(const xml::Element& query, std::string_view hash) {
    crypto::Hash h;
    if (hash == "sha-1")
        h = crypto::Hash::sha1;
    else if (hash == "sha-256")
        h = crypto::Hash::sha256;
    else
        return std::nullopt;
    return crypto::base64_encode(crypto::digest(h, input_string(query)));
}

}  // namespace hongyan::caps
