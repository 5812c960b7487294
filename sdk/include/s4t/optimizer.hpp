#pragma once
// Option groups every method shares: the test-time optimizer and the normalisation modes. A method
// declares them with its own defaults and users override them in [method.<name>].
#include <string>
#include <utility>
#include <vector>

#include "s4t/export.hpp"
#include "s4t/norm.hpp"
#include "s4t/option_binding.hpp"

namespace s4t {

struct S4T_API OptimizerSpec {
  std::string name = "sgd";   ///< "sgd" or "adam"
  double lr = 1e-3;
  double momentum = 0.0;      ///< sgd
  bool nesterov = false;      ///< sgd
  double weight_decay = 0.0;
  double beta1 = 0.9;         ///< adam
  double beta2 = 0.999;       ///< adam
};

/// Keys optimizer, lr, momentum, nesterov, weight_decay, beta1, beta2 with `d` as defaults.
inline Binding<OptimizerSpec> optimizer_binding(const OptimizerSpec& d) {
  return Binding<OptimizerSpec>()
      .text("optimizer", &OptimizerSpec::name, d.name, "test-time optimizer", {"sgd", "adam"})
      .real("lr", &OptimizerSpec::lr, d.lr, "test-time learning rate", 0.0)
      .real("momentum", &OptimizerSpec::momentum, d.momentum, "SGD momentum", 0.0, 1.0)
      .flag("nesterov", &OptimizerSpec::nesterov, d.nesterov, "SGD Nesterov momentum")
      .real("weight_decay", &OptimizerSpec::weight_decay, d.weight_decay, "L2 weight decay", 0.0)
      .real("beta1", &OptimizerSpec::beta1, d.beta1, "Adam beta1", 0.0, 1.0)
      .real("beta2", &OptimizerSpec::beta2, d.beta2, "Adam beta2", 0.0, 1.0);
}

/// Normalisation behaviour while adapting and while predicting after a step.
struct S4T_API NormModes {
  NormMode adapt = NormMode::TrainUpdate;
  NormMode predict = NormMode::Eval;
};

/// The norm-mode choices ("train_update", "train_frozen", "eval") mapped to NormMode.
inline std::vector<std::pair<std::string, NormMode>> norm_mode_choices() {
  return {{"train_update", NormMode::TrainUpdate}, {"train_frozen", NormMode::TrainFrozen}, {"eval", NormMode::Eval}};
}

/// Keys adapt_norm and predict_norm with `d` as defaults.
inline Binding<NormModes> norm_modes_binding(const NormModes& d) {
  return Binding<NormModes>()
      .choice("adapt_norm", &NormModes::adapt, to_string(d.adapt), norm_mode_choices(), "BatchNorm during adaptation")
      .choice("predict_norm", &NormModes::predict, to_string(d.predict), norm_mode_choices(),
              "BatchNorm when predicting");
}

}  // namespace s4t
