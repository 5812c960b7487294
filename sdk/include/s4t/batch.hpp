#pragma once
// Samples and batches. Images are float NCHW (normalised by the dataset); each task has a target and
// a boolean validity mask of shape N×1×H×W (N×H×W for classification targets, which are int64 with
// the task's ignore index where invalid).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "s4t/export.hpp"

namespace s4t {

/// One example: image 3×H×W, per-task target (C×H×W float, or H×W int64 for classes) and mask (1×H×W bool).
struct S4T_API Sample {
  at::Tensor image;
  std::map<std::string, at::Tensor> targets;
  std::map<std::string, at::Tensor> masks;
};

/// A stacked batch of samples, on one device.
struct S4T_API Batch {
  at::Tensor images;                          ///< N×3×H×W float
  std::map<std::string, at::Tensor> targets;  ///< per task, stacked
  std::map<std::string, at::Tensor> masks;    ///< per task, N×1×H×W bool
  std::vector<std::int64_t> indices;          ///< dataset indices of the samples

  std::int64_t size() const { return images.defined() ? images.size(0) : 0; }
  /// Copy to `device` (non_blocking when the source is pinned).
  Batch to(const at::Device& device, bool non_blocking = false) const;
};

/// Stack samples into a batch. All samples must have the same image size and tasks.
S4T_API Batch collate(const std::vector<Sample>& samples, const std::vector<std::int64_t>& indices);

/// A stream of batches (used by methods that gather source statistics or train a module after source
/// training). Not thread-safe; the host owns the data pipeline behind it.
class S4T_API BatchStream {
 public:
  virtual ~BatchStream();
  /// Fills `out` with the next batch, on the model's device; false at the end of an epoch.
  virtual bool next(Batch& out) = 0;
  /// Starts a new epoch (a new shuffle when the stream shuffles).
  virtual void restart() = 0;
  /// Number of batches in one epoch.
  virtual std::int64_t batches_per_epoch() const = 0;
};

}  // namespace s4t
