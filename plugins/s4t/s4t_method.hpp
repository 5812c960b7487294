#pragma once
// The S4T method (Jeong et al., ICCV 2025; docs/methods.md#s4t): task latents, auxiliary latent heads
// and the TBS as one module registered as "method" in the model, the source objective (main +
// λ^TP·aux + λ^TBS·TBS, or uncertainty-style automatic weighting) and the test-time loss
// λ^TBS·Σ_t c_t·L1(TBS_t, sg(main_t)) with fixed c_t, or the released code's fresh uncertainty weighting
// of the λ^TBS·L1_t terms (ttt_weighting = "uncertainty").
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "s4t/method.hpp"
#include "s4t/option_binding.hpp"
#include "s4t/optimizer.hpp"
#include "tbs.hpp"

namespace s4t::s4t_method {

/// Options of the method, read once from the validated Options (cheap; no model needed).
struct S4TSettings {
  std::int64_t tbs_input_res, patch_size, embed_dim, depth, decoder_depth, heads;
  std::int64_t decoder_embed_dim, decoder_heads;  // 0 = embed_dim / heads
  double mlp_ratio;
  std::int64_t latent_channels;
  double mask_ratio;
  bool fold_embedding;
  bool per_stage_projection;  // latent_projection = "per_stage"
  double lambda_tp, lambda_tbs_source, lambda_tbs;
  bool auto_weight, double_task_weight;
  std::vector<double> ttt_task_weights;  // c_t in task order; empty = from the tasks' loss weights
  bool ttt_uncertainty;                  // ttt_weighting = "uncertainty"
  bool released_normals_loss;            // normals_loss = "released_cosine_width" (source objective)
  std::string single_task;
  std::vector<std::string> adapt;
  OptimizerSpec optimizer;
};

/// The options of [method.s4t] (schema and reader, with the cross-checks of the TBS sizes).
const Binding<S4TSettings>& s4t_binding();
/// ComponentInfo::doc of the method.
const char* s4t_doc();

/// Everything S4T adds to the network. Children: `ts_comp` (shared 1×1 conv on the fused map) or
/// `ts_proj.<task>` (per-task 1×1 convs on per-task features), `aux_heads.<task>`, `tbs`, and the
/// parameter `auto_weight_sigma` (one σ_t per task) when automatic weighting is on, and `ttt_sigma` (one σ_t
/// per task, reset to 1 at every begin_adaptation) with ttt_weighting = "uncertainty".
class S4TModuleImpl : public torch::nn::Module {
 public:
  S4TModuleImpl(const S4TSettings& settings, const std::vector<TaskSpec>& tasks, const FeatureInfo& info);

  /// Per-task latents z_t (N×latent×h×w), in task order.
  std::vector<at::Tensor> latents(const Features& features);
  /// Auxiliary predictions ỹ_t from the latents, resized to `size`.
  std::map<std::string, at::Tensor> aux_predictions(const std::vector<at::Tensor>& latents,
                                                    std::array<std::int64_t, 2> size);
  /// TBS predictions y̆_t (fresh random mask), resized to `size`. With `only` ≥ 0 the other tasks'
  /// latents are zeroed at the TBS input.
  std::vector<at::Tensor> tbs_predictions(const std::vector<at::Tensor>& latents, std::array<std::int64_t, 2> size,
                                          int only = -1);

  bool per_task_latents() const { return per_task_; }
  const at::Tensor& sigma() const { return sigma_; }
  /// σ_t of the test-time uncertainty weighting (undefined unless ttt_weighting = "uncertainty").
  const at::Tensor& ttt_sigma() const { return ttt_sigma_; }
  tbs::TaskBehaviorSynchronizerImpl& tbs_module() { return *tbs_; }

 private:
  std::vector<std::string> task_names_;
  std::vector<std::int64_t> task_channels_;
  std::int64_t latent_ = 64;
  bool per_stage_ = true;    // latent_projection = "per_stage"
  int fused_is_stages_ = -1;  // whether the fused map is the resized stages: -1 = not seen yet
  bool per_task_ = false;
  torch::nn::Conv2d ts_comp{nullptr};
  std::vector<torch::nn::Conv2d> ts_proj_, aux_;
  std::shared_ptr<tbs::TaskBehaviorSynchronizerImpl> tbs_;
  at::Tensor sigma_, ttt_sigma_;
};

class S4TMethod final : public TTTMethod {
 public:
  explicit S4TMethod(S4TSettings settings) : settings_(std::move(settings)) {}

  void attach(MultiTaskModel& model) override;
  std::shared_ptr<torch::nn::Module> module() override { return module_; }
  at::Tensor source_objective(MultiTaskModel& model, const Batch& batch, const ModelOutput& output,
                              const std::map<std::string, at::Tensor>& main_losses) override;
  AdaptationPolicy adaptation_policy(MultiTaskModel& model) override;
  void begin_adaptation(MultiTaskModel& model) override;
  at::Tensor adaptation_loss(MultiTaskModel& model, const at::Tensor& images, const AdaptContext& context) override;
  std::map<std::string, at::Tensor> task_latents(MultiTaskModel& model, const at::Tensor& images) override;

 private:
  S4TModuleImpl& checked_module() const;

  S4TSettings settings_;
  std::shared_ptr<S4TModuleImpl> module_;
  int single_ = -1;  // index of single_task in the model's tasks, or -1
  std::vector<double> ttt_weights_;  // c_t per task, fixed at attach()
};

}  // namespace s4t::s4t_method
