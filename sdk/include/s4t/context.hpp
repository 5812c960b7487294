#pragma once
// What a component factory is told about the experiment it is built for.
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "s4t/export.hpp"
#include "s4t/task.hpp"

namespace s4t {

/// Passed to backbone, head and method factories.
struct S4T_API BuildContext {
  std::vector<TaskSpec> tasks;                  ///< tasks of the model, in output order
  std::array<std::int64_t, 2> train_size{0, 0}; ///< (H, W) of source training images
  at::Device device = at::Device(at::kCPU);
  std::filesystem::path config_dir;             ///< folder of the experiment file (resolve relative paths here)
  std::uint64_t seed = 0;
};

/// Passed to dataset factories.
struct S4T_API DatasetContext {
  std::string role;                             ///< "source" or "target"
  std::vector<std::string> tasks;               ///< tasks the experiment asks for (empty = all the dataset has)
  std::filesystem::path config_dir;
  std::uint64_t seed = 0;
};

}  // namespace s4t
