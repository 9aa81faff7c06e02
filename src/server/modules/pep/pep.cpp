// XEP-0163 Personal Eventing Protocol: every account is a pubsub service (XEP-0060) of
// its own, where its clients publish avatars (XEP-0084), nicknames (XEP-0172), mood and
// tune, bookmarks (XEP-0402, XEP-0048) and OMEMO keys. Nodes are created by the first
// publish, with publish-options (XEP-0223) as preconditions; items go out as headline
// messages to the owner's resources and to the contacts the access model allows, each
// resource filtered by the "+notify" features of its entity capabilities (XEP-0115),
// which this module learns by asking one resource per capabilities version. A resource
// that comes online (or changes capabilities) gets the last item of every node it wants,
// of its own account and of the contacts whose presence it sees.
#include <spdlog/spdlog.h>

#include <charconv>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "server/c2s/client_session.hpp"
#include "server/im/im.hpp"
#include "server/modules/module.hpp"
#include "server/modules/pep/bookmarks.hpp"
#include "server/modules/pep/node.hpp"
#include "server/modules/vcard/photo.hpp"
#include "server/router/router.hpp"
#include "server/router/session_registry.hpp"
#include "server/run_on.hpp"
#include "server/server_context.hpp"
#include "server/storage/storage.hpp"
#include "xmpp/caps.hpp"
#include "xmpp/crypto.hpp"
#include "xmpp/data_form.hpp"
#include "xmpp/datetime.hpp"
#include "xmpp/namespaces.hpp"
#include "xmpp/xml_stream_parser.hpp"

namespace hongyan::modules {

namespace {

using boost::asio::awaitable;
using pep::Node;
using pep::NodeConfig;

constexpr const char* kTable = "pep_nodes";
// The private module's table (XEP-0049), read once to move old bookmarks (below).
constexpr const char* kPrivateTable = "private_xml";
// The user's list of node names, under this key; each node under its name (never empty).
constexpr const char* kIndex = "";
constexpr std::string_view kStored = "urn:hongyan:pep:0";
constexpr std::string_view kCapsPrefix = "pep-caps-";
// Capabilities queries whose answer is awaited.
constexpr std::size_t kMaxPendingQueries = 10000;

using Features = std::unordered_set<std::string>;
using FeaturesPtr = std::shared_ptr<const Features>;

std::vector<std::string> load_index(storage::Storage& st, const std::string& user) {
    std::vector<std::string> out;
    auto doc = st.xml_store(kTable).get(user, kIndex);
    if (!doc) return out;
    if (auto e = xml::parse_stanza(*doc, kStored))
        for (const auto* n : e->children()) out.push_back(n->text());
    return out;
}

void save_index(storage::Storage& st, const std::string& user,
                const std::vector<std::string>& nodes) {
    if (nodes.empty()) {
        st.xml_store(kTable).set(user, kIndex, "");
        return;
    }
    xml::Element e("nodes", kStored);
    for (const auto& n : nodes) e.add_child("node", std::string(kStored)).add_text(n);
    st.xml_store(kTable).set(user, kIndex, e.to_string(kStored));
}

std::optional<Node> load_node(storage::Storage& st, const std::string& user,
                              const std::string& node) {
    auto doc = st.xml_store(kTable).get(user, node);
    if (!doc) return std::nullopt;
    return pep::parse(*doc);
}

// Enters a new node into `user`'s list (XEP-0060 §7.1.4 auto-create); false when the
// account has `max_nodes` nodes already.
bool add_to_index(storage::Storage& st, const std::string& user, const std::string& node,
                  std::size_t max_nodes) {
    auto index = load_index(st, user);
    if (index.size() >= max_nodes) return false;
    index.push_back(node);
    save_index(st, user, index);
    return true;
}

// An error with a pubsub#errors condition (XEP-0060 §7.1.3 and the rest).
xml::Element pubsub_error(std::string_view name, std::string_view feature = {}) {
    xml::Element e(std::string(name), ns::pubsub_errors);
    if (!feature.empty()) e.set_attr("feature", feature);
    return e;
}

void fail(IqRequest& iq, StanzaErrorCondition c, std::string_view app, std::string text) {
    if (app.empty())
        iq.error(StanzaError{c, std::move(text), {}});
    else
        iq.error(StanzaError{c, std::move(text), {}}, pubsub_error(app));
}

// The <c/> of a serialised presence: hash and ver, or nothing.
std::optional<std::pair<std::string, std::string>> caps_of(const xml::Element& presence) {
    const auto* c = presence.child("c", ns::caps);
    if (!c || c->attr("ver").empty()) return std::nullopt;
    return std::make_pair(std::string(c->attr("hash")), std::string(c->attr("ver")));
}

constexpr std::string_view kAvatarData = "urn:xmpp:avatar:data";
constexpr std::string_view kAvatarMetadata = "urn:xmpp:avatar:metadata";

// XEP-0398 §3.1: a new avatar's metadata makes its image (from the data node, checked
// against its SHA-1 id) the vCard's photo. False when there is nothing to convert.
bool avatar_to_vcard(storage::Storage& st, const std::string& user, const pep::Item& metadata) {
    const auto& m = metadata.payload;
    if (m.name() != "metadata" || m.xmlns() != kAvatarMetadata) return false;
    const xml::Element* info = nullptr;
    for (const auto* i : m.children())
        if (i->name() == "info" && !i->has_attr("url") && !i->attr("id").empty()) {
            info = i;
            break;
        }
    if (!info) return false;  // no avatar (XEP-0084 §4.5), or only one at a URL
    auto data = load_node(st, user, std::string(kAvatarData));
    const auto* item = data ? data->find(info->attr("id")) : nullptr;
    if (!item) return false;
    const std::string b64 = item->payload.text();
    auto image = vcard::decode_base64(b64);
    if (!image || vcard::sha1_hex(*image) != info->attr("id")) return false;
    auto& vcards = st.xml_store(vcard::kTable);
    vcards.set(user, vcard::kKey,
               vcard::with_photo(vcards.get(user, vcard::kKey), info->attr("type"), b64));
    return true;
}

xml::Element item_element(const pep::Item& i, std::string_view xmlns) {
    xml::Element item("item", xmlns);
    item.set_attr("id", i.id);
    item.add_child(i.payload);
    return item;
}

// The <items/> of a pubsub#event for one published item, or for a retracted one.
xml::Element items_event(const std::string& node, const pep::Item& item) {
    xml::Element items("items", ns::pubsub_event);
    items.set_attr("node", node);
    items.add_child(item_element(item, ns::pubsub_event));
    return items;
}

xml::Element retract_event(const std::string& node, const std::string& id) {
    xml::Element items("items", ns::pubsub_event);
    items.set_attr("node", node);
    items.add_child("retract", std::string(ns::pubsub_event)).set_attr("id", id);
    return items;
}

class PepModule final : public Module {
  public:
    std::string_view name() const override { return "pep"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {
            {"XEP-0163", "Personal Eventing Protocol", "1.2.2", "complete",
             "auto-create on publish, notifications to the owner's and contacts' resources "
             "filtered by their +notify capabilities, the last item sent when a resource "
             "comes online or changes capabilities (own nodes and contacts' nodes) and when "
             "a contact starts to see the account's presence (the implicit subscription); "
             "no disco#items listing of an account's nodes"},
            {"XEP-0060", "Publish-Subscribe", "1.26.0", "partial",
             "what PEP needs: publish (with item ids), retract (notified), items (by id, "
             "max_items), node configuration (pubsub#owner configure, default, delete, purge), "
             "access models open, presence, roster and whitelist (owner only: no affiliations); "
             "no explicit subscriptions, collections or affiliations"},
            {"XEP-0223", "Persistent Storage of Private Data via PubSub", "1.1.1", "complete",
             "publish-options as preconditions: a new node takes them, an existing one must "
             "match (conflict with precondition-not-met)"},
            {"XEP-0084", "User Avatar", "1.1.4", "complete",
             "data and metadata nodes through PEP (pep.max_item_size bounds the image)"},
            {"XEP-0398", "User Avatar to vCard-Based Avatars Conversion", "1.0.0", "partial",
             "PEP to vCard (§3.1: the image whose SHA-1 matches its id becomes the PHOTO) and "
             "the hash in presence (§4, vcard module); not vCard to PEP (§3.2, a MAY)"},
            {"XEP-0402", "PEP Native Bookmarks", "1.2.0", "complete",
             "urn:xmpp:bookmarks:1 through PEP with max_items 'max' and whitelist access; "
             "#compat (§5.3): XEP-0048 clients read and replace the same bookmarks through "
             "private XML storage, changes notified per room; <extensions/> kept"},
            {"XEP-0048", "Bookmark Storage", "1.2", "complete",
             "in private XML storage (XEP-0049), kept as XEP-0402 items (#compat); not as a "
             "PEP storage:bookmarks node (XEP-0411 is deprecated)"},
            {"XEP-0172", "User Nickname", "1.1", "complete", "through PEP"},
            {"XEP-0107", "User Mood", "1.2.1", "complete", "through PEP"},
            {"XEP-0118", "User Tune", "1.2", "complete", "through PEP"},
            {"XEP-0384", "OMEMO Encryption", "0.8.3", "complete",
             "the server's part: device lists and bundles through PEP with open access and "
             "max_items 'max' publish-options"},
        };
    }
    std::vector<std::string> migrations(std::string_view backend) const override {
        return {storage::xml_store_migration(backend, kTable)};
    }
    std::vector<config::KeySpec> config_keys() const override {
        using config::ValueType;
        return {
            {"pep.max_nodes", ValueType::integer, std::int64_t{100},
             "PEP nodes (XEP-0163) one account may have; one more is refused with <not-allowed/> "
             "and <max-nodes-exceeded/>.",
             1, 100000},
            {"pep.max_items", ValueType::integer, std::int64_t{1000},
             "Items one PEP node keeps at most: what pubsub#max_items 'max' means; a larger "
             "number is refused.",
             1, 100000},
            {"pep.max_item_size", ValueType::integer, std::int64_t{262144},
             "Largest PEP item payload in bytes (an avatar image is one); larger gets "
             "<not-acceptable/> with <payload-too-big/>.",
             256, 16777216},
            {"pep.max_caps", ValueType::integer, std::int64_t{10000},
             "Entity capabilities versions (XEP-0115) remembered to filter PEP notifications; "
             "beyond it the oldest are forgotten and asked again.",
             16, 1000000},
        };
    }

    void start(ModuleContext& ctx) override {
        server_ = &ctx.server();
        const auto& cfg = ctx.server().config;
        max_nodes_ = static_cast<std::size_t>(cfg.integer("pep.max_nodes"));
        max_items_ = static_cast<std::size_t>(cfg.integer("pep.max_items"));
        max_item_size_ = static_cast<std::size_t>(cfg.integer("pep.max_item_size"));
        max_caps_ = static_cast<std::size_t>(cfg.integer("pep.max_caps"));
        ctx.add_account_identity("pubsub", "pep", "");
        for (auto f :
             {"access-open", "access-presence", "access-roster", "access-whitelist", "auto-create",
              "config-node", "delete-nodes", "filtered-notifications", "item-ids", "last-published",
              "persistent-items", "presence-notifications", "publish", "publish-options",
              "purge-nodes", "retract-items", "retrieve-default", "retrieve-items"})
            ctx.add_account_feature(std::string(ns::pubsub) + "#" + f);
        ctx.add_account_feature(ns::pubsub);
        // XEP-0398 §2: PEP avatars become the vCard's photo.
        ctx.add_account_feature("urn:xmpp:pep-vcard-conversion:0");
        for (auto target : {IqTarget::account, IqTarget::other_account}) {
            ctx.on_iq(IqType::get, target, ns::pubsub, [this](IqRequest& iq) { return get(iq); });
            ctx.on_iq(IqType::set, target, ns::pubsub, [this](IqRequest& iq) { return set(iq); });
            for (auto type : {IqType::get, IqType::set})
                ctx.on_iq(type, target, ns::pubsub_owner,
                          [this](IqRequest& iq) { return owner(iq); });
        }
        // XEP-0402 §5.3: older clients' bookmarks in private XML storage are these items.
        ctx.add_account_feature(std::string(pep::kBookmarksNode) + "#compat");
        ctx.on_iq_child(IqType::get, IqTarget::account, ns::private_, pep::kLegacyBookmarks,
                        [this](IqRequest& iq) { return legacy_get(iq); });
        ctx.on_iq_child(IqType::set, IqTarget::account, ns::private_, pep::kLegacyBookmarks,
                        [this](IqRequest& iq) { return legacy_set(iq); });
        // A resource's presence: what it wants notifications of (its capabilities).
        ctx.on_stanza(Phase::pre_route, "presence/bare", 0,
                      [this](const StanzaEvent& ev) { return presence(ev); });
        // The answers to our capabilities queries, addressed to the server.
        ctx.on_stanza(Phase::pre_route, "iq/host", 1000,
                      [this](const StanzaEvent& ev) { return caps_answer(ev); });
        for (auto& h : ctx.server().hosts) migrate_legacy_bookmarks(*h);
        // A contact who starts to see a user's presence is subscribed to the user's nodes
        // from then on (XEP-0163 §1.1's auto-subscribe): the last items go to them now.
        for (auto& h : ctx.server().hosts) {
            Host& host = *h;
            host.im->on_presence_shared(
                [this, &host](const std::string& user, const std::string& watcher) {
                    newly_shared(host, user, watcher);
                });
        }
    }

  private:
    // ---- requests ------------------------------------------------------------------

    // Bookmarks that private XML storage kept before this module answered for them (an
    // older hongyand, or pep disabled) become the user's XEP-0402 node, once: at start,
    // on the starting thread, for users without that node; the old fragment goes, so that
    // a node deleted later does not come back from it.
    void migrate_legacy_bookmarks(Host& host) {
        auto& st = *host.storage;
        const std::string key = std::string(pep::kLegacyBookmarks).insert(0, "storage ");
        const std::string name(pep::kBookmarksNode);
        std::vector<std::pair<std::string, std::string>> found;
        try {
            found = st.xml_store(kPrivateTable).all(key);
        } catch (const std::exception& e) {
            // No private storage table (the private module never ran): nothing to move.
            spdlog::debug("no private bookmarks to move on {}: {}", host.domain, e.what());
            return;
        }
        std::size_t moved = 0;
        for (const auto& [user, doc] : found) {
            auto storage = xml::parse_stanza(doc, ns::private_);
            if (!storage || load_node(st, user, name)) continue;
            if (!add_to_index(st, user, name, max_nodes_)) continue;
            Node node{name, pep::bookmarks_config(), {}};
            for (auto& [jid, conf] : pep::from_legacy(*storage))
                node.publish(pep::Item{jid, datetime::now_us(), std::move(conf)}, max_items_);
            st.xml_store(kTable).set(user, name, pep::serialize(node));
            st.xml_store(kPrivateTable).set(user, key, "");
            ++moved;
        }
        if (moved > 0)
            spdlog::info("bookmarks of {} users on {} moved from private storage to PEP", moved,
                         host.domain);
    }

    static std::string owner_of(const IqRequest& iq) {
        return iq.to && !iq.to->local().empty() ? iq.to->local() : iq.from->local();
    }
    static bool is_owner(const IqRequest& iq) {
        return iq.from && iq.from->domain() == iq.host.domain && iq.from->local() == owner_of(iq);
    }

    awaitable<void> set(IqRequest& iq) {
        const auto& p = iq.payload();
        auto children = p.children();
        const xml::Element* action = children.empty() ? nullptr : children.front();
        if (action && (action->name() == "publish" || action->name() == "retract") &&
            !is_owner(iq)) {
            iq.error(StanzaErrorCondition::forbidden, "only the account may publish to its PEP");
            co_return;
        }
        if (action && action->name() == "publish") {
            co_await publish(iq, *action, p.child("publish-options", ns::pubsub));
        } else if (action && action->name() == "retract") {
            co_await retract(iq, *action);
        } else {
            // XEP-0060 §6.1.3.13 and the like: explicit subscriptions are not offered.
            std::string feature = action ? action->name() : "";
            if (feature == "subscribe" || feature == "unsubscribe") feature = "subscribe";
            iq.error(StanzaError{StanzaErrorCondition::feature_not_implemented,
                                 "PEP here notifies by presence and capabilities; " + feature +
                                     " is not offered",
                                 {}},
                     pubsub_error("unsupported", feature));
        }
    }

    awaitable<void> get(IqRequest& iq) {
        const auto* items = iq.payload().child("items", ns::pubsub);
        if (!items) {
            const auto* first = iq.payload().first_child();
            std::string feature = first ? first->name() : "";
            iq.error(
                StanzaError{StanzaErrorCondition::feature_not_implemented,
                            "only <items/> is offered here",
                            {}},
                pubsub_error("unsupported", feature == "subscriptions" || feature == "affiliations"
                                                ? feature
                                                : "retrieve-items"));
            co_return;
        }
        const std::string node_name(items->attr("node"));
        if (node_name.empty()) {
            fail(iq, StanzaErrorCondition::bad_request, "nodeid-required", "<items/> needs a node");
            co_return;
        }
        const std::string user = owner_of(iq);
        auto& st = *iq.host.storage;
        auto node = co_await st.run([&st, user, node_name] {
            return st.accounts().exists(user) ? load_node(st, user, node_name) : std::nullopt;
        });
        if (!node) {
            iq.error(StanzaErrorCondition::item_not_found, "no such node");
            co_return;
        }
        if (!co_await allowed(iq.host, user, node->config, *iq.from, &iq)) co_return;
        // §6.5.7: the N most recent; §6.5.8: the ones asked for by id.
        std::vector<const pep::Item*> chosen;
        std::vector<std::string> ids;
        for (const auto* i : items->children())
            if (i->name() == "item" && !i->attr("id").empty()) ids.emplace_back(i->attr("id"));
        if (!ids.empty()) {
            for (const auto& id : ids)
                if (const auto* i = node->find(id)) chosen.push_back(i);
        } else {
            std::size_t n = node->items.size();
            if (auto m = items->attr("max_items"); !m.empty()) {
                std::size_t want = 0;
                auto [ptr, ec] = std::from_chars(m.data(), m.data() + m.size(), want);
                if (ec != std::errc() || ptr != m.data() + m.size()) {
                    iq.error(StanzaErrorCondition::bad_request, "max_items is not a number");
                    co_return;
                }
                n = std::min(n, want);
            }
            for (std::size_t k = node->items.size() - n; k < node->items.size(); ++k)
                chosen.push_back(&node->items[k]);
        }
        xml::Element out("pubsub", ns::pubsub);
        auto& list = out.add_child("items", std::string(ns::pubsub));
        list.set_attr("node", node_name);
        for (const auto* i : chosen) list.add_child(item_element(*i, ns::pubsub));
        iq.reply(std::move(out));
    }

    // XEP-0060 §7.1, with XEP-0223 preconditions.
    awaitable<void> publish(IqRequest& iq, const xml::Element& pub, const xml::Element* options) {
        const std::string node_name(pub.attr("node"));
        if (node_name.empty()) {
            fail(iq, StanzaErrorCondition::bad_request, "nodeid-required",
                 "<publish/> needs a node");
            co_return;
        }
        const auto* item_el = pub.child("item", ns::pubsub);
        if (!item_el) {
            fail(iq, StanzaErrorCondition::bad_request, "item-required",
                 "<publish/> needs an item");
            co_return;
        }
        auto payloads = item_el->children();
        if (payloads.size() != 1) {
            fail(iq, StanzaErrorCondition::bad_request,
                 payloads.empty() ? "payload-required" : "invalid-payload",
                 "an item carries exactly one payload element");
            co_return;
        }
        pep::Item item;
        item.id = item_el->attr("id");
        if (item.id.empty()) item.id = crypto::random_token(20);
        item.stamp_us = datetime::now_us();
        item.payload = *payloads.front();
        if (item.payload.to_string(ns::pubsub).size() > max_item_size_) {
            fail(iq, StanzaErrorCondition::not_acceptable, "payload-too-big",
                 "the item is larger than " + std::to_string(max_item_size_) + " bytes");
            co_return;
        }
        const xml::Element* form = options ? forms::find(*options) : nullptr;
        NodeConfig fresh;
        if (form)
            if (auto err = pep::apply_form(fresh, *form, max_items_)) {
                fail(iq, StanzaErrorCondition::conflict, "precondition-not-met", *err);
                co_return;
            }
        enum class Outcome { ok, precondition, too_many };
        struct Result {
            Outcome outcome = Outcome::ok;
            Node node;
        };
        const std::string user = iq.from->local();
        auto& st = *iq.host.storage;
        auto res = co_await st.run([&, user] {
            Result r;
            auto node = load_node(st, user, node_name);
            if (node) {
                if (form && !pep::meets(node->config, *form, max_items_)) {
                    r.outcome = Outcome::precondition;
                    return r;
                }
            } else {
                if (!add_to_index(st, user, node_name, max_nodes_)) {
                    r.outcome = Outcome::too_many;
                    return r;
                }
                node = Node{node_name, fresh, {}};
            }
            node->publish(item, max_items_);
            st.xml_store(kTable).set(user, node_name, pep::serialize(*node));
            if (node_name == kAvatarMetadata) avatar_to_vcard(st, user, item);
            r.node = std::move(*node);
            return r;
        });
        if (res.outcome == Outcome::precondition) {
            fail(iq, StanzaErrorCondition::conflict, "precondition-not-met",
                 "the node exists with another configuration than the publish-options");
            co_return;
        }
        if (res.outcome == Outcome::too_many) {
            fail(iq, StanzaErrorCondition::not_allowed, "max-nodes-exceeded",
                 "this account has pep.max_nodes nodes already");
            co_return;
        }
        xml::Element out("pubsub", ns::pubsub);
        auto& p = out.add_child("publish", std::string(ns::pubsub));
        p.set_attr("node", node_name);
        p.add_child("item", std::string(ns::pubsub)).set_attr("id", item.id);
        iq.reply(std::move(out));
        // §7.1.2.1: the notification, with the payload.
        co_await notify(iq.host, user, res.node, items_event(node_name, item));
    }

    // XEP-0060 §7.2.
    awaitable<void> retract(IqRequest& iq, const xml::Element& r) {
        const std::string node_name(r.attr("node"));
        const auto* item_el = r.child("item", ns::pubsub);
        if (node_name.empty() || !item_el || item_el->attr("id").empty()) {
            fail(iq, StanzaErrorCondition::bad_request,
                 node_name.empty() ? "nodeid-required" : "item-required",
                 "<retract/> needs a node and an item id");
            co_return;
        }
        const std::string id(item_el->attr("id"));
        const std::string user = iq.from->local();
        auto& st = *iq.host.storage;
        auto node = co_await st.run([&st, user, node_name, id]() -> std::optional<Node> {
            auto node = load_node(st, user, node_name);
            if (!node || !node->retract(id)) return std::nullopt;
            st.xml_store(kTable).set(user, node_name, pep::serialize(*node));
            return node;
        });
        if (!node) {
            iq.error(StanzaErrorCondition::item_not_found, "no such node or item");
            co_return;
        }
        iq.reply();
        if (!node->config.notify_retract && r.attr("notify") != "true" && r.attr("notify") != "1")
            co_return;
        co_await notify(iq.host, user, *node, retract_event(node_name, id));
    }

    // XEP-0060 §8: configure (get, set), default, delete, purge; the owner only.
    awaitable<void> owner(IqRequest& iq) {
        if (!is_owner(iq)) {
            iq.error(StanzaErrorCondition::forbidden, "only the account owns its PEP nodes");
            co_return;
        }
        const auto* action = iq.payload().first_child();
        const std::string what = action ? action->name() : "";
        const bool is_get = iq.iq.attr("type") == "get";
        if (what == "default" && is_get) {
            xml::Element out("pubsub", ns::pubsub_owner);
            out.add_child("default", std::string(ns::pubsub_owner))
                .add_child(pep::config_form(NodeConfig{}, max_items_));
            iq.reply(std::move(out));
            co_return;
        }
        if (!(what == "configure" || (!is_get && (what == "delete" || what == "purge")))) {
            iq.error(
                StanzaError{
                    StanzaErrorCondition::feature_not_implemented, "not offered for PEP here", {}},
                pubsub_error("unsupported", what));
            co_return;
        }
        const std::string node_name(action->attr("node"));
        if (node_name.empty()) {
            fail(iq, StanzaErrorCondition::bad_request, "nodeid-required", "a node is needed");
            co_return;
        }
        const xml::Element* form =
            (what == "configure" && !is_get) ? forms::find(*action) : nullptr;
        if (what == "configure" && !is_get && !form) {
            iq.error(StanzaErrorCondition::bad_request, "a submitted node_config form is needed");
            co_return;
        }
        const std::string user = iq.from->local();
        auto& st = *iq.host.storage;
        struct Result {
            std::optional<Node> node;  // as it was (delete, purge) or is now
            std::string error;
        };
        auto res = co_await st.run([&, user] {
            Result r;
            r.node = load_node(st, user, node_name);
            if (!r.node || is_get) return r;
            if (what == "configure") {
                if (auto err = pep::apply_form(r.node->config, *form, max_items_)) {
                    r.error = *err;
                    return r;
                }
                r.node->trim(max_items_);
                st.xml_store(kTable).set(user, node_name, pep::serialize(*r.node));
            } else if (what == "purge") {
                Node emptied = *r.node;
                emptied.items.clear();
                st.xml_store(kTable).set(user, node_name, pep::serialize(emptied));
            } else {
                auto index = load_index(st, user);
                std::erase(index, node_name);
                save_index(st, user, index);
                st.xml_store(kTable).set(user, node_name, "");
            }
            return r;
        });
        if (!res.node) {
            iq.error(StanzaErrorCondition::item_not_found, "no such node");
            co_return;
        }
        if (!res.error.empty()) {
            iq.error(StanzaErrorCondition::not_acceptable, res.error);
            co_return;
        }
        if (is_get) {
            xml::Element out("pubsub", ns::pubsub_owner);
            auto& c = out.add_child("configure", std::string(ns::pubsub_owner));
            c.set_attr("node", node_name);
            c.add_child(pep::config_form(res.node->config, max_items_));
            iq.reply(std::move(out));
            co_return;
        }
        iq.reply();
        if (what == "configure") co_return;
        // §8.4.2 / §8.5.2: the node's audience hears of it.
        xml::Element ev(what, ns::pubsub_event);
        ev.set_attr("node", node_name);
        co_await notify(iq.host, user, *res.node, std::move(ev));
    }

    // ---- bookmarks for XEP-0048 clients (XEP-0402 §5.3) -----------------------------

    awaitable<void> legacy_get(IqRequest& iq) {
        auto& st = *iq.host.storage;
        auto node = co_await st.run([&st, user = iq.from->local()] {
            return load_node(st, user, std::string(pep::kBookmarksNode));
        });
        xml::Element q("query", ns::private_);
        q.add_child(pep::to_legacy(node ? &*node : nullptr));
        iq.reply(std::move(q));
    }

    // §5.3.2: the replacement list becomes item changes; only changed rooms are
    // published (and notified), rooms no longer listed are retracted.
    awaitable<void> legacy_set(IqRequest& iq) {
        auto rooms = pep::from_legacy(*iq.payload().first_child());
        const std::string user = iq.from->local();
        const std::string name(pep::kBookmarksNode);
        struct Change {
            bool too_many = false;
            std::vector<pep::Item> published;
            std::vector<std::string> retracted;
            Node node;
        };
        auto& st = *iq.host.storage;
        auto ch = co_await st.run([&, user] {
            Change c;
            auto node = load_node(st, user, name);
            if (!node) {
                if (!add_to_index(st, user, name, max_nodes_)) {
                    c.too_many = true;
                    return c;
                }
                node = Node{name, pep::bookmarks_config(), {}};
            }
            std::unordered_set<std::string> listed;
            for (auto& [jid, conf] : rooms) {
                listed.insert(jid);
                const auto* old = node->find(jid);
                // What older clients cannot see stays (XEP-0402 <extensions/>).
                if (old)
                    if (const auto* ext = old->payload.child("extensions", pep::kBookmarksNode))
                        conf.add_child(*ext);
                if (old && old->payload.to_string() == conf.to_string()) continue;
                pep::Item item{jid, datetime::now_us(), std::move(conf)};
                node->publish(item, max_items_);
                c.published.push_back(std::move(item));
            }
            for (const auto& i : node->items)
                if (!listed.contains(i.id)) c.retracted.push_back(i.id);
            for (const auto& id : c.retracted) node->retract(id);
            st.xml_store(kTable).set(user, name, pep::serialize(*node));
            c.node = std::move(*node);
            return c;
        });
        if (ch.too_many) {
            iq.error(StanzaErrorCondition::resource_constraint,
                     "this account has pep.max_nodes nodes already");
            co_return;
        }
        iq.reply();
        for (const auto& item : ch.published)
            co_await notify(iq.host, user, ch.node, items_event(name, item));
        for (const auto& id : ch.retracted)
            co_await notify(iq.host, user, ch.node, retract_event(name, id));
    }

    // ---- access and audience ------------------------------------------------------

    // XEP-0060 §4.5 / §6.5.9 for `viewer` on `user`'s node; with `iq`, a refusal is
    // answered there.
    awaitable<bool> allowed(Host& host, const std::string& user, const NodeConfig& c,
                            const Jid& viewer, IqRequest* iq) {
        if (viewer.domain() == host.domain && viewer.local() == user) co_return true;
        if (c.access == "open") co_return !host.im->blocks(user, viewer);
        if (c.access == "presence") {
            if (co_await host.im->may_see_presence(user, viewer)) co_return true;
            if (iq)
                fail(*iq, StanzaErrorCondition::not_authorized, "presence-subscription-required",
                     "the node is for those who see the account's presence");
            co_return false;
        }
        if (c.access == "roster") {
            if (co_await host.im->in_roster_groups(user, viewer, c.groups)) co_return true;
            if (iq)
                fail(*iq, StanzaErrorCondition::not_authorized, "not-in-roster-group",
                     "the node is for some roster groups only");
            co_return false;
        }
        if (iq)
            fail(*iq, StanzaErrorCondition::not_allowed, "closed-node",
                 "the node is for its owner only");
        co_return false;
    }

    // Whether the resource whose current presence is `presence` wants `node`'s events.
    bool wants(const std::shared_ptr<const std::string>& presence, const std::string& node) {
        if (!presence) return false;
        auto p = xml::parse_stanza(*presence, ns::client);
        if (!p) return false;
        auto c = caps_of(*p);
        if (!c) return false;
        auto f = known(c->second);
        return f && f->contains(node + "+notify");
    }

    // Sends `event_child` (in pubsub#event) from `user`'s bare JID to every resource that
    // may see the node and wants it: the owner's own and the local contacts' who see
    // the owner's presence (RFC 6121 'from' or 'both', shared groups) for every access
    // model but whitelist.
    awaitable<void> notify(Host& host, const std::string& user, const Node& node,
                           xml::Element event_child) {
        auto& server = *server_;
        const std::string owner_bare = user + "@" + host.domain;
        std::vector<std::string> targets;
        for (const auto& r : server.registry->resources(owner_bare))
            if (r.state.available && wants(r.state.presence, node.name))
                targets.push_back(owner_bare + "/" + r.resource);
        if (node.config.access != "whitelist") {
            for (const auto& contact : host.im->presence_contacts(user, true)) {
                const std::string bare = contact + "@" + host.domain;
                std::vector<std::string> theirs;
                for (const auto& r : server.registry->resources(bare))
                    if (r.state.available && wants(r.state.presence, node.name))
                        theirs.push_back(bare + "/" + r.resource);
                if (theirs.empty()) continue;
                auto viewer = Jid::parse(bare);
                if (!viewer || !co_await allowed(host, user, node.config, *viewer, nullptr))
                    continue;
                targets.insert(targets.end(), theirs.begin(), theirs.end());
            }
        }
        xml::Element msg("message", ns::client);
        msg.set_attr("from", owner_bare).set_attr("type", "headline");
        msg.add_child("event", std::string(ns::pubsub_event)).add_child(std::move(event_child));
        for (const auto& to : targets) {
            xml::Element m = msg;
            m.set_attr("to", to).set_attr("id", crypto::random_token(12));
            server.router->route(std::move(m));
        }
    }

    // ---- capabilities and the last items ------------------------------------------

    FeaturesPtr known(const std::string& ver) {
        std::lock_guard lock(mu_);
        auto it = caps_.find(ver);
        return it == caps_.end() ? nullptr : it->second;
    }

    void remember(const std::string& ver, FeaturesPtr f) {
        std::lock_guard lock(mu_);
        if (caps_.emplace(ver, std::move(f)).second) caps_order_.push_back(ver);
        while (caps_order_.size() > max_caps_) {
            caps_.erase(caps_order_.front());
            caps_order_.pop_front();
        }
    }

    // A local resource's broadcast presence, before the IM core takes it: on its initial
    // presence or a change of capabilities, the last items it wants (XEP-0163 §4.3.2,
    // XEP-0060 "on_sub_and_presence").
    HookResult presence(const StanzaEvent& ev) {
        if (!ev.session || !ev.host || !ev.stanza.attr("to").empty() ||
            !ev.stanza.attr("type").empty())
            return HookResult::pass;
        auto now = caps_of(ev.stanza);
        if (!now) return HookResult::pass;
        if (auto before = ev.server.registry->state(ev.from, ev.session);
            before && before->available && before->presence) {
            auto old = xml::parse_stanza(*before->presence, ns::client);
            if (old && caps_of(*old) == now) return HookResult::pass;
        }
        if (auto f = known(now->second)) {
            spawn_last_items(*ev.host, ev.session->shared_from_this(), std::move(f));
            return HookResult::pass;
        }
        const auto* c = ev.stanza.child("c", ns::caps);
        query_caps(ev.server, *ev.host, ev.session->shared_from_this(),
                   std::string(c->attr("node")), now->first, now->second);
        return HookResult::pass;
    }

    struct Query {
        std::string hash, ver;
        Host* host;
        std::weak_ptr<c2s::ClientSession> session;
    };

    void query_caps(ServerContext& server, Host& host, std::shared_ptr<c2s::ClientSession> s,
                    const std::string& node, const std::string& hash, const std::string& ver) {
        const std::string id = std::string(kCapsPrefix) + crypto::random_token(16);
        {
            std::lock_guard lock(mu_);
            queries_.emplace(id, Query{hash, ver, &host, s});
            query_order_.push_back(id);
            while (query_order_.size() > kMaxPendingQueries) {
                queries_.erase(query_order_.front());
                query_order_.pop_front();
            }
        }
        xml::Element iq("iq", ns::client);
        iq.set_attr("type", "get")
            .set_attr("from", host.domain)
            .set_attr("to", s->jid().str())
            .set_attr("id", id);
        iq.add_child("query", std::string(ns::disco_info)).set_attr("node", node + "#" + ver);
        server.router->route(std::move(iq));
    }

    // XEP-0115 §6.2: the disco#info answer; remembered by 'ver' only when it checks out
    // (§5.4), and used for the resource that was asked either way.
    HookResult caps_answer(const StanzaEvent& ev) {
        const std::string_view id = ev.stanza.attr("id");
        if (!id.starts_with(kCapsPrefix)) return HookResult::pass;
        Query q;
        {
            std::lock_guard lock(mu_);
            auto it = queries_.find(std::string(id));
            if (it == queries_.end()) return HookResult::pass;
            q = it->second;
            queries_.erase(it);
        }
        auto s = q.session.lock();
        if (!s || s->jid().str() != ev.from.str()) return HookResult::handled;
        const auto* query = ev.stanza.child("query", ns::disco_info);
        if (ev.stanza.attr("type") != "result" || !query) return HookResult::handled;
        auto f = std::make_shared<Features>();
        for (const auto* c : query->children())
            if (c->is("feature", ns::disco_info)) f->emplace(c->attr("var"));
        if (caps::ver(*query, q.hash) == q.ver)
            remember(q.ver, f);
        else
            spdlog::debug("capabilities of {} do not match their ver {}", ev.from.str(), q.ver);
        spawn_last_items(*q.host, std::move(s), std::move(f));
        return HookResult::handled;
    }

    // The last items a resource wants, of its own account and of every local contact
    // whose presence it sees.
    void spawn_last_items(Host& host, std::shared_ptr<c2s::ClientSession> s, FeaturesPtr f) {
        const Jid viewer = s->jid();
        std::vector<std::string> owners = host.im->presence_contacts(viewer.local(), false);
        owners.insert(owners.begin(), viewer.local());
        spawn_logged(s->executor(), last_items(host, viewer, std::move(f), std::move(owners)),
                     "PEP last items");
    }

    // `watcher` now sees `user`'s presence: the last items of `user`'s nodes to each of
    // the watcher's available resources that wants them.
    void newly_shared(Host& host, const std::string& user, const std::string& watcher) {
        const auto& io = server_->io_executors;
        if (io.empty()) return;
        for (const auto& r : server_->registry->resources(watcher + "@" + host.domain)) {
            if (!r.state.available || !r.state.presence) continue;
            auto p = xml::parse_stanza(*r.state.presence, ns::client);
            auto c = p ? caps_of(*p) : std::nullopt;
            auto f = c ? known(c->second) : nullptr;
            if (!f) continue;  // capabilities not known yet: its caps answer sends them
            auto viewer = Jid::make(watcher, host.domain, r.resource);
            if (!viewer) continue;
            const auto& ex = io[std::hash<std::string>{}(viewer->str()) % io.size()];
            spawn_logged(ex, last_items(host, *viewer, std::move(f), {user}), "PEP last items");
        }
    }

    // The last item of each node the resource `viewer` wants, of each of `owners`, where
    // the node's access model lets it.
    awaitable<void> last_items(Host& host, Jid viewer, FeaturesPtr features,
                               std::vector<std::string> owners) {
        std::vector<std::string> nodes;
        for (const auto& f : *features)
            if (f.ends_with("+notify")) nodes.push_back(f.substr(0, f.size() - 7));
        if (nodes.empty()) co_return;
        auto& st = *host.storage;
        auto found = co_await st.run([&st, owners, nodes] {
            std::vector<std::pair<std::string, Node>> out;
            for (const auto& o : owners)
                for (const auto& n : nodes)
                    if (auto node = load_node(st, o, n);
                        node && !node->items.empty() && node->config.send_last != "never")
                        out.emplace_back(o, std::move(*node));
            return out;
        });
        for (const auto& [owner, node] : found) {
            if (!co_await allowed(host, owner, node.config, viewer, nullptr)) continue;
            const auto& last = node.items.back();
            xml::Element m("message", ns::client);
            m.set_attr("from", owner + "@" + host.domain)
                .set_attr("to", viewer.str())
                .set_attr("type", "headline")
                .set_attr("id", crypto::random_token(12));
            m.add_child("event", std::string(ns::pubsub_event))
                .add_child(items_event(node.name, last));
            auto& delay = m.add_child("delay", std::string(ns::delay));
            delay.set_attr("from", host.domain);
            delay.set_attr("stamp", datetime::format_us(last.stamp_us));
            server_->router->route(std::move(m));
        }
    }

    ServerContext* server_ = nullptr;
    std::size_t max_nodes_ = 100, max_items_ = 1000, max_item_size_ = 262144, max_caps_ = 10000;
    std::mutex mu_;
    std::unordered_map<std::string, FeaturesPtr> caps_;
    std::deque<std::string> caps_order_;
    std::unordered_map<std::string, Query> queries_;
    std::deque<std::string> query_order_;
};

}  // namespace

std::unique_ptr<Module> make_pep_module() {
    return std::make_unique<PepModule>();
}

}  // namespace hongyan::modules
