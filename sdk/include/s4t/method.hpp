#pragma once
// TTT method plugin interface (the "TTT loss"). The host owns loops, optimizers and metrics; a method
// adds its own modules, an auxiliary source-time objective, optional post-training statistics, and the
// unsupervised test-time loss, and says which parameters adapt and how normalisation layers behave.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "s4t/batch.hpp"
#include "s4t/export.hpp"
#include "s4t/model.hpp"
#include "s4t/norm.hpp"
#include "s4t/optimizer.hpp"

namespace torch::nn { class Module; }

namespace s4t {

/// What adapts at test time and how.
struct S4T_API AdaptationPolicy {
  /// A parameter of MultiTaskModel::root() is optimised when this returns true for its full name.
  /// Parameters not selected are frozen (requires_grad = false) during adaptation.
  std::function<bool(const std::string& name)> selects;
  NormMode adapt_norm = NormMode::TrainUpdate;    ///< normalisation during the adaptation forward pass
  NormMode predict_norm = NormMode::Eval;         ///< normalisation when predicting after a step
  OptimizerSpec optimizer;                        ///< test-time optimizer
};

/// Where in the adaptation loop the host is.
struct S4T_API AdaptContext {
  std::int64_t step = 1;         ///< 1-based step on the current batch
  std::int64_t batch_index = 0;  ///< 0-based target batch
};

/// What the host needs to know about a method before building it. Declared once, at registration:
/// s4t::add_method<M>() (registrar.hpp) derives both from which virtual functions M overrides.
struct S4T_API MethodTraits {
  bool source_objective = false;  ///< overrides source_objective(): trains its own source checkpoint
  bool post_training = false;     ///< overrides after_source_training(): runs after source training
};

/// Device: tensors passed in are on MultiTaskModel::device(); modules are moved there by the host.
/// Threads: called from the host's main loop thread only.
class S4T_API TTTMethod {
 public:
  virtual ~TTTMethod();

  /// Called once after the model is built and before weights are loaded: build modules here.
  virtual void attach(MultiTaskModel& model);
  /// Module holding this method's parameters and buffers (registered as "method" in the model), or null.
  virtual std::shared_ptr<torch::nn::Module> module();

  /// Total source loss. Overriding it is what makes a method change source training (MethodTraits:
  /// the host then trains a source checkpoint of its own for it). `main_losses` are the unweighted supervised losses of the main outputs per
  /// task (plus "<task>@ds<k>" deep-supervision terms when the architecture has them). The default
  /// returns Σ_t w_t · L_t.
  virtual at::Tensor source_objective(MultiTaskModel& model, const Batch& batch, const ModelOutput& output,
                                      const std::map<std::string, at::Tensor>& main_losses);

  /// Runs after source training (only for methods that override it, see MethodTraits): collect source statistics or train a module. The host calls it with
  /// root() in eval mode and gradients enabled; the method sets any other mode it needs.
  virtual void after_source_training(MultiTaskModel& model, BatchStream& source);

  /// Which parameters adapt, normalisation behaviour and optimizer.
  virtual AdaptationPolicy adaptation_policy(MultiTaskModel& model) = 0;
  /// Called at the start of adaptation (after weights are restored for a new episode).
  virtual void begin_adaptation(MultiTaskModel& model);
  /// The unsupervised test-time loss on a target batch (no labels). An undefined tensor means
  /// "no update" (the `none` method).
  virtual at::Tensor adaptation_loss(MultiTaskModel& model, const at::Tensor& images,
                                     const AdaptContext& context) = 0;

  /// Per-task latent maps for the task-affinity analysis (supplement §C), each N×C×h×w with the same
  /// C×h×w for every task. The default returns the backbone's per-task features (empty when it has
  /// none); S4T returns its 64-channel task latents.
  virtual std::map<std::string, at::Tensor> task_latents(MultiTaskModel& model, const at::Tensor& images);
};

}  // namespace s4t
