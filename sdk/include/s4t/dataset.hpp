#pragma once
// Dataset plugin interface. A dataset declares its tasks (with class names for classification, in the
// shared label space of the source/target pair) and returns normalised samples.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "s4t/batch.hpp"
#include "s4t/export.hpp"
#include "s4t/task.hpp"

namespace s4t {

/// Threads: get() is called concurrently from the host's loader threads and must be thread-safe.
/// Device: samples are CPU tensors; the host moves batches to the device.
class S4T_API Dataset {
 public:
  virtual ~Dataset();
  virtual std::int64_t size() const = 0;
  /// Sample `index` in [0, size()). Throws DataError naming the file and what was expected.
  virtual Sample get(std::int64_t index) const = 0;
  /// Tasks with labels, in the order the dataset prefers.
  virtual std::vector<TaskSpec> tasks() const = 0;
  /// (H, W) of the images get() returns, or {0, 0} if it varies.
  virtual std::array<std::int64_t, 2> image_size() const = 0;
  /// One line for logs, e.g. "synthetic target domain, 256 images 64x64".
  virtual std::string describe() const;
};

}  // namespace s4t
