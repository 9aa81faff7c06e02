// SQLite implementations of the IM stores (schema in account_store.cpp's migrations).
#pragma once

#include "server/storage/blocklist_store.hpp"
#include "server/storage/directory_store.hpp"
#include "server/storage/offline_store.hpp"
#include "server/storage/roster_store.hpp"
#include "server/storage/sqlite/database.hpp"
#include "server/storage/xml_store.hpp"

namespace hongyan::storage::sqlite {

class SqliteRosterStore final : public RosterStore {
  public:
    explicit SqliteRosterStore(Database& db) : db_(db) {}
    std::vector<RosterItem> load(const std::string& user) override;
    void put(const std::string& user, const RosterItem& item) override;
    void forget_removed(const std::string& user, std::int64_t ver) override;
    std::int64_t forgotten_below(const std::string& user) override;
    std::vector<std::string> remove_contact(const std::string& jid) override;

  private:
    Database& db_;
};

class SqliteOfflineStore final : public OfflineStore {
  public:
    explicit SqliteOfflineStore(Database& db) : db_(db) {}
    std::size_t count(const std::string& user) override;
    bool add(const std::string& user, const std::string& stanza, std::size_t limit,
             std::size_t max_bytes) override;
    std::vector<OfflineMessage> load(const std::string& user) override;
    std::vector<OfflineMessage> load_after(const std::string& user, std::int64_t after_id,
                                           std::size_t limit) override;
    void remove(const std::string& user, const std::vector<std::int64_t>& ids) override;

  private:
    Database& db_;
};

class SqliteBlocklistStore final : public BlocklistStore {
  public:
    explicit SqliteBlocklistStore(Database& db) : db_(db) {}
    std::vector<std::string> load(const std::string& user) override;
    void add(const std::string& user, const std::vector<std::string>& jids) override;
    void remove(const std::string& user, const std::vector<std::string>& jids) override;

  private:
    Database& db_;
};

// One table per use: "vcards" or "private_xml".
class SqliteXmlStore final : public XmlStore {
  public:
    SqliteXmlStore(Database& db, std::string table) : db_(db), table_(std::move(table)) {}
    std::vector<std::pair<std::string, std::string>> all(const std::string& key) override;
    std::optional<std::string> get(const std::string& user, const std::string& key) override;
    void set(const std::string& user, const std::string& key, const std::string& xml) override;

  private:
    Database& db_;
    std::string table_;
};

class SqliteDirectoryStore final : public DirectoryStore {
  public:
    explicit SqliteDirectoryStore(Database& db) : db_(db) {}
    std::vector<SharedGroup> groups() override;
    bool create_group(const std::string& name, const std::string& display) override;
    bool delete_group(const std::string& name) override;
    bool add_member(const std::string& group, const std::string& user) override;
    bool remove_member(const std::string& group, const std::string& user) override;
    std::vector<DirectoryEvent> events_since(std::int64_t seq, std::size_t limit) override;
    std::int64_t last_event() override;
    void note_roster_changed(const std::string& user) override;
    void prune_events(std::size_t keep) override;
    std::optional<LastActivity> last_activity(const std::string& user) override;
    void set_last_activity(const std::string& user, const LastActivity& a) override;
    std::vector<std::string> search(const std::string& needle, std::size_t limit) override;

  private:
    Database& db_;
};

}  // namespace hongyan::storage::sqlite
