#pragma once
// Supervised task losses of docs/methods.md#task-losses, shared by the host (main outputs) and methods (auxiliary
// outputs). All return a 0-dim tensor on the prediction's device and never synchronise with the host.
#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "s4t/batch.hpp"
#include "s4t/export.hpp"
#include "s4t/task.hpp"

namespace s4t {

/// Loss of one task's raw prediction (N×K×H×W) against the batch's target and mask for that task.
/// A batch without a single valid pixel gives 0 (with a graph to the prediction).
S4T_API at::Tensor task_loss(const TaskSpec& task, const at::Tensor& prediction, const Batch& batch);

/// task_loss for every task of `tasks` present in `predictions`, keyed by task name (unweighted).
S4T_API std::map<std::string, at::Tensor> task_losses(const std::vector<TaskSpec>& tasks,
                                                      const std::map<std::string, at::Tensor>& predictions,
                                                      const Batch& batch);

/// Σ_t w_t · losses[t] over the tasks present in `losses` (keys not naming a task use the weight of the
/// task before '@', for deep-supervision terms like "depth@ds2").
S4T_API at::Tensor weighted_sum(const std::vector<TaskSpec>& tasks, const std::map<std::string, at::Tensor>& losses);

}  // namespace s4t
