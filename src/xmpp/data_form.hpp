// XEP-0004 data forms: building forms and results, reading submitted values.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "xmpp/xml.hpp"

namespace hongyan::forms {

struct Field {
    std::string var;
    std::string type;  // text-single, text-private, jid-single, jid-multi, hidden, ...
    std::string label;
    std::vector<std::string> values;
    bool required = false;
};

// <x xmlns='jabber:x:data' type=...> with an optional title and instructions; a hidden
// FORM_TYPE field first when `form_type` is given.
xml::Element make(std::string_view type, std::string_view form_type, std::string_view title,
                  std::string_view instructions, const std::vector<Field>& fields);
// A type='result' form with <reported/> columns and one <item/> per row.
xml::Element make_table(std::string_view form_type, const std::vector<Field>& columns,
                        const std::vector<std::vector<std::string>>& rows);

// The values of a submitted form (type='submit'), by field var; empty when `x` is not one.
std::map<std::string, std::vector<std::string>> values(const xml::Element* x);
// The first value of `var`, or "".
std::string value(const std::map<std::string, std::vector<std::string>>& v, const std::string& var);
// The submitted form among the children of `parent`, or nullptr.
const xml::Element* find(const xml::Element& parent);

}  // namespace hongyan::forms
