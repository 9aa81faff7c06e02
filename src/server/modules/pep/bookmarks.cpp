#include "server/modules/pep/bookmarks.hpp"

#include "xmpp/jid.hpp"

namespace hongyan::modules::pep {

namespace {
bool truthy(std::string_view v) {
    return v == "1" || v == "true";
}
}  // namespace

NodeConfig bookmarks_config() {
    NodeConfig c;
    c.access = "whitelist";
    c.max_items = "max";
    c.send_last = "never";
    return c;
}

xml::Element to_legacy(const Node* node) {
    xml::Element storage("storage", kLegacyBookmarks);
    if (!node) return storage;
    for (const auto& item : node->items) {
        const auto& c = item.payload;
        if (c.name() != "conference" || c.xmlns() != kBookmarksNode) continue;
        auto& out = storage.add_child("conference", std::string(kLegacyBookmarks));
        out.set_attr("jid", item.id);
        if (c.has_attr("name")) out.set_attr("name", c.attr("name"));
        out.set_attr("autojoin", truthy(c.attr("autojoin")) ? "true" : "false");
        for (const char* child : {"nick", "password"})
            if (const auto* e = c.child(child, kBookmarksNode))
                out.add_child(child, std::string(kLegacyBookmarks)).add_text(e->text());
    }
    return storage;
}

std::vector<std::pair<std::string, xml::Element>> from_legacy(const xml::Element& storage) {
    std::vector<std::pair<std::string, xml::Element>> out;
    for (const auto* c : storage.children()) {
        if (c->name() != "conference") continue;
        auto jid = Jid::parse(c->attr("jid"));
        if (!jid || !jid->is_bare() || jid->local().empty()) continue;
        xml::Element conf("conference", kBookmarksNode);
        if (c->has_attr("name")) conf.set_attr("name", c->attr("name"));
        if (truthy(c->attr("autojoin"))) conf.set_attr("autojoin", "true");
        for (const char* child : {"nick", "password"})
            if (const auto* e = c->child(child, storage.xmlns()))
                conf.add_child(child, std::string(kBookmarksNode)).add_text(e->text());
        out.emplace_back(jid->bare_str(), std::move(conf));
    }
    return out;
}

}  // namespace hongyan::modules::pep
