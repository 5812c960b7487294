#pragma once
// The s4t test kit: what a plugin test needs to run its component exactly as `s4t` does, on a model
// small enough for a 2-core CI. Installed with the SDK; CMake: s4t_add_plugin_test() (S4tTestkit.cmake).
//
//   s4t::testkit::Recipe r;
//   r.method = "flip_consistency";
//   r.method_options = {{"lr", s4t::Value(0.1)}};
//   s4t::testkit::TinyExperiment x(r);             // loads plugins, composes the model as a run does
//   auto batch = x.random_batch(2, /*seed=*/1);
//   auto& session = x.session();                    // the host's AdaptationSession, not a copy
//   auto outcome = session.step(batch.images, {1, 0});
//   CHECK(outcome.updated);
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "s4t/batch.hpp"
#include "s4t/context.hpp"
#include "s4t/method.hpp"
#include "s4t/model.hpp"
#include "s4t/norm.hpp"
#include "s4t/options.hpp"
#include "s4t/registrar.hpp"
#include "s4t/state_dict.hpp"
#include "s4t/task.hpp"
#include "s4t_host/adaptation_session.hpp"

namespace s4t::testkit {

/// The four standard tasks, semseg with `classes` classes (names "c0", "c1", ...).
std::vector<TaskSpec> standard_tasks(std::int64_t classes = 3);

/// The plugins on the kit's search path, loaded once per process and path (never unloaded). The path:
/// `extra`, then $S4T_TEST_PLUGIN_DIR and $S4T_PLUGIN_PATH (':'-separated), then the plugin folder of
/// the installed SDK (<libdir>/s4t/plugins, next to libs4t_testkit) or, for the kit of a build tree,
/// that build's plugin folder.
class Plugins {
 public:
  explicit Plugins(const std::vector<std::filesystem::path>& extra = {});
  const std::vector<std::filesystem::path>& search_path() const;
  /// Plugin files that were refused, with the host's reason.
  std::vector<std::pair<std::string, std::string>> failures() const;

  /// A registered component's description (the version as the host reports it). An unknown name
  /// throws ConfigError listing the valid names, the search path and the refused files.
  ComponentInfo info(ComponentKind kind, const std::string& name) const;
  /// The shared library that registered it.
  std::filesystem::path file(ComponentKind kind, const std::string& name) const;
  /// Method traits as registered (nothing is built to find them).
  MethodTraits method_traits(const std::string& method) const;
  /// Schema defaults with `overrides`; an unknown key or an invalid value throws ConfigError.
  Options options(ComponentKind kind, const std::string& name, const std::map<std::string, Value>& overrides = {}) const;
  /// The method alone, from its registered factory (factory checks, models of the test's own).
  std::shared_ptr<TTTMethod> make_method(const std::string& method, const std::map<std::string, Value>& overrides = {},
                                         const BuildContext& context = {}) const;

 private:
  friend struct PluginsAccess;  // the kit's own sources reach the host registry behind it
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

/// What to build. Defaults: ResNet-18 of width 8 with conv1x1 heads on the four standard tasks, 32x32.
struct Recipe {
  std::string backbone = "resnet";
  std::map<std::string, Value> backbone_options{{"depth", Value(std::int64_t{18})}, {"width", Value(std::int64_t{8})}};
  std::string head = "conv1x1";
  std::map<std::string, Value> head_options;
  std::string method = "none";
  std::map<std::string, Value> method_options;  ///< overrides of the method's schema defaults
  std::vector<TaskSpec> tasks = standard_tasks();
  std::array<std::int64_t, 2> image_size{32, 32};  ///< the training size (BuildContext::train_size)
  /// torch::manual_seed(seed) before building, as a run seeds before composing; also BuildContext::seed.
  std::uint64_t seed = 0;
  /// Where the model is built and random_batch() puts its tensors (BuildContext::device), e.g. at::kCUDA.
  at::Device device = at::Device(at::kCPU);
  /// The method's label in error messages is filled in from the registry when left at its default.
  host::SessionOptions session;
  /// Searched before $S4T_TEST_PLUGIN_DIR, $S4T_PLUGIN_PATH and the SDK's plugin folder.
  std::vector<std::filesystem::path> plugin_dirs;
};

/// A model composed by the host's own code (backbone factory, heads, method attached), with the real
/// adaptation session on top.
class TinyExperiment {
 public:
  explicit TinyExperiment(Recipe recipe = {});
  ~TinyExperiment();
  TinyExperiment(const TinyExperiment&) = delete;
  TinyExperiment& operator=(const TinyExperiment&) = delete;

  MultiTaskModel& model();
  /// model().root(), the module holding backbone, heads and method.
  torch::nn::Module& root();
  TTTMethod& method();
  std::shared_ptr<TTTMethod> method_ptr();
  /// The model's normalisation layers, recorded once after composing. Apply modes through this object:
  /// a NormLayers built later records the momentum it finds, and TrainFrozen leaves that at 0.
  NormLayers& norm_layers();
  const std::vector<TaskSpec>& tasks() const;
  const Recipe& recipe() const;
  const Plugins& plugins() const;
  /// Method traits as registered (nothing is built to find them).
  MethodTraits method_traits() const;
  /// Parameter counts "backbone", "heads", "method", "total".
  std::map<std::string, std::int64_t> parameter_counts() const;

  /// `n` random images with random valid targets for every task (seeded, drawn on the CPU, so the same on
  /// every device), on the recipe's device; size {0, 0} = the recipe's.
  Batch random_batch(std::int64_t n, std::uint64_t seed = 0, std::array<std::int64_t, 2> size = {0, 0}) const;
  /// The host trainer's objective on `batch` in train mode: supervised losses of the main outputs (plus
  /// "<task>@ds<k>" deep-supervision terms) passed to the method's source_objective. `main_losses`
  /// receives those terms. Drops the session and makes every parameter trainable, as in source training.
  at::Tensor source_loss(const Batch& batch, std::map<std::string, at::Tensor>* main_losses = nullptr);
  /// One source-training step on source_loss() with an Adam optimizer kept across calls; the loss.
  double source_step(const Batch& batch, double lr = 1e-3);
  /// The method's after_source_training on these batches, as the host runs it (root() in eval mode).
  void post_train(std::vector<Batch> batches);
  /// The host's adaptation session over the current weights, created on first use (with every layer's
  /// built momentum restored, then begin(): the start of a stream); reset_session() drops it so the next
  /// call snapshots the weights again.
  host::AdaptationSession& session();
  void reset_session();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// `n` random images of `size` with random valid targets for `tasks` (seeded; the global torch RNG is
/// not touched).
Batch random_batch(const std::vector<TaskSpec>& tasks, std::int64_t n, std::array<std::int64_t, 2> size,
                   std::uint64_t seed = 0);

/// Deep copies of every parameter and buffer of `module`.
StateDict clone_state(torch::nn::Module& module);
/// Names of parameters (buffers = false) or buffers (true) of `module` that differ from `before`.
std::set<std::string> changed(torch::nn::Module& module, const StateDict& before, bool buffers = false);

/// A BatchStream over a fixed list of batches.
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

}  // namespace s4t::testkit
