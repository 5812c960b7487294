#include "host_registry.hpp"

#include "plugins/plugin_loader.hpp"
#include "test_support.hpp"

namespace s4t::test {

const host::ComponentRegistry& plugin_registry() {
  static const host::ComponentRegistry registry = [] {
    host::ComponentRegistry r;
    host::load_plugin_dirs({plugin_dir()}, r);
    return r;
  }();
  return registry;
}

Options component_options(ComponentKind kind, const std::string& name, const std::map<std::string, Value>& overrides) {
  auto& c = plugin_registry().get(kind, name);
  auto o = Options::defaults(c.info.schema, name);
  for (auto& [k, v] : overrides) o.set(k, v);
  return o;
}

}  // namespace s4t::test
