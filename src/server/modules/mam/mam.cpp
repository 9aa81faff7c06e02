// XEP-0313 Message Archive Management, being built (issue #10). So far the module brings
// the archive's tables (storage::archive_migrations(); the store is
// storage::ArchiveStore on both backends). Archiving delivered messages with a stanza-id
// (XEP-0359) and answering queries come next.
#include "server/modules/module.hpp"
#include "server/storage/archive_store.hpp"

namespace hongyan::modules {

namespace {
class MamModule final : public Module {
  public:
    std::string_view name() const override { return "mam"; }
    std::vector<ProtocolSupport> protocols() const override {
        return {{"XEP-0313", "Message Archive Management", "1.1.3", "planned",
                 "the archive store exists on both backends (issue #10); archiving and "
                 "queries are next"}};
    }
    std::vector<std::string> migrations(std::string_view backend) const override {
        return storage::archive_migrations(backend);
    }
    void start(ModuleContext&) override {}
};
}  // namespace

std::unique_ptr<Module> make_mam_module() {
    return std::make_unique<MamModule>();
}

}  // namespace hongyan::modules
