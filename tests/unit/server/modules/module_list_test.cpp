// The module list (src/server/modules/modules.cmake) is the one place a module is declared:
// its name, its configuration keys and the choices of modules.disabled all come from it.
#include <gtest/gtest.h>

#include <set>

#include "server/config/config.hpp"
#include "server/modules/module.hpp"

using namespace hongyan;

TEST(ModuleList, NamesAreUniqueAndAreTheChoicesOfModulesDisabled) {
    std::vector<std::string_view> names;
    for (const auto& m : modules::all_modules()) names.push_back(m->name());
    EXPECT_EQ(std::set<std::string_view>(names.begin(), names.end()).size(), names.size());
    const auto* disabled = config::find_key("modules.disabled");
    ASSERT_NE(disabled, nullptr);
    EXPECT_EQ(disabled->choices, names);
}

TEST(ModuleList, EveryModuleKeyIsNamedAfterItsModuleAndInTheSchema) {
    std::size_t module_keys = 0;
    for (const auto& m : modules::all_modules())
        for (const auto& k : m->config_keys()) {
            ++module_keys;
            EXPECT_EQ(k.key.substr(0, m->name().size() + 1), std::string(m->name()) + ".") << k.key;
            const auto* found = config::find_key(k.key);
            ASSERT_NE(found, nullptr) << k.key;
            EXPECT_EQ(found->doc, k.doc);
        }
    EXPECT_GT(module_keys, 0u);
    // A module's key works like a core key: defaults, overrides, range checks.
    config::Config cfg;
    EXPECT_EQ(cfg.integer("offline.max_messages"), 1000);
    EXPECT_THROW(cfg.set_from_string("blocking.max_items", "0"), config::ConfigError);
}
