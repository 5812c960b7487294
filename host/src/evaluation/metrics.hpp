#pragma once
// Evaluation metrics of docs/methods.md#metrics. Accumulators keep their sums on the prediction's
// device, so update() never synchronises; value() and all_reduce() do (call them once at the end).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>


#include "s4t/task.hpp"

namespace s4t {

class Collectives;

/// Accumulates one task's metric over a whole evaluation set.
class MetricAccumulator {
 public:
  virtual ~MetricAccumulator();
  /// `prediction`: raw head output N×K×H×W. `target`, `mask`: as in Batch for this task.
  virtual void update(const at::Tensor& prediction, const at::Tensor& target, const at::Tensor& mask) = 0;
  /// The metric over everything seen (NaN when nothing valid was seen).
  virtual double value() const = 0;
  virtual void reset() = 0;
  /// Adds another accumulator's state of the same kind (e.g. from another thread or shard).
  virtual void merge(const MetricAccumulator& other) = 0;
  /// A fresh, empty accumulator of the same kind.
  virtual std::unique_ptr<MetricAccumulator> clone_empty() const = 0;

  /// One of the sums an accumulator keeps: the tensor (undefined while nothing was seen) and its shape.
  struct StateEntry {
    at::Tensor* tensor;
    std::vector<std::int64_t> shape;
  };
  /// The accumulator's sums, so they can be summed over data-parallel ranks. Shapes do not depend on
  /// what was seen (mIoU: K·K, RMSE and angular error: scalars).
  virtual std::vector<StateEntry> state() = 0;
  /// Replaces this accumulator's sums by their sum over all ranks (one blocking all-reduce; every rank
  /// calls it for the same accumulators in the same order, also a rank that saw nothing, which takes
  /// part with zeros). Afterwards the sums are float64 on the CPU and value() is the metric over every
  /// rank's samples; when no rank saw anything the accumulator is left empty (value() NaN). `device`:
  /// where the reduction buffer lives (a CUDA backend needs CUDA tensors).
  void all_reduce(Collectives& collectives, const at::Device& device = at::Device(at::kCPU));
};

/// The accumulator that `task.metric` names (activation applied as `task.activation` says).
std::unique_ptr<MetricAccumulator> make_metric(const TaskSpec& task);

/// Confusion-matrix mIoU: IoU_c = TP/(TP+FP+FN) (0 where the denominator is 0), mean over K classes.
class MeanIoU final : public MetricAccumulator {
 public:
  MeanIoU(std::int64_t classes, std::int64_t ignore_index);
  void update(const at::Tensor& prediction, const at::Tensor& target, const at::Tensor& mask) override;
  double value() const override;  ///< in percent
  void reset() override;
  void merge(const MetricAccumulator& other) override;
  std::unique_ptr<MetricAccumulator> clone_empty() const override;
  std::vector<StateEntry> state() override;
  /// K×K counts, rows = ground truth, columns = prediction.
  at::Tensor confusion() const { return confusion_; }
  /// Adds labelled class ids directly (predicted ids, N×H×W int64).
  void update_labels(const at::Tensor& predicted, const at::Tensor& target);

 private:
  std::int64_t classes_, ignore_index_;
  at::Tensor confusion_;
};

/// RMSE over all valid elements of the set. With `aligned`, each update() first fits s, b minimising
/// Σ (s·p + b − g)² over the batch's valid pixels (the S4T depth/edge metric).
class Rmse final : public MetricAccumulator {
 public:
  explicit Rmse(bool aligned, Activation activation = Activation::None, bool clamp_nonnegative = false);
  void update(const at::Tensor& prediction, const at::Tensor& target, const at::Tensor& mask) override;
  double value() const override;
  void reset() override;
  void merge(const MetricAccumulator& other) override;
  std::unique_ptr<MetricAccumulator> clone_empty() const override;
  std::vector<StateEntry> state() override;

 private:
  bool aligned_, clamp_;
  Activation activation_;
  at::Tensor squared_sum_, count_;
};

/// Mean angle (degrees) between L2-normalised predicted and ground-truth normals over valid pixels,
/// computed as 2·atan2(|p − g|, |p + g|) for stability.
class AngularError final : public MetricAccumulator {
 public:
  AngularError();
  void update(const at::Tensor& prediction, const at::Tensor& target, const at::Tensor& mask) override;
  double value() const override;
  void reset() override;
  void merge(const MetricAccumulator& other) override;
  std::unique_ptr<MetricAccumulator> clone_empty() const override;
  std::vector<StateEntry> state() override;

 private:
  at::Tensor angle_sum_, count_;
};

/// Each task's higher_is_better, in order (what delta_ttt takes).
std::vector<bool> higher_is_better(const std::vector<TaskSpec>& tasks);

/// Δ_TTT in percent: (100/T) Σ_t (−1)^{l_t} (M_t − M_base,t)/M_base,t, l_t = 1 when lower is better.
double delta_ttt(const std::vector<double>& base, const std::vector<double>& values,
                         const std::vector<bool>& higher_is_better);

/// Signed relative gain of one task in percent: (−1)^l (M − M_base)/M_base · 100.
double relative_gain(double base, double value, bool higher_is_better);

}  // namespace s4t
