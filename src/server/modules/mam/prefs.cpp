#include "server/modules/mam/prefs.hpp"

#include "xmpp/jid.hpp"
#include "xmpp/namespaces.hpp"

namespace hongyan::modules::mam {

xml::Element Prefs::to_element() const {
    xml::Element e("prefs", ns::mam);
    e.set_attr("default", default_);
    for (const auto* list : {&always, &never}) {
        auto& l = e.add_child(list == &always ? "always" : "never", std::string(ns::mam));
        for (const auto& j : *list) l.add_child("jid", std::string(ns::mam)).add_text(j);
    }
    return e;
}

std::optional<std::string> Prefs::parse(const xml::Element& e, std::size_t max_jids, Prefs& out) {
    Prefs p;
    p.default_ = e.attr("default");
    if (p.default_ != "always" && p.default_ != "never" && p.default_ != "roster")
        return "'default' must be always, never or roster";
    std::size_t n = 0;
    for (const auto* list : e.children()) {
        if (list->name() != "always" && list->name() != "never") continue;
        auto& target = list->name() == "always" ? p.always : p.never;
        for (const auto* j : list->children()) {
            if (j->name() != "jid") continue;
            auto jid = Jid::parse(j->text());
            if (!jid) return "'" + j->text() + "' is not a JID";
            if (++n > max_jids)
                return "at most " + std::to_string(max_jids) + " JIDs (mam.max_pref_jids)";
            target.insert(jid->bare_str());
        }
    }
    for (const auto& j : p.never) p.always.erase(j);  // never wins
    out = std::move(p);
    return std::nullopt;
}

}  // namespace hongyan::modules::mam
