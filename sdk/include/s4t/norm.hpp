#pragma once
// How normalisation layers (BatchNorm) behave during adaptation and prediction.
#include <memory>
#include <string>
#include <vector>

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
/// The TOML spellings of the modes, in enum order: "train_update", "train_frozen", "eval".
S4T_API std::vector<std::string> norm_mode_names();

/// The BatchNorm layers (1d/2d/3d) under one module, with the momentum each was built with, so that
/// TrainFrozen (momentum 0: running statistics unchanged) can be undone. The object owns that memory:
/// nothing is kept in global state. Build it once the model is complete and before any mode is applied
/// (a method: in attach()), since it records the momentum it finds as the built one.
class S4T_API NormLayers {
 public:
  explicit NormLayers(torch::nn::Module& root);
  ~NormLayers();
  NormLayers(NormLayers&&) noexcept;
  NormLayers& operator=(NormLayers&&) noexcept;

  /// Sets every layer's train/eval flag and momentum for `mode` (other modules are not touched).
  void apply(NormMode mode);
  std::size_t size() const;

 private:
  struct Layer;
  std::vector<Layer> layers_;
};

}  // namespace s4t
