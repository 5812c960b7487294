#include "s4t/batch.hpp"

#include <ATen/ops/stack.h>

#include "s4t/error.hpp"

namespace s4t {

BatchStream::~BatchStream() = default;

Batch Batch::to(const at::Device& device, bool non_blocking) const {
  Batch b;
  b.indices = indices;
  b.images = images.to(device, non_blocking);
  for (auto& [k, v] : targets) b.targets[k] = v.to(device, non_blocking);
  for (auto& [k, v] : masks) b.masks[k] = v.to(device, non_blocking);
  return b;
}

Batch collate(const std::vector<Sample>& samples, const std::vector<std::int64_t>& indices) {
  if (samples.empty()) throw DataError("collate: no samples");
  Batch b;
  b.indices = indices;
  std::vector<at::Tensor> images;
  for (auto& s : samples) {
    if (!s.image.sizes().equals(samples.front().image.sizes()))
      throw DataError("collate: samples have different image sizes; resize them to one size (test-time resize option)");
    images.push_back(s.image);
  }
  b.images = at::stack(images);
  for (auto& [task, first] : samples.front().targets) {
    std::vector<at::Tensor> t, m;
    for (auto& s : samples) {
      auto it = s.targets.find(task);
      auto mt = s.masks.find(task);
      if (it == s.targets.end() || mt == s.masks.end())
        throw DataError("collate: a sample lacks the target or mask of task '" + task + "'");
      t.push_back(it->second);
      m.push_back(mt->second);
    }
    b.targets[task] = at::stack(t);
    b.masks[task] = at::stack(m);
  }
  return b;
}

}  // namespace s4t
