#pragma once
// TTT++ (Liu et al., NeurIPS 2021) on the shared multi-task network (docs/methods.md#tttpp): a SimCLR
// head trained jointly with the tasks, source feature moments collected after source training, and at
// test time contrastive learning on two augmented views plus CORAL/mean alignment of the target
// features (encoder and head) to the source moments, with a FIFO queue of past target features.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "s4t/context.hpp"
#include "s4t/method.hpp"
#include "s4t/norm.hpp"
#include "s4t/optimizer.hpp"
#include "simclr_views.hpp"

namespace s4t::tttpp {

enum class LossMode { Both, Ssl, Align };

/// Options of [method.tttpp]; keys and defaults in tttpp_plugin.cpp.
struct Settings {
  double weight;
  bool fused;  // input = "fused"; attach() falls back to the last stage when there is no fused map
  std::int64_t grid, hidden, proj_dim;
  double temperature, base_temperature;
  LossMode loss;
  bool align_encoder, align_head;
  double scale_ext, scale_ssh, mean_factor;
  std::int64_t queue_size;
  bool queue_reset;
  std::int64_t reference_chunks;
  ViewSettings views;
  bool adapt_head;
  NormModes norm;
  OptimizerSpec optimizer;
};

/// SimCLR head Linear(in, hidden)–ReLU–Linear(hidden, proj) plus the source moments as buffers.
class TTTPPModuleImpl : public torch::nn::Module {
 public:
  TTTPPModuleImpl(std::int64_t head_in, std::int64_t hidden, std::int64_t proj, std::int64_t enc_dim);
  /// Unnormalised head output.
  at::Tensor head(const at::Tensor& x);

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  at::Tensor enc_mean, enc_cov, head_mean, head_cov;
  at::Tensor enc_coral_ref, enc_mean_ref, head_coral_ref, head_mean_ref, source_samples;
};
TORCH_MODULE(TTTPPModule);

struct Embedding {
  at::Tensor encoder;  // N × C: globally pooled feature map (aligned to the source moments)
  at::Tensor head;     // N × P: unnormalised head output
};

class TTTPlusPlus final : public TTTMethod {
 public:
  TTTPlusPlus(const BuildContext& ctx, Settings s);

  void attach(MultiTaskModel& model) override;
  std::shared_ptr<torch::nn::Module> module() override { return module_.ptr(); }
  at::Tensor source_objective(MultiTaskModel& model, const Batch& batch, const ModelOutput& output,
                              const std::map<std::string, at::Tensor>& main_losses) override;
  /// Source moments of the encoder and head features (network in eval mode, no gradient), and the mean
  /// discrepancy of source chunks of (queue_size + batch) samples to them, in one pass over the stream.
  void after_source_training(MultiTaskModel& model, BatchStream& source) override;
  AdaptationPolicy adaptation_policy(MultiTaskModel& model) override;
  void begin_adaptation(MultiTaskModel& model) override;
  at::Tensor adaptation_loss(MultiTaskModel& model, const at::Tensor& images, const AdaptContext& ctx) override;

 private:
  const at::Tensor& feature_map(const Features& f) const { return s_.fused ? f.fused : f.stages.back(); }
  Embedding embed(MultiTaskModel& model, const at::Tensor& images);
  /// SimCLR / NT-Xent (SupConLoss without labels): two augmented views of every image; each of the 2N
  /// anchors has its other view as the positive and the other 2N − 2 embeddings as negatives; the loss is
  /// scaled by temperature / base_temperature as in the original.
  at::Tensor contrastive_loss(MultiTaskModel& model, const at::Tensor& images);
  /// CORAL + mean alignment of the clean batch's features (with the queue of past target features) to the
  /// source moments, normalised by the source reference discrepancies.
  at::Tensor alignment_loss(MultiTaskModel& model, const at::Tensor& images, const AdaptContext& ctx);
  void enqueue(at::Tensor& queue, const at::Tensor& features) const;

  Settings s_;
  TTTPPModule module_{nullptr};
  bool stats_ready_ = false;
  at::Tensor queue_e_, queue_h_, pending_e_, pending_h_;
  std::int64_t current_batch_ = -1;
};

}  // namespace s4t::tttpp
