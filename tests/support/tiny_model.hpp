#pragma once
// A real but tiny multi-task model for method tests: the first-party `resnet` backbone (ResNet-18,
// width 8 by default) with `conv1x1` heads on the four standard tasks, composed by the host exactly as
// in a run, with a method plugin attached. Plus random batches with valid targets.
#include <memory>
#include <string>
#include <vector>

#include "engine/composite_model.hpp"
#include "plugins/component_registry.hpp"
#include "s4t/batch.hpp"

namespace s4t::test {

/// Registry with every plugin of the build (loaded once per process).
const host::ComponentRegistry& build_registry();

struct TinyModelOptions {
  std::int64_t resnet_depth = 18;
  std::int64_t resnet_width = 8;
  std::array<std::int64_t, 2> train_size{32, 32};
  std::vector<std::string> semseg_classes{"a", "b", "c"};
  /// Overrides of the method's defaults, e.g. {{"lr", Value(0.1)}}.
  std::map<std::string, Value> method_options;
};

struct TinyModel {
  std::shared_ptr<host::CompositeModel> model;
  std::shared_ptr<TTTMethod> method;
  std::vector<TaskSpec> tasks;
};

/// Builds the model and attaches `method_name` (its factory gets defaults + `method_options`).
TinyModel make_tiny_model(const std::string& method_name, const TinyModelOptions& options = {});

/// Options of a component with its schema defaults and the given overrides.
Options component_options(ComponentKind kind, const std::string& name, const std::map<std::string, Value>& overrides = {});

/// A batch of `n` random images with random, valid targets for `tasks` (seeded).
Batch random_batch(const std::vector<TaskSpec>& tasks, std::int64_t n, std::array<std::int64_t, 2> size,
                   std::uint64_t seed = 0);

/// A BatchStream over a fixed list of batches (for after_source_training).
class VectorBatchStream final : public BatchStream {
 public:
  explicit VectorBatchStream(std::vector<Batch> batches) : batches_(std::move(batches)) {}
  bool next(Batch& out) override;
  void restart() override { position_ = 0; }
  std::int64_t batches_per_epoch() const override { return static_cast<std::int64_t>(batches_.size()); }

 private:
  std::vector<Batch> batches_;
  std::size_t position_ = 0;
};

}  // namespace s4t::test
