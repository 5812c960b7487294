#include "s4t/task.hpp"

namespace s4t {

std::string TaskSpec::metric_label() const {
  switch (metric) {
    case MetricKind::MeanIoU: return "mIoU";
    case MetricKind::Rmse: return "RMSE";
    case MetricKind::AlignedRmse: return "RMSE";
    case MetricKind::AngularError: return "mErr";
  }
  return "?";
}

TaskSpec semseg_task(std::vector<std::string> class_names) {
  TaskSpec t;
  t.name = "semseg";
  t.kind = TaskKind::Classification;
  t.channels = static_cast<std::int64_t>(class_names.size());
  t.loss = LossKind::CrossEntropy;
  t.metric = MetricKind::MeanIoU;
  t.activation = Activation::Softmax;
  t.higher_is_better = true;
  t.loss_weight = 1.0;
  t.class_names = std::move(class_names);
  t.unit = "%";
  return t;
}

TaskSpec depth_task() {
  TaskSpec t;
  t.name = "depth";
  t.channels = 1;
  t.loss = LossKind::L1;
  t.metric = MetricKind::AlignedRmse;
  t.loss_weight = 1.0;
  t.clamp_nonnegative = true;
  t.unit = "m";
  return t;
}

TaskSpec normals_task() {
  TaskSpec t;
  t.name = "normals";
  t.channels = 3;
  t.loss = LossKind::NormalL1;
  t.metric = MetricKind::AngularError;
  t.loss_weight = 10.0;
  t.unit = "deg";
  return t;
}

TaskSpec edge_task() {
  TaskSpec t;
  t.name = "edge";
  t.channels = 1;
  t.loss = LossKind::BalancedBCE;
  t.metric = MetricKind::AlignedRmse;
  t.activation = Activation::Sigmoid;
  t.loss_weight = 50.0;
  t.positive_weight = 0.95;
  return t;
}

std::string to_string(TaskKind kind) { return kind == TaskKind::Classification ? "classification" : "regression"; }
std::string to_string(LossKind kind) {
  switch (kind) {
    case LossKind::CrossEntropy: return "cross_entropy";
    case LossKind::L1: return "l1";
    case LossKind::NormalL1: return "normal_l1";
    case LossKind::BalancedBCE: return "balanced_bce";
  }
  return "?";
}
std::string to_string(MetricKind kind) {
  switch (kind) {
    case MetricKind::MeanIoU: return "miou";
    case MetricKind::Rmse: return "rmse";
    case MetricKind::AlignedRmse: return "aligned_rmse";
    case MetricKind::AngularError: return "angular_error";
  }
  return "?";
}

}  // namespace s4t
