#pragma once
// The Task Behavior Synchronizer (Jeong et al., ICCV 2025; docs/methods.md#s4t): a small MAE-style ViT
// that predicts every task's output from a randomly masked token grid of the stacked task latents.
// Parameter names follow MAE / timm (patch_embed.proj, blocks.<i>.attn.qkv, mask_token, decoder_pred ...),
// so a Python checkpoint of the same network maps onto it by name.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <cstdint>
#include <memory>

namespace s4t::tbs {

/// Shape of the TBS. Defaults are the paper's (256×256 input, 16×16 patches, width 64, 4 + 2 blocks).
struct TbsOptions {
  std::int64_t in_channels = 256;    ///< T · latent channels
  std::int64_t out_channels = 12;    ///< Σ_t K_t
  std::int64_t input_res = 256;      ///< latents are resized to input_res × input_res
  std::int64_t patch = 16;           ///< kernel = stride of the patch embedding
  std::int64_t dim = 64;             ///< encoder width
  std::int64_t decoder_dim = 0;      ///< decoder width (0 = dim)
  std::int64_t depth = 4;            ///< encoder blocks
  std::int64_t decoder_depth = 2;    ///< decoder blocks
  std::int64_t heads = 4;            ///< attention heads of the encoder
  std::int64_t decoder_heads = 0;    ///< attention heads of the decoder (0 = heads)
  double mlp_ratio = 4.0;            ///< MLP hidden width = int(width · mlp_ratio), encoder and decoder
  double mask_ratio = 0.8;           ///< fraction of tokens removed on every forward pass
  bool fold_embedding = true;        ///< resize + patch embedding as one convolution where exact
};

/// Multi-head self-attention with a fused qkv projection (bias on) and an output projection.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(std::int64_t dim, std::int64_t heads);
  at::Tensor forward(const at::Tensor& x);  ///< B×N×D → B×N×D

 private:
  std::int64_t heads_;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};

/// Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)); LayerNorm eps 1e-6, GELU.
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(std::int64_t dim, std::int64_t heads, std::int64_t hidden);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  std::shared_ptr<AttentionImpl> attn;
  std::shared_ptr<torch::nn::Module> mlp;  // holds fc1, fc2 (timm's names)
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};

/// The TBS. forward(): B×in_channels×h×w (any h, w) → B×out_channels×input_res×input_res, with a fresh
/// random mask (torch RNG) on every call, in training and evaluation alike.
class TaskBehaviorSynchronizerImpl : public torch::nn::Module {
 public:
  explicit TaskBehaviorSynchronizerImpl(const TbsOptions& options);
  at::Tensor forward(const at::Tensor& latents);

  const TbsOptions& options() const { return options_; }
  std::int64_t decoder_dim() const { return options_.decoder_dim > 0 ? options_.decoder_dim : options_.dim; }
  std::int64_t decoder_heads() const { return options_.decoder_heads > 0 ? options_.decoder_heads : options_.heads; }
  std::int64_t tokens() const { return grid_ * grid_; }
  std::int64_t visible_tokens() const { return visible_; }

 private:
  void reset_parameters();

  TbsOptions options_;
  std::int64_t grid_ = 0, visible_ = 0;
  std::shared_ptr<torch::nn::Module> patch_embed;  // holds `proj`
  torch::nn::Conv2d proj{nullptr};
  at::Tensor pos_embed, decoder_pos_embed, mask_token;
  torch::nn::ModuleList blocks{nullptr}, decoder_blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr}, decoder_norm{nullptr};
  torch::nn::Linear decoder_embed{nullptr}, decoder_pred{nullptr};
};

}  // namespace s4t::tbs
