#pragma once
// Optimizer settings that methods declare as defaults and users override in [method.<name>].
#include <string>

#include "s4t/export.hpp"
#include "s4t/options.hpp"

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

/// Adds optimizer, lr, momentum, nesterov, weight_decay keys with `defaults` to a schema.
S4T_API void add_optimizer_options(Schema& schema, const OptimizerSpec& defaults);
/// Reads the keys added by add_optimizer_options.
S4T_API OptimizerSpec optimizer_from(const Options& options);

}  // namespace s4t
