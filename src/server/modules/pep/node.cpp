#include "server/modules/pep/node.hpp"

#include <algorithm>
#include <charconv>

#include "xmpp/data_form.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/xml_stream_parser.hpp"

namespace hongyan::modules::pep {

namespace {

// The namespace of the stored documents (never on the wire).
constexpr std::string_view kStored = "urn:hongyan:pep:0";

std::optional<std::size_t> count(std::string_view s) {
    std::size_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || p != s.data() + s.size() || n == 0) return std::nullopt;
    return n;
}

std::optional<bool> boolean(std::string_view s) {
    if (s == "1" || s == "true") return true;
    if (s == "0" || s == "false") return false;
    return std::nullopt;
}

// One field of a form applied to `c`, or checked against it (`check`): an error text, or
// "" for a match or a change made; "!" for a value that differs (check only).
std::string field(NodeConfig& c, const std::string& var, const std::vector<std::string>& values,
                  std::size_t limit, bool check) {
    const std::string v = values.empty() ? std::string() : values.front();
    auto set = [&](auto& target, auto value) -> std::string {
        if (check) return target == value ? "" : "!";
        target = value;
        return "";
    };
    if (var == "pubsub#access_model") {
        if (v != "open" && v != "presence" && v != "roster" && v != "whitelist")
            return "pubsub#access_model must be open, presence, roster or whitelist";
        return set(c.access, v);
    }
    if (var == "pubsub#max_items") {
        if (v != "max") {
            auto n = count(v);
            if (!n) return "pubsub#max_items must be a positive number or 'max'";
            if (*n > limit)
                return "pubsub#max_items is above this server's limit of " + std::to_string(limit);
        }
        return set(c.max_items, v);
    }
    if (var == "pubsub#send_last_published_item") {
        if (v != "never" && v != "on_sub" && v != "on_sub_and_presence")
            return "pubsub#send_last_published_item must be never, on_sub or on_sub_and_presence";
        return set(c.send_last, v);
    }
    if (var == "pubsub#persist_items" || var == "pubsub#notify_retract") {
        auto b = boolean(v);
        if (!b) return var + " must be a boolean";
        return set(var == "pubsub#persist_items" ? c.persist : c.notify_retract, *b);
    }
    if (var == "pubsub#roster_groups_allowed") {
        auto sorted = values;
        std::sort(sorted.begin(), sorted.end());
        if (check) {
            auto mine = c.groups;
            std::sort(mine.begin(), mine.end());
            return mine == sorted ? "" : "!";
        }
        c.groups = sorted;
        return "";
    }
    if (var == "pubsub#title") return set(c.title, v);
    if (var == "pubsub#deliver_payloads" || var == "pubsub#deliver_notifications") {
        // Always on here: a value of false cannot be met.
        auto b = boolean(v);
        if (!b) return var + " must be a boolean";
        if (!*b) return check ? "!" : var + " cannot be turned off here";
        return "";
    }
    return "";  // a field this server does not know: ignored
}

}  // namespace

std::size_t Node::capacity(std::size_t limit) const {
    if (!config.persist) return 1;
    if (config.max_items == "max") return limit;
    return std::min(limit, count(config.max_items).value_or(1));
}

void Node::publish(Item item, std::size_t limit) {
    std::erase_if(items, [&](const Item& i) { return i.id == item.id; });
    items.push_back(std::move(item));
    trim(limit);
}

void Node::trim(std::size_t limit) {
    const std::size_t cap = capacity(limit);
    if (items.size() > cap) items.erase(items.begin(), items.end() - static_cast<long>(cap));
}

const Item* Node::find(std::string_view id) const {
    for (const auto& i : items)
        if (i.id == id) return &i;
    return nullptr;
}

bool Node::retract(std::string_view id) {
    return std::erase_if(items, [&](const Item& i) { return i.id == id; }) > 0;
}

std::string serialize(const Node& n) {
    xml::Element e("node", kStored);
    const auto& c = n.config;
    e.set_attr("name", n.name)
        .set_attr("access", c.access)
        .set_attr("max", c.max_items)
        .set_attr("persist", c.persist ? "1" : "0")
        .set_attr("send-last", c.send_last)
        .set_attr("notify-retract", c.notify_retract ? "1" : "0");
    if (!c.title.empty()) e.set_attr("title", c.title);
    for (const auto& g : c.groups) e.add_child("group", std::string(kStored)).add_text(g);
    for (const auto& i : n.items) {
        auto& item = e.add_child("item", std::string(kStored));
        item.set_attr("id", i.id).set_attr("stamp", std::to_string(i.stamp_us));
        item.add_child(i.payload);
    }
    return e.to_string(kStored);
}

std::optional<Node> parse(const std::string& xml) {
    auto e = xml::parse_stanza(xml, kStored);
    if (!e || e->name() != "node") return std::nullopt;
    Node n;
    n.name = e->attr("name");
    auto& c = n.config;
    c.access = e->attr("access");
    c.max_items = e->attr("max");
    c.persist = e->attr("persist") != "0";
    c.send_last = e->attr("send-last");
    c.notify_retract = e->attr("notify-retract") != "0";
    c.title = e->attr("title");
    for (const auto* ch : e->children()) {
        if (ch->name() == "group") c.groups.push_back(ch->text());
        if (ch->name() != "item" || !ch->first_child()) continue;
        Item i;
        i.id = ch->attr("id");
        std::from_chars(ch->attr("stamp").data(),
                        ch->attr("stamp").data() + ch->attr("stamp").size(), i.stamp_us);
        i.payload = *ch->first_child();
        n.items.push_back(std::move(i));
    }
    return n;
}

xml::Element config_form(const NodeConfig& c, std::size_t limit) {
    auto b = [](bool v) { return std::string(v ? "1" : "0"); };
    std::vector<forms::Field> fields = {
        {"pubsub#title", "text-single", "A name for the node", {c.title}},
        {"pubsub#access_model",
         "list-single",
         "Who may see the items (open, presence, roster, "
         "whitelist)",
         {c.access}},
        {"pubsub#roster_groups_allowed", "list-multi", "Roster groups allowed (roster access)",
         c.groups},
        {"pubsub#max_items",
         "text-single",
         "Items kept (a number up to " + std::to_string(limit) + ", or max)",
         {c.max_items}},
        {"pubsub#persist_items", "boolean", "Keep items", {b(c.persist)}},
        {"pubsub#send_last_published_item",
         "list-single",
         "When to send the last item (never, on_sub, on_sub_and_presence)",
         {c.send_last}},
        {"pubsub#notify_retract", "boolean", "Notify of retracted items", {b(c.notify_retract)}},
        {"pubsub#deliver_payloads", "boolean", "Notifications carry the item", {"1"}},
        {"pubsub#deliver_notifications", "boolean", "Send notifications", {"1"}},
    };
    return forms::make("form", ns::pubsub_node_config, {}, {}, fields);
}

std::optional<std::string> apply_form(NodeConfig& c, const xml::Element& form, std::size_t limit) {
    NodeConfig next = c;
    for (const auto& [var, values] : forms::values(&form)) {
        if (var == "FORM_TYPE") continue;
        if (auto err = field(next, var, values, limit, false); !err.empty()) return err;
    }
    c = std::move(next);
    return std::nullopt;
}

bool meets(const NodeConfig& c, const xml::Element& form, std::size_t limit) {
    NodeConfig copy = c;
    for (const auto& [var, values] : forms::values(&form))
        if (var != "FORM_TYPE" && !field(copy, var, values, limit, true).empty()) return false;
    return true;
}

}  // namespace hongyan::modules::pep
