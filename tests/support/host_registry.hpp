#pragma once
// For tests of the host's internals: the host's registry with every plugin of the build.
#include <map>
#include <string>

#include "plugins/component_registry.hpp"

namespace s4t::test {

/// Registry with the plugins of test::plugin_dir() (loaded once per process).
const host::ComponentRegistry& plugin_registry();

/// Options of a registered component: its schema defaults with the given overrides.
Options component_options(ComponentKind kind, const std::string& name, const std::map<std::string, Value>& overrides = {});

}  // namespace s4t::test
