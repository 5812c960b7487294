#pragma once
// How normalisation layers (BatchNorm) behave during adaptation and prediction.
#include <string>

#include "s4t/export.hpp"

namespace torch::nn { class Module; }

namespace s4t {

enum class NormMode {
  TrainUpdate,   ///< batch statistics, running statistics updated (momentum as built)
  TrainFrozen,   ///< batch statistics, running statistics left unchanged
  Eval           ///< running (source) statistics
};

S4T_API std::string to_string(NormMode mode);
S4T_API NormMode norm_mode_from_string(const std::string& text);  ///< throws ConfigError

/// Applies `mode` to every BatchNorm layer under `root` (other modules keep their train/eval state).
/// TrainFrozen sets momentum 0 so running statistics stay as they are; the momentum set at build
/// time is restored by the other modes.
S4T_API void apply_norm_mode(torch::nn::Module& root, NormMode mode);

}  // namespace s4t
