# The modules compiled into hongyand, in start order: the one place a module is listed.
# Each name is a folder src/server/modules/<name>/ whose .cpp files are compiled and which
# defines hongyan::modules::make_<name>_module(); Module::name() returns the same name, the
# one modules.disabled takes. CMakeLists.txt generates module_list.cpp from this list.
set(HONGYAN_MODULES
  disco
  ping
  version
  time
  last
  roster
  presence
  offline
  blocking
  carbons
  mam
  push
  pep
  vcard
  private
  search
  adhoc
  register
  legacy_session
)
