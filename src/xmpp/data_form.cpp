#include "xmpp/data_form.hpp"

#include "xmpp/namespaces.hpp"

namespace hongyan::forms {

namespace {
void add_field(xml::Element& x, const Field& f) {
    auto& el = x.add_child("field", std::string(ns::data_forms));
    el.set_attr("var", f.var);
    if (!f.type.empty()) el.set_attr("type", f.type);
    if (!f.label.empty()) el.set_attr("label", f.label);
    if (f.required) el.add_child("required", std::string(ns::data_forms));
    for (const auto& v : f.values) el.add_child("value", std::string(ns::data_forms)).add_text(v);
}
}  // namespace

xml::Element make(std::string_view type, std::string_view form_type, std::string_view title,
                  std::string_view instructions, const std::vector<Field>& fields) {
    xml::Element x("x", std::string(ns::data_forms));
    x.set_attr("type", type);
    if (!title.empty()) x.add_child("title", std::string(ns::data_forms)).add_text(title);
    if (!instructions.empty())
        x.add_child("instructions", std::string(ns::data_forms)).add_text(instructions);
    if (!form_type.empty())
        add_field(x, Field{"FORM_TYPE", "hidden", "", {std::string(form_type)}, false});
    for (const auto& f : fields) add_field(x, f);
    return x;
}

xml::Element make_table(std::string_view form_type, const std::vector<Field>& columns,
                        const std::vector<std::vector<std::string>>& rows) {
    xml::Element x("x", std::string(ns::data_forms));
    x.set_attr("type", "result");
    if (!form_type.empty())
        add_field(x, Field{"FORM_TYPE", "hidden", "", {std::string(form_type)}, false});
    auto& reported = x.add_child("reported", std::string(ns::data_forms));
    for (const auto& c : columns) add_field(reported, Field{c.var, c.type, c.label, {}, false});
    for (const auto& row : rows) {
        auto& item = x.add_child("item", std::string(ns::data_forms));
        for (std::size_t i = 0; i < columns.size() && i < row.size(); ++i)
            add_field(item, Field{columns[i].var, "", "", {row[i]}, false});
    }
    return x;
}

std::map<std::string, std::vector<std::string>> values(const xml::Element* x) {
    std::map<std::string, std::vector<std::string>> out;
    if (!x || x->attr("type") != "submit") return out;
    for (const auto* f : x->children()) {
        if (!f->is("field", ns::data_forms)) continue;
        auto& vals = out[std::string(f->attr("var"))];
        for (const auto* v : f->children())
            if (v->is("value", ns::data_forms)) vals.push_back(v->text());
    }
    return out;
}

std::string value(const std::map<std::string, std::vector<std::string>>& v,
                  const std::string& var) {
    auto it = v.find(var);
    return it == v.end() || it->second.empty() ? std::string() : it->second.front();
}

const xml::Element* find(const xml::Element& parent) {
    for (const auto* c : parent.children())
        if (c->is("x", ns::data_forms)) return c;
    return nullptr;
}

}  // namespace hongyan::forms
