// The modules compiled into hongyand. Adding a feature: a folder under modules/, a
// make_*_module() factory declared here, and one line in module_list.cpp.
#pragma once

#include <memory>

#include "server/modules/module.hpp"

namespace hongyan::modules {

std::unique_ptr<Module> make_ping_module();
std::unique_ptr<Module> make_version_module();
std::unique_ptr<Module> make_disco_module();
std::unique_ptr<Module> make_register_module();
std::unique_ptr<Module> make_legacy_session_module();
std::unique_ptr<Module> make_time_module();
std::unique_ptr<Module> make_last_module();
std::unique_ptr<Module> make_roster_module();
std::unique_ptr<Module> make_blocking_module();
std::unique_ptr<Module> make_offline_module();
std::unique_ptr<Module> make_vcard_module();
std::unique_ptr<Module> make_private_module();
std::unique_ptr<Module> make_search_module();
std::unique_ptr<Module> make_adhoc_module();

}  // namespace hongyan::modules
