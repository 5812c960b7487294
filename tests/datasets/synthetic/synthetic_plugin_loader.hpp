#pragma once
// Loads the `synthetic` dataset plugin through its entry point, without the host, and builds datasets
// from option overrides: shared by the synthetic dataset's test files.
#include "s4t_testkit/doctest.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "s4t/plugin.hpp"

namespace synthetic_test {

using I = std::int64_t;

/// Keeps what the plugin registers; the other kinds are not expected from this plugin.
class CapturingRegistrar final : public s4t::Registrar {
 public:
  void add_backbone(s4t::ComponentInfo info, s4t::BackboneFactory) override { unexpected.push_back(info.name); }
  void add_head(s4t::ComponentInfo info, s4t::HeadFactory) override { unexpected.push_back(info.name); }
  void add_method(s4t::ComponentInfo info, s4t::MethodTraits, s4t::MethodFactory) override {
    unexpected.push_back(info.name);
  }
  void add_dataset(s4t::ComponentInfo info, s4t::DatasetFactory factory) override {
    datasets.push_back(std::move(info));
    factories.push_back(std::move(factory));
  }
  std::vector<s4t::ComponentInfo> datasets;
  std::vector<s4t::DatasetFactory> factories;
  std::vector<std::string> unexpected;
};

struct LoadedPlugin {
  const s4t_plugin_descriptor* descriptor = nullptr;
  CapturingRegistrar registrar;
};

/// Loads synthetic.so once per process. It is never unloaded (LibTorch plugins must not be).
inline const LoadedPlugin& plugin() {
  static const LoadedPlugin loaded = [] {
    const char* dir = std::getenv("S4T_TEST_PLUGIN_DIR");
    if (!dir) throw std::runtime_error("S4T_TEST_PLUGIN_DIR is not set (run the test through ctest)");
    const std::string file = (std::filesystem::path(dir) / "synthetic.so").string();
    void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) throw std::runtime_error("cannot load " + file + ": " + dlerror());
    auto entry = reinterpret_cast<s4t_plugin_entry_fn>(dlsym(handle, S4T_PLUGIN_ENTRY_SYMBOL));
    if (!entry) throw std::runtime_error(file + " has no " S4T_PLUGIN_ENTRY_SYMBOL);
    LoadedPlugin p;
    p.descriptor = entry();
    p.descriptor->register_components(p.registrar);
    return p;
  }();
  return loaded;
}

inline const s4t::ComponentInfo& info() {
  REQUIRE(plugin().registrar.datasets.size() == 1);
  return plugin().registrar.datasets.front();
}

/// A dataset from the schema's defaults and `overrides` (each must pass the schema's check).
inline std::shared_ptr<s4t::Dataset> make(const std::map<std::string, s4t::Value>& overrides,
                                          const s4t::DatasetContext& ctx = {}) {
  s4t::Options options = s4t::Options::defaults(info().schema, "[data.test]");
  for (const auto& [key, value] : overrides) {
    REQUIRE_MESSAGE(info().schema.find(key) != nullptr, key);
    REQUIRE_MESSAGE(info().schema.find(key)->check(value).empty(), key);
    options.set(key, value);
  }
  return plugin().registrar.factories.front()(ctx, options);
}

/// Small images of one domain, for fast tests.
inline std::map<std::string, s4t::Value> small(const std::string& domain, I seed = 0) {
  return {{"domain", domain}, {"size", I{16}}, {"height", I{32}}, {"width", I{48}}, {"seed", seed}};
}

inline bool same_tensors(const std::map<std::string, at::Tensor>& a, const std::map<std::string, at::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [k, t] : a)
    if (!b.count(k) || !t.equal(b.at(k))) return false;
  return true;
}

inline bool same_sample(const s4t::Sample& a, const s4t::Sample& b) {
  return a.image.equal(b.image) && same_tensors(a.targets, b.targets) && same_tensors(a.masks, b.masks);
}

}  // namespace synthetic_test
