#pragma once
// Task descriptions. A dataset declares the tasks it has labels for; the model builds one head per
// task; losses and metrics are chosen by the spec, so a dataset can add a new task by reusing them.
#include <cstdint>
#include <string>
#include <vector>

#include "s4t/export.hpp"

namespace s4t {

enum class TaskKind { Classification, Regression };
/// Supervised loss of docs/methods.md#task-losses.
enum class LossKind {
  CrossEntropy,     ///< per-pixel CE, ignore label, mean over valid pixels
  L1,               ///< L1 over valid pixels, mean over valid pixels (summed over channels)
  NormalL1,         ///< L2-normalise the prediction over channels, then L1 (sum over channels, mean over valid pixels)
  BalancedBCE       ///< class-balanced BCE on logits with a fixed positive weight
};
/// Evaluation metric of docs/methods.md#metrics.
enum class MetricKind {
  MeanIoU,          ///< confusion-matrix mIoU over the classes (higher is better)
  Rmse,             ///< plain RMSE over valid pixels of the whole set
  AlignedRmse,      ///< per-batch least-squares scale/shift alignment, then RMSE (S4T's depth/edge metric)
  AngularError      ///< mean angle in degrees between unit normals
};
/// What is applied to the raw head output before the metric.
enum class Activation { None, Sigmoid, Softmax };

/// One task of the multi-task network.
struct S4T_API TaskSpec {
  std::string name;                  ///< "semseg", "depth", "normals", "edge", or a dataset's own name
  TaskKind kind = TaskKind::Regression;
  std::int64_t channels = 1;         ///< output channels: classes K for classification, C for regression
  LossKind loss = LossKind::L1;
  MetricKind metric = MetricKind::Rmse;
  Activation activation = Activation::None;  ///< applied to the output before the metric
  bool higher_is_better = false;     ///< direction of the metric
  double loss_weight = 1.0;          ///< w_t of docs/methods.md#task-losses
  double positive_weight = 0.95;     ///< BalancedBCE only
  std::int64_t ignore_index = 255;   ///< classification label to ignore
  bool clamp_nonnegative = false;    ///< clamp the prediction at 0 before the metric (depth)
  std::vector<std::string> class_names;  ///< classification only
  std::string unit;                  ///< e.g. "m", "deg", "" — for tables

  /// Short metric label for tables, e.g. "mIoU", "RMSE", "mErr".
  std::string metric_label() const;
};

/// The four standard tasks with the paper's defaults (weights 1, 1, 10, 50).
S4T_API TaskSpec semseg_task(std::vector<std::string> class_names);
S4T_API TaskSpec depth_task();
S4T_API TaskSpec normals_task();
S4T_API TaskSpec edge_task();

S4T_API std::string to_string(TaskKind kind);
S4T_API std::string to_string(LossKind kind);
S4T_API std::string to_string(MetricKind kind);

}  // namespace s4t
