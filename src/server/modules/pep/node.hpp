// A PEP node as stored (XEP-0163 over XEP-0060): its configuration and its items, one
// document per user and node in the module's table, and the node configuration form
// (pubsub#node_config) that configures it and that publish-options (XEP-0223) check.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xmpp/xml.hpp"

namespace hongyan::modules::pep {

struct NodeConfig {
    std::string access = "presence";  // open, presence, roster, whitelist (XEP-0060 §4.5)
    std::string max_items = "1";      // a number, or "max" (the server's limit)
    bool persist = true;              // false: only the last item is kept
    std::string send_last = "on_sub_and_presence";  // or on_sub, never
    bool notify_retract = true;
    std::vector<std::string> groups;  // roster_groups_allowed, for access 'roster'
    std::string title;
};

struct Item {
    std::string id;
    std::int64_t stamp_us = 0;
    xml::Element payload;
};

struct Node {
    std::string name;
    NodeConfig config;
    std::vector<Item> items;  // oldest first

    // How many items the node keeps with the server's limit `limit` (pep.max_items).
    std::size_t capacity(std::size_t limit) const;
    // Adds or replaces (by id) the newest item, then trim()s.
    void publish(Item item, std::size_t limit);
    // Drops the oldest items beyond capacity() (after a publish, or a new max_items).
    void trim(std::size_t limit);
    const Item* find(std::string_view id) const;
    bool retract(std::string_view id);
};

std::string serialize(const Node& n);
std::optional<Node> parse(const std::string& xml);

// The node configuration form (XEP-0060 §8.2) for `c`, of type 'form'.
xml::Element config_form(const NodeConfig& c, std::size_t limit);
// Applies the fields of a submitted form (node_config or publish-options) to `c`; an
// error text when a value is not one this server takes (unknown fields are ignored).
std::optional<std::string> apply_form(NodeConfig& c, const xml::Element& form, std::size_t limit);
// XEP-0060 §7.1.5 preconditions: true when every known field of `form` has the value `c`
// has.
bool meets(const NodeConfig& c, const xml::Element& form, std::size_t limit);

}  // namespace hongyan::modules::pep
