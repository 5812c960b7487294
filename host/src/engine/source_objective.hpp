#pragma once
// The source-training objective of one batch: a forward pass, the supervised loss of every task's main
// output (and of deep-supervision outputs as "<task>@ds<k>"), and the method's source_objective over
// them. The trainer and the test kit both use it, so a method's source-time test runs what training runs.
#include <ATen/core/Tensor.h>

#include <map>
#include <string>

#include "s4t/batch.hpp"
#include "s4t/method.hpp"
#include "s4t/model.hpp"

namespace s4t::host {

struct SourceObjective {
  at::Tensor total;                             ///< what is minimised
  std::map<std::string, at::Tensor> main_losses;  ///< unweighted, per task (and deep-supervision term)
};

/// `model_label` / `method_label` name the components in errors; `where` (e.g. "at iteration 12") too.
SourceObjective source_objective(MultiTaskModel& model, TTTMethod& method, const Batch& batch,
                                 const std::string& model_label, const std::string& method_label,
                                 const std::string& where = {});

}  // namespace s4t::host
