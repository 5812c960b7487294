#pragma once
// Inside the kit only: the host registry behind a Plugins object.
#include <filesystem>
#include <vector>

#include "plugins/component_registry.hpp"
#include "s4t_testkit/testkit.hpp"

namespace s4t::testkit {

struct Plugins::Impl {
  std::vector<std::filesystem::path> path;
  const host::ComponentRegistry* registry = nullptr;

  /// registry->get(), with the search path and the refused files added to the message.
  const host::RegisteredComponent& component(ComponentKind kind, const std::string& name) const;
};

struct PluginsAccess {
  static const host::ComponentRegistry& registry(const Plugins& plugins) { return *plugins.impl_->registry; }
  static const host::RegisteredComponent& component(const Plugins& plugins, ComponentKind kind, const std::string& name) {
    return plugins.impl_->component(kind, name);
  }
};

}  // namespace s4t::testkit
