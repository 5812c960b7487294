#pragma once
// Building the real dataset plugins through the host's registry, as a run does.
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "host_registry.hpp"
#include "s4t/context.hpp"
#include "s4t/dataset.hpp"
#include "s4t/error.hpp"

namespace s4t::test {

inline std::shared_ptr<Dataset> make_real_dataset(const std::string& name, const std::string& role,
                                                  const std::map<std::string, Value>& options,
                                                  const std::vector<std::string>& tasks = {}, std::uint64_t seed = 0) {
  DatasetContext ctx;
  ctx.role = role;
  ctx.tasks = tasks;
  ctx.seed = seed;
  return plugin_registry().make_dataset(name, ctx, component_options(ComponentKind::Dataset, name, options));
}

/// The message of the s4t::DataError `f` throws ("" when it throws nothing; other exceptions propagate).
template <typename F>
std::string data_error_of(F&& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline bool same_sample(const Sample& a, const Sample& b) {
  if (!a.image.equal(b.image) || a.targets.size() != b.targets.size()) return false;
  for (auto& [k, v] : a.targets)
    if (!b.targets.count(k) || !v.equal(b.targets.at(k)) || !a.masks.at(k).equal(b.masks.at(k))) return false;
  return true;
}

}  // namespace s4t::test
