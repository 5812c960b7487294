#pragma once
// The one test-time adaptation step of s4t: reset to the source weights, one optimisation step of the
// method's unsupervised loss behind a divergence guard, and prediction. `s4t adapt`, `eval`, `bench` and
// `compare` run it, and so does every method test (through the test kit, s4t_testkit/testkit.hpp), so a
// test exercises exactly what a run does. Includes only SDK headers: the test kit installs it.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "s4t/method.hpp"
#include "s4t/model.hpp"
#include "s4t/norm.hpp"

namespace torch::optim { class Optimizer; }

namespace s4t::host {

/// How forward passes compute ([run] precision and memory_format; engine/compute_mode.hpp parses them).
struct ComputeMode {
  /// bf16: forward passes under autocast to bfloat16 on the model's device; weights, optimizer state,
  /// losses, the guard and the predictions handed out stay fp32.
  bool bf16 = false;
  /// channels_last: the model's 4-D weights and the images in NHWC (convolutions pick NHWC kernels).
  bool channels_last = false;
};

struct SessionOptions {
  /// Undo a step whose loss, gradients or updated weights are non-finite, or whose update explodes.
  bool guard_nonfinite = true;
  /// A step is undone as diverged when it changes the adapted parameters by more than this factor of
  /// their norm (finite but exploding updates, e.g. lr = 1e30); 0 = no limit.
  double max_relative_update = 1e3;
  /// Names the method in error messages: "method 's4t' (/path/s4t.so)".
  std::string method_label = "method";
  /// Names the backbone and heads in errors of prediction: "backbone 'resnet' (/path/resnet.so)".
  std::string model_label = "the model";
  /// Normalisation when predicting, instead of the policy's (evaluation of a source model: Eval).
  std::optional<NormMode> predict_norm;
  /// Precision and memory format of step(), predict() and latents(); channels_last converts the model's
  /// 4-D weights once, in the constructor.
  ComputeMode compute;
  /// true: step() reads the loss and the guard's decision at once (three host syncs per step) and fills
  /// in StepOutcome. false (deferred): the guard decides on the device and keeps or undoes the step with
  /// selects, nothing is read; StepOutcome has ran and deferred set, and flush() (or updates(),
  /// diverged_steps()) reads what the pending steps did, in one sync.
  bool sync_each_step = true;
};

/// What one call of step() did.
struct StepOutcome {
  bool ran = false;        ///< the method returned a loss (false: `none`, nothing happened)
  bool updated = false;    ///< the optimizer step was kept
  bool diverged = false;   ///< undone by the guard: non-finite loss, gradients or weights, or an exploding update
  double loss = 0.0;       ///< the test-time loss before the update (NaN when it was not finite)
  /// Deferred mode: updated, diverged and loss are not read yet (see AdaptationSession::flush()).
  bool deferred = false;
};

/// What a deferred step did, as flush() reads it.
struct StepRecord {
  double loss = 0.0;      ///< the test-time loss (NaN when it was not finite)
  bool updated = false;   ///< kept
  bool diverged = false;  ///< undone by the guard
};

class AdaptationSession {
 public:
  /// Takes the adaptation policy from the method, freezes what it does not select, snapshots every
  /// parameter and buffer of model.root() as the source state and builds the optimizer.
  AdaptationSession(MultiTaskModel& model, TTTMethod& method, SessionOptions options = {});
  ~AdaptationSession();
  AdaptationSession(const AdaptationSession&) = delete;
  AdaptationSession& operator=(const AdaptationSession&) = delete;

  /// Restores the source state, rebuilds the optimizer and calls the method's begin_adaptation().
  void reset();
  /// Calls begin_adaptation() without restoring (the start of an online stream).
  void begin();
  /// One step on a target batch (images only: no labels reach the method).
  StepOutcome step(const at::Tensor& images, const AdaptContext& context);
  /// Deferred mode: the records of the steps since the last flush, in order, read with one host sync
  /// (updates() and diverged_steps() count them as soon as either reads them). Empty in the synced mode.
  std::vector<StepRecord> flush();
  /// Predictions as the host evaluates them: no grad, root().eval(), the policy's predict_norm.
  std::map<std::string, at::Tensor> predict(const at::Tensor& images);
  /// The method's task latents in prediction mode (the task-affinity analysis).
  std::map<std::string, at::Tensor> latents(const at::Tensor& images);

  const AdaptationPolicy& policy() const { return policy_; }
  /// Full names of the adapted parameters, in root() order.
  const std::vector<std::string>& adapted_names() const { return adapted_names_; }
  const std::vector<at::Tensor>& adapted_parameters() const { return params_; }
  /// Kept and undone steps so far (deferred mode: reads pending steps first, one host sync).
  std::int64_t updates() const;
  std::int64_t diverged_steps() const;
  const SessionOptions& options() const { return options_; }
  double step_seconds() const { return step_seconds_; }
  double predict_seconds() const { return predict_seconds_; }
  std::int64_t predict_calls() const { return predict_calls_; }

 private:
  void rebuild_optimizer();
  void undo(const std::vector<at::Tensor>& saved_buffers, const std::vector<at::Tensor>* saved_params);
  void backward_checked(const at::Tensor& loss, const AdaptContext& context);
  StepOutcome step_deferred(const at::Tensor& loss, const AdaptContext& context, std::vector<at::Tensor> saved_buffers);
  at::Tensor compute_loss(const at::Tensor& images, const AdaptContext& context);

  MultiTaskModel& model_;
  TTTMethod& method_;
  SessionOptions options_;
  AdaptationPolicy policy_;
  NormLayers norm_layers_;
  std::vector<std::string> adapted_names_;
  std::vector<at::Tensor> params_;
  std::vector<std::pair<at::Tensor, at::Tensor>> source_state_;  // live tensor, saved source copy
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  void read_pending() const;
  // Deferred steps: their loss and kept flag as device scalars until read, then records until flushed.
  mutable std::vector<at::Tensor> pending_loss_, pending_kept_;
  mutable std::vector<StepRecord> unread_records_;
  mutable std::int64_t updates_ = 0, diverged_ = 0;
  std::int64_t predict_calls_ = 0;
  double step_seconds_ = 0.0, predict_seconds_ = 0.0;
};

}  // namespace s4t::host
